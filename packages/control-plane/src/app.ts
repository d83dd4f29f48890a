// The control plane's fastify app: root concerns (errors, OpenAPI, request metrics) and one plugin
// per domain, each given exactly the state it needs. Listening is server.ts's job.
import swagger from '@fastify/swagger';
import Fastify from 'fastify';
import type { FastifyError, FastifyInstance, FastifyServerOptions } from 'fastify';
import { isChaperoneError } from '@chaperone/core/errors';
import { createApprovalService, type ApprovalsDeps } from './approvals/setup.js';
import type { ControlPlaneConfig } from './config.js';
import type { CredentialSource } from './credentials/source.js';
import { statusForCode } from './errors.js';
import { loadMaskKey } from './mask-key.js';
import type { GrantAuthority } from './grants.js';
import type { DevIssuer } from './identity/dev-issuer.js';
import type { PodLabelSource } from './identity/pod-labels.js';
import type { TokenVerifier } from './identity/verifier.js';
import type { ControlPlaneMetrics } from './metrics.js';
import type { PolicyState, ReloadResult } from './policies/state.js';
import { approvalsPlugin } from './plugins/approvals.js';
import { bundlePlugin } from './plugins/bundle.js';
import { devTokensPlugin } from './plugins/dev-tokens.js';
import { exchangePlugin } from './plugins/exchange.js';
import { healthPlugin } from './plugins/health.js';
import { jwksPlugin } from './plugins/jwks.js';
import { recordsPlugin } from './plugins/records.js';
import { replayPlugin } from './plugins/replay.js';
import { sessionsPlugin } from './plugins/sessions.js';
import type { Store } from './store/store.js';

export interface AppDeps {
  config: Pick<ControlPlaneConfig, 'adminToken' | 'bodyLimitBytes'>;
  store: Store;
  policies: PolicyState;
  credentials: CredentialSource;
  grants: GrantAuthority;
  verifier: TokenVerifier;
  /** Kubernetes pod labels for podSelector subjects; absent outside Kubernetes. */
  podLabels?: PodLabelSource;
  /** Present only when the development issuer is enabled; mounts POST /v1/dev/tokens. */
  devIssuer?: DevIssuer;
  metrics: ControlPlaneMetrics;
  /** The hash mask strategy's key sent at exchange; loaded from (or created in) the store when absent. */
  maskKey?: Uint8Array;
  /** Approver authentication and notification; without it only the admin token decides. */
  approvals?: ApprovalsDeps;
  /** fastify's logger option (pino); off unless given. */
  logger?: FastifyServerOptions['logger'];
  https?: { cert: Buffer; key: Buffer };
  /** Called for every route as it is added (the OpenAPI drift test lists routes with it). */
  onRoute?: (route: { method: string | string[]; url: string; hidden: boolean }) => void;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Reads policies again (e.g. on SIGHUP); waiting bundle polls wake up when they changed. */
    reloadPolicies(): Promise<ReloadResult>;
  }
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: deps.config.bodyLimitBytes,
    ...(deps.https ? { https: deps.https } : {}),
  }) as unknown as FastifyInstance;
  const shutdown = new AbortController();

  if (deps.onRoute) {
    const onRoute = deps.onRoute;
    app.addHook('onRoute', (r) => onRoute({ method: r.method, url: r.url, hidden: (r.schema as { hide?: boolean } | undefined)?.hide === true }));
  }
  app.decorate('reloadPolicies', () => deps.policies.reload());
  // Long polls answer now rather than holding shutdown for their full wait.
  app.addHook('preClose', async () => shutdown.abort());

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isChaperoneError(err)) {
      const status = statusForCode(err.code);
      if (status >= 500) request.log.error({ err }, err.message);
      return reply.code(status).send({ error: { code: err.code, message: err.message } });
    }
    if (err.validation) return reply.code(400).send({ error: { code: 'API_ERR_VALIDATION', message: err.message } });
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: { code: 'API_ERR_BODY_TOO_LARGE', message: err.message } });
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ error: { code: 'API_ERR_BAD_REQUEST', message: err.message } });
    }
    request.log.error({ err }, 'unhandled error');
    return reply.code(500).send({ error: { code: 'API_ERR_INTERNAL', message: 'internal error' } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: 'API_ERR_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` } }));

  app.addHook('onResponse', async (request, reply) => {
    deps.metrics.httpDuration.observe(
      { route: request.routeOptions.url ?? 'unmatched', method: request.method, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'chaperone control plane', version: 'v1', description: 'Identity exchange, policy bundles and session records for chaperone sidecars.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthPlugin, { store: deps.store, policies: deps.policies, metrics: deps.metrics });
  await app.register(jwksPlugin, { grants: deps.grants });
  if (deps.devIssuer) await app.register(devTokensPlugin, { issuer: deps.devIssuer });
  const podLabels = deps.podLabels ? { podLabels: deps.podLabels } : {};
  await app.register(exchangePlugin, {
    verifier: deps.verifier, policies: deps.policies, credentials: deps.credentials, grants: deps.grants, metrics: deps.metrics, ...podLabels,
    maskKey: deps.maskKey ?? await loadMaskKey(deps.store),
  });
  await app.register(bundlePlugin, { policies: deps.policies, grants: deps.grants, metrics: deps.metrics, shutdown: shutdown.signal, ...podLabels });
  await app.register(recordsPlugin, { store: deps.store, grants: deps.grants, metrics: deps.metrics });
  await app.register(sessionsPlugin, { store: deps.store, adminToken: deps.config.adminToken });
  await app.register(replayPlugin, { store: deps.store, adminToken: deps.config.adminToken });
  const approvals = createApprovalService(app, deps.store.approvals, deps.metrics, deps.approvals);
  await app.register(approvalsPlugin, {
    service: approvals, grants: deps.grants, policies: deps.policies, ...podLabels, metrics: deps.metrics, adminToken: deps.config.adminToken, oidc: deps.approvals?.oidc, shutdown: shutdown.signal,
  });
  return app;
}
