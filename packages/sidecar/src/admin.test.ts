// The admin routes, on a real listening admin server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAdminServer } from './admin.js';
import type { Readiness } from './admin.js';
import { SidecarMetrics } from './metrics.js';

test('healthz is always ok; readyz follows readiness with its reasons; metrics is Prometheus text', async (t) => {
  const metrics = new SidecarMetrics();
  let readiness: Readiness = { ready: false, waitingFor: ['exchange'] };
  const admin = await startAdminServer({ metrics, readiness: () => readiness, host: '127.0.0.1', port: 0 });
  t.after(() => admin.close());
  const get = (path: string, method = 'GET'): Promise<Response> => fetch(`http://127.0.0.1:${admin.port}${path}`, { method });

  const health = await get('/healthz');
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const notReady = await get('/readyz');
  assert.equal(notReady.status, 503);
  assert.deepEqual(await notReady.json(), { status: 'not ready', waitingFor: ['exchange'] });
  readiness = { ready: true };
  const ready = await get('/readyz?verbose=1');
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: 'ready' });

  metrics.statementCounter('orders-db', 'allow').inc();
  const m = await get('/metrics');
  assert.equal(m.status, 200);
  assert.match(String(m.headers.get('content-type')), /^text\/plain; version=0\.0\.4/);
  const body = await m.text();
  assert.match(body, /chaperone_sidecar_statements_total\{protocol="postgres",connection="orders-db",decision="allow"\} 1/);
  assert.match(body, /chaperone_sidecar_process_cpu_seconds_total/);
});

test('unknown paths are 404, other methods 405; close() ends with keep-alive sockets open', async () => {
  const admin = await startAdminServer({ metrics: new SidecarMetrics(), readiness: () => ({ ready: true }), host: '127.0.0.1', port: 0 });
  try {
    const missing = await fetch(`http://127.0.0.1:${admin.port}/nope`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
    const post = await fetch(`http://127.0.0.1:${admin.port}/healthz`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    await post.arrayBuffer();
    const head = await fetch(`http://127.0.0.1:${admin.port}/healthz`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  } finally {
    // fetch keeps its connection alive: close() must still return.
    await admin.close();
  }
});
