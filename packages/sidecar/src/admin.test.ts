// The admin routes, in-process with fastify's inject.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildAdminServer } from './admin.js';
import type { Readiness } from './admin.js';
import { SidecarMetrics } from './metrics.js';

test('healthz is always ok; readyz follows readiness with its reasons; metrics is Prometheus text', async (t) => {
  const metrics = new SidecarMetrics();
  let readiness: Readiness = { ready: false, waitingFor: ['exchange'] };
  const app = buildAdminServer({ metrics, readiness: () => readiness });
  t.after(() => app.close());

  assert.equal((await app.inject('/healthz')).statusCode, 200);
  const notReady = await app.inject('/readyz');
  assert.equal(notReady.statusCode, 503);
  assert.deepEqual(notReady.json(), { status: 'not ready', waitingFor: ['exchange'] });
  readiness = { ready: true };
  assert.equal((await app.inject('/readyz')).statusCode, 200);

  metrics.statementCounter('orders-db', 'allow').inc();
  const m = await app.inject('/metrics');
  assert.equal(m.statusCode, 200);
  assert.match(String(m.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  assert.match(m.body, /chaperone_sidecar_statements_total\{protocol="postgres",connection="orders-db",decision="allow"\} 1/);
  assert.match(m.body, /chaperone_sidecar_process_cpu_seconds_total/);
});
