// The app's root concerns: health and readiness (with the database really stopped), metrics,
// error shapes, and an OpenAPI document that must list exactly the routes served.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestPostgres, type TestPostgres } from './testing/embedded.js';
import { buildTestApp, sampleDocs, type TestApp } from './testing/app.js';

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, { summary?: string; responses?: Record<string, unknown> }>>;
}

const routes: { method: string; url: string; hidden: boolean }[] = [];
let pg: TestPostgres;
let t: TestApp;

before(async () => {
  pg = await startTestPostgres();
  t = await buildTestApp(pg.url, {
    docs: sampleDocs(),
    onRoute: (r) => {
      for (const method of [r.method].flat()) routes.push({ method: method.toLowerCase(), url: r.url, hidden: r.hidden });
    },
  });
});
after(async () => {
  await t?.close();
  await pg?.cleanup();
});

test('the OpenAPI document describes every route served, and nothing else', async () => {
  const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(res.statusCode, 200);
  const doc = res.json() as OpenApiDoc;
  assert.match(doc.openapi, /^3\./);
  const served = routes
    .filter((r) => !r.hidden && r.method !== 'head')
    .map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`)
    .sort();
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)).sort();
  assert.deepEqual(documented, served);
  const v1 = served.filter((r) => r.includes(' /v1/'));
  for (const expected of ['post /v1/exchange', 'post /v1/dev/tokens', 'get /v1/bundle', 'post /v1/records', 'get /v1/sessions', 'get /v1/sessions/{id}', 'get /v1/jwks']) {
    assert.ok(v1.includes(expected), `${expected} is not served`);
  }
  for (const key of v1) {
    const [method, path] = key.split(' ') as [string, string];
    const op = doc.paths[path]?.[method];
    assert.ok(op?.summary, `${key} has no summary`);
    assert.ok(op?.responses?.['200'], `${key} documents no 200 response`);
  }
});

test('/healthz is up and /metrics exposes the control plane\'s metrics', async () => {
  assert.equal((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  await t.app.inject({ method: 'POST', url: '/v1/exchange', payload: { token: 'nope' } });
  const res = await t.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain/);
  for (const name of ['chaperone_controlplane_exchanges_total', 'chaperone_controlplane_token_failures_total', 'chaperone_controlplane_records_ingested_total',
    'chaperone_controlplane_chain_breaks_total', 'chaperone_controlplane_http_request_duration_seconds', 'chaperone_controlplane_process_cpu_seconds_total']) {
    assert.match(res.body, new RegExp(`^# TYPE ${name} `, 'm'), name);
  }
  assert.match(res.body, /^chaperone_controlplane_exchanges_total\{result="invalid_token"\} 1$/m);
  assert.match(res.body, /^chaperone_controlplane_http_request_duration_seconds_count\{route="\/v1\/exchange",method="POST",status="401"\} 1$/m);
});

test('unknown routes answer the common error shape', async () => {
  const res = await t.app.inject({ method: 'GET', url: '/v1/nothing?x=1' });
  assert.equal(res.statusCode, 404);
  assert.deepEqual(res.json(), { error: { code: 'API_ERR_NOT_FOUND', message: 'no route GET /v1/nothing' } });
});

test('/readyz is ready with the database up and 503 once it is stopped', async () => {
  const up = await t.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(up.statusCode, 200, up.body);
  assert.equal((up.json() as { ok: boolean }).ok, true);
  await pg.stop();
  const down = await t.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(down.statusCode, 503);
  const body = down.json() as { ok: boolean; checks: Record<string, { ok: boolean; message?: string }> };
  assert.equal(body.ok, false);
  assert.equal(body.checks['store']?.ok, false);
  assert.equal(body.checks['policies']?.ok, true);
});
