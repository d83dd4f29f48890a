// The sidecar's Kubernetes API listeners: one KubeProxy per granted `kubernetes` Connection,
// kept in line with each bundle and credential, all serving one certificate from the sidecar's
// own CA, whose certificate is written for the agent containers (kube-ca-dir).
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Credential, ExchangeResponse } from '@chaperone/core/api';
import { ChaperoneError } from '@chaperone/core/errors';
import { compileKubePolicies } from '@chaperone/core/kube/decide';
import { loadShellParser } from '@chaperone/core/shell/analyze';
import { compileShellPolicy } from '@chaperone/core/shell/policy';
import type { CompiledShellPolicy } from '@chaperone/core/shell/policy';
import type { ConnectionDoc, KubernetesTarget, PolicyBundle } from '@chaperone/core/policy/types';
import type { ApprovalGate } from '../approvals/gate.js';
import { closeUngranted } from '../close-ungranted.js';
import type { SidecarMetrics } from '../metrics.js';
import type { Recorder } from '../recorder/recorder.js';
import { DEFAULT_KUBE_CA_DIR, generateLocalTls, writeCaBundle } from './local-ca.js';
import type { LocalTls } from './local-ca.js';
import { buildKubeMasks } from './masks.js';
import { createKubeObserver } from './observer.js';
import { KubeProxy } from './proxy.js';

export const SIDECAR_ERR_KUBE_LISTEN = 'SIDECAR_ERR_KUBE_LISTEN';

export interface KubeListenersOptions {
  listenHost: string;
  /** Port overrides by connection name (else the Connection's spec.listen.port). */
  ports: Record<string, number>;
  /** Where `ca.crt` goes; default the webhook's mount (DEFAULT_KUBE_CA_DIR) when it exists. */
  caDir: string | undefined;
  recorder: Recorder;
  metrics: SidecarMetrics;
  logger: Logger;
  /** The current exchange: identity and hash-mask key. */
  grant: () => ExchangeResponse | undefined;
  /** Re-exchange for fresh credentials (the sidecar's single-flight reexchange). */
  refresh: () => Promise<void>;
  approvals?: ApprovalGate;
}

export class KubeListeners {
  private readonly proxies = new Map<string, KubeProxy>();
  private tls: Promise<LocalTls> | undefined;

  constructor(private readonly o: KubeListenersOptions) {}

  /** The `kubernetes` connections of the bundle; returns whether one still waits for its credential. */
  async apply(bundle: PolicyBundle, wanted: readonly ConnectionDoc[], credentials: Record<string, Credential>, withCredentials: boolean, ports: Record<string, number>): Promise<boolean> {
    let needCredentials = false;
    const kube = wanted.filter((c) => c.spec.type === 'kubernetes');
    const key = Buffer.from(this.o.grant()?.maskKey ?? '', 'base64');
    for (const conn of kube) {
      const name = conn.metadata.name;
      const target = kubernetesTarget(conn);
      if (!target) {
        this.o.logger.error({ connection: name }, 'connection has no usable kubernetes target (server https://…); skipped');
        continue;
      }
      const given = credentials[name];
      const credential = given?.type === 'bearer' ? given : undefined;
      if (given !== undefined && credential === undefined) this.o.logger.error({ connection: name, credential: given.type }, 'kubernetes connection was given a credential that is not a bearer token; not listening');
      const policy = compileKubePolicies(bundle.policies, name);
      // Exec commands, attach and port-forward are decided by the connection's shell rules.
      const shell = compileShellPolicy(bundle.policies, name);
      const masks = buildKubeMasks(bundle.policies, name, key);
      const running = this.proxies.get(name);
      if (running) {
        running.update({ policy, shell, masks, target, ...(withCredentials && credential ? { credential } : {}) });
      } else if (credential) {
        ports[name] = await this.start(conn, target, policy, shell, masks, credential);
      } else {
        needCredentials = true;
      }
    }
    await closeUngranted(this.proxies, kube, ports, this.o.logger);
    return needCredentials;
  }

  async close(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    this.proxies.clear();
  }

  private async start(conn: ConnectionDoc, target: KubernetesTarget, policy: ReturnType<typeof compileKubePolicies>, shell: CompiledShellPolicy, masks: ReturnType<typeof buildKubeMasks>, credential: Extract<Credential, { type: 'bearer' }>): Promise<number> {
    const name = conn.metadata.name;
    const grant = this.o.grant();
    if (!grant) throw new ChaperoneError(SIDECAR_ERR_KUBE_LISTEN, 'no grant yet');
    const tls = await (this.tls ??= this.localTls());
    await loadShellParser();
    const port = this.o.ports[name] ?? conn.spec.listen.port;
    const log = this.o.logger.child({ connection: name });
    const proxy = new KubeProxy({
      listen: { host: this.o.listenHost, port },
      connectionName: name,
      target, credential, policy, shell, masks, tls,
      observer: createKubeObserver({ connection: name, identity: grant.identity, recorder: this.o.recorder, metrics: this.o.metrics, logger: log }),
      ...(this.o.approvals ? { approvals: this.o.approvals } : {}),
      onCredentialExpiring: () => {
        this.o.refresh().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'credential refresh failed'));
      },
      logger: log,
    });
    let bound: number;
    try {
      bound = (await proxy.start()).port;
    } catch (err) {
      throw new ChaperoneError(SIDECAR_ERR_KUBE_LISTEN, `cannot listen for connection ${name} on ${this.o.listenHost}:${port}: ${(err as Error).message}`, { connection: name, port }, { cause: err });
    }
    this.proxies.set(name, proxy);
    log.info({ port: bound }, 'listening (Kubernetes API)');
    return bound;
  }

  private async localTls(): Promise<LocalTls> {
    const tls = await generateLocalTls();
    const dir = this.o.caDir ?? (existsSync(DEFAULT_KUBE_CA_DIR) ? DEFAULT_KUBE_CA_DIR : undefined);
    if (dir === undefined) {
      this.o.logger.warn(`no --kube-ca-dir and no ${DEFAULT_KUBE_CA_DIR}: agents get no CA bundle for the local Kubernetes API endpoint`);
    } else {
      this.o.logger.info({ path: await writeCaBundle(dir, tls.caCert, this.o.grant()?.identity.namespace) }, 'wrote the local Kubernetes API CA');
    }
    return tls;
  }
}

function kubernetesTarget(conn: ConnectionDoc): KubernetesTarget | undefined {
  const t = conn.spec.target as Partial<KubernetesTarget>;
  if (typeof t.server !== 'string' || !/^https:\/\//.test(t.server)) return undefined;
  try {
    new URL(t.server);
  } catch {
    return undefined;
  }
  return { server: t.server, ...(typeof t.caBundle === 'string' ? { caBundle: t.caBundle } : {}) };
}
