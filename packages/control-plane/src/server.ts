// Runs the control plane: store (embedded PostgreSQL unless databaseUrl), keys, policies, app, listen.
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { LOG_REDACT } from '@chaperone/core/log-redact';
import { controlPlaneLogger } from './request-log.js';
import { loadPolicyFiles, validateUniqueNames } from '@chaperone/core/policy/load';
import type { PolicyDoc } from '@chaperone/core/policy/types';
import { buildApp } from './app.js';
import { parseControlPlaneConfig, type ControlPlaneConfigInput } from './config.js';
import { KubernetesCredentialSource } from './credentials/kubernetes-source.js';
import { TokenRequestSource } from './credentials/token-request-source.js';
import { ChainedCredentialSource, FileCredentialSource, StaticCredentialSource, type CredentialSource, type UserPassword } from './credentials/source.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './embedded.js';
import { cpError } from './errors.js';
import { OidcApproverVerifier } from './approvals/oidc.js';
import { GrantAuthority } from './grants.js';
import { loadMaskKey } from './mask-key.js';
import { DevIssuer } from './identity/dev-issuer.js';
import { identityFromConfig } from './identity/from-config.js';
import { inClusterNamespace } from './identity/kube-config.js';
import type { TokenVerifier } from './identity/verifier.js';
import { createMetrics } from './metrics.js';
import { PolicyState, type ReloadResult } from './policies/state.js';
import { PostgresStore } from './store/postgres-store.js';

export interface RunOptions {
  /** In-memory documents added to the policy files (the local stack's `demo` Connection). */
  extraDocs?: readonly PolicyDoc[];
  /** Credentials added to config's static ones (secret name → username/password). */
  extraCredentials?: Record<string, UserPassword>;
  /** Verifies exchange tokens instead of what config.identity says. */
  verifier?: TokenVerifier;
  /** Progress lines for people, e.g. embedded PostgreSQL start-up; defaults to stderr. */
  progress?: (line: string) => void;
  /** Reload policies on SIGHUP while running (default true). */
  reloadOnSighup?: boolean;
}

export interface RunningControlPlane {
  url: string;
  app: FastifyInstance;
  reloadPolicies(): Promise<ReloadResult>;
  close(): Promise<void>;
}

export async function runControlPlane(input: ControlPlaneConfigInput, options: RunOptions = {}): Promise<RunningControlPlane> {
  const parsed = parseControlPlaneConfig(input);
  if (!parsed.ok) throw cpError('CONFIG_ERR_INVALID', `invalid control-plane configuration: ${parsed.error}`);
  const config = parsed.config;
  const cleanups: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
  };

  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const pg: EmbeddedPostgresHandle = await startEmbeddedPostgres({ dataDir: config.dataDir, progress: options.progress });
      cleanups.push(() => pg.stop());
      databaseUrl = pg.url;
    }
    const store = await PostgresStore.open(databaseUrl);
    cleanups.push(() => store.close());

    const grants = await GrantAuthority.create(store, config.grantTtl);
    const maskKey = await loadMaskKey(store, config);
    const devIssuer = config.devIssuer ? await DevIssuer.create(store) : undefined;
    const extraDocs = options.extraDocs ?? [];
    const extraConnectionNames = extraDocs.filter((d) => d.kind === 'Connection').map((d) => d.metadata.name);
    const policies = new PolicyState(async () => {
      const fromFiles = config.policyPaths.length > 0 ? await loadPolicyFiles(config.policyPaths, { extraConnectionNames }) : [];
      const all = [...extraDocs, ...fromFiles];
      validateUniqueNames(all);
      return all;
    });
    const loaded = await policies.reload();
    if (!loaded.ok) throw cpError('CONFIG_ERR_INVALID', `cannot load policies: ${loaded.error}`);
    cleanups.push(async () => policies.close());

    const identity = await identityFromConfig(config, devIssuer);
    const sources: CredentialSource[] = [
      new StaticCredentialSource({ ...config.credentials.static, ...options.extraCredentials }),
      ...config.credentials.files.map((f) => new FileCredentialSource(f)),
    ];
    if (config.credentials.kubernetes && identity.kube) {
      const log = pino({ level: config.logLevel, base: { component: 'kubernetes-credentials' }, redact: LOG_REDACT }, process.stderr);
      const kubeSecrets = new KubernetesCredentialSource(identity.kube, {
        namespace: config.credentials.kubernetes.namespace ?? inClusterNamespace() ?? 'default',
        onEvent: (e) => (e.type === 'watch-error' ? log.warn(e, 'Secret watch failed; retrying') : log.debug(e, 'Secret watch started')),
      });
      cleanups.push(() => kubeSecrets.close());
      sources.push(kubeSecrets);
    }
    // credentials.serviceAccount (kubernetes connections): TokenRequest with the control plane's own identity.
    if (identity.kube) sources.push(new TokenRequestSource(identity.kube));
    const credentials = new ChainedCredentialSource(sources);
    const https = config.tls
      ? { cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) }
      : undefined;

    const app = await buildApp({
      config,
      store,
      policies,
      credentials,
      grants,
      verifier: options.verifier ?? identity.verifier,
      ...(identity.podLabels ? { podLabels: identity.podLabels } : {}),
      devIssuer,
      metrics: createMetrics(),
      approvals: {
        ...(config.approvals.oidc ? { oidc: new OidcApproverVerifier(config.approvals.oidc) } : {}),
        ...(config.approvals.publicUrl ? { publicUrl: config.approvals.publicUrl } : {}),
        ...(config.approvals.notify ? { webhookUrl: config.approvals.notify.webhookUrl } : {}),
      },
      maskKey,
      // Logs go to stderr: stdout belongs to the CLI (`chaperone dev` prints its ready line there).
      logger: controlPlaneLogger(config.logLevel, process.stderr),
      https,
    });
    cleanups.push(() => app.close());
    await app.listen({ host: config.listen.host, port: config.listen.port });
    const address = app.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `${https ? 'https' : 'http'}://${host}:${address.port}`;

    if (options.reloadOnSighup !== false) {
      const onHup = (): void => {
        void policies.reload().then((r) => {
          if (r.ok) app.log.info({ documents: r.documents, changed: r.changed }, 'policies reloaded');
          else app.log.error({ error: r.error }, 'policy reload failed; keeping the previous policies');
        });
      };
      process.on('SIGHUP', onHup);
      cleanups.push(async () => { process.off('SIGHUP', onHup); });
    }

    let closing: Promise<void> | undefined;
    return { url, app, reloadPolicies: () => policies.reload(), close: () => (closing ??= closeAll()) };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
