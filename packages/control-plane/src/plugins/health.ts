// Liveness, readiness and Prometheus metrics.
import type { FastifyPluginAsync } from 'fastify';
import type { ControlPlaneMetrics } from '../metrics.js';
import type { PolicyState } from '../policies/state.js';
import type { Store } from '../store/store.js';
import { checkSchema } from './schemas.js';

export interface HealthOptions {
  store: Store;
  policies: PolicyState;
  metrics: ControlPlaneMetrics;
}

export const healthPlugin: FastifyPluginAsync<HealthOptions> = async (app, { store, policies, metrics }) => {
  app.get('/healthz', {
    schema: { summary: 'Liveness: the process is up', tags: ['health'], response: { 200: checkSchema } },
  }, async () => ({ ok: true }));

  app.get('/readyz', {
    schema: { summary: 'Readiness: store reachable and migrated, policies loaded', tags: ['health'], response: { 200: checkSchema, 503: checkSchema } },
  }, async (_request, reply) => {
    const checks: Record<string, { ok: boolean; message?: string }> = {};
    try {
      const { schemaVersion } = await store.ready();
      checks['store'] = { ok: true, message: `schema version ${schemaVersion}` };
    } catch (err) {
      checks['store'] = { ok: false, message: (err as Error).message };
    }
    checks['policies'] = policies.loaded ? { ok: true } : { ok: false, message: 'policies not loaded' };
    const ok = Object.values(checks).every((c) => c.ok);
    void reply.code(ok ? 200 : 503);
    return { ok, checks };
  });

  app.get('/metrics', {
    schema: { summary: 'Prometheus metrics', tags: ['health'], produces: ['text/plain'] },
  }, async (_request, reply) => {
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
