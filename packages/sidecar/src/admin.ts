// The sidecar's admin server on localhost: liveness, readiness and Prometheus metrics.
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { SidecarMetrics } from './metrics.js';

/** Readiness with the reasons it is not ready, for /readyz's body and the logs. */
export type Readiness = { ready: true } | { ready: false; waitingFor: string[] };

export interface AdminServerOptions {
  metrics: SidecarMetrics;
  readiness: () => Readiness;
  logger?: Logger;
}

export function buildAdminServer(opts: AdminServerOptions): FastifyInstance {
  // Request logs stay below warn: Prometheus scrapes and kubelet probes would drown everything else.
  const parent = opts.logger;
  const logger = parent?.child({ component: 'admin' }, { level: parent.levelVal > 40 ? parent.level : 'warn' });
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger | undefined });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = opts.readiness();
    if (r.ready) return { status: 'ready' };
    return reply.code(503).send({ status: 'not ready', waitingFor: r.waitingFor });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', opts.metrics.contentType());
    return opts.metrics.text();
  });
  return app;
}

/** Starts the admin server; returns the bound port (useful when asked for port 0). */
export async function startAdminServer(opts: AdminServerOptions & { host: string; port: number }): Promise<{ port: number; close(): Promise<void> }> {
  const app = buildAdminServer(opts);
  await app.listen({ host: opts.host, port: opts.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return { port, close: () => app.close() };
}
