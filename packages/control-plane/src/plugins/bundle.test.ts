// GET /v1/bundle: the bundle, 304 while unchanged, and long polls woken by a policy reload.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { AccessPolicyDoc, PolicyBundle, PolicyDoc } from '@chaperone/core/policy/types';
import { startTestPostgres, type TestPostgres } from '../testing/embedded.js';
import { buildTestApp, sampleDocs, type TestApp } from '../testing/app.js';

const bot = { namespace: 'agents', serviceAccount: 'support-bot' };
let pg: TestPostgres;
let t: TestApp;
let grant: string;

before(async () => {
  pg = await startTestPostgres();
  t = await buildTestApp(pg.url, { docs: sampleDocs(), secrets: { 'orders-db-admin': { username: 'u', password: 'p' } } });
  grant = await t.grantFor(bot);
});
after(async () => {
  await t?.close();
  await pg?.cleanup();
});

function poll(query: string) {
  return t.app.inject({ method: 'GET', url: `/v1/bundle?${query}`, headers: { authorization: `Bearer ${grant}` } });
}

/** The sample documents with one more deny rule: a real policy change. */
function stricterDocs(): PolicyDoc[] {
  const [conn, policy] = sampleDocs() as [PolicyDoc, AccessPolicyDoc];
  return [conn, { ...policy, spec: { ...policy.spec, rules: [...policy.spec.rules, { action: 'deny', match: { statements: ['delete'] } }] } }];
}

async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

test('without a version the current bundle comes back at once', async () => {
  const res = await poll('wait=0');
  assert.equal(res.statusCode, 200, res.body);
  const bundle = res.json() as PolicyBundle;
  assert.match(bundle.version, /^[0-9a-f]{64}$/);
  assert.deepEqual(bundle.connections.map((c) => c.metadata.name), ['orders-db']);
});

test('an unchanged version is 304; a reload wakes a waiting poll with the new bundle', async () => {
  const current = (await poll('wait=0')).json() as PolicyBundle;
  const unchanged = await poll(`version=${current.version}&wait=1`);
  assert.equal(unchanged.statusCode, 304);
  assert.equal(unchanged.body, '');

  let settled = false;
  const waiting = poll(`version=${current.version}&wait=60`).finally(() => { settled = true; });
  await ticks(20);
  // Reloading the same documents changes nothing: the poll keeps waiting.
  await t.setDocs(sampleDocs());
  await ticks(20);
  assert.equal(settled, false, 'the poll answered although nothing changed');
  await t.setDocs(stricterDocs());
  const res = await waiting;
  assert.equal(res.statusCode, 200, res.body);
  const next = res.json() as PolicyBundle;
  assert.notEqual(next.version, current.version);
  assert.equal(next.policies[0]?.spec.rules.length, 2);
  await t.setDocs(sampleDocs());
});

test('a bundle honours the connections the grant was issued for', async () => {
  const exchange = await t.app.inject({ method: 'POST', url: '/v1/exchange', payload: { token: (await t.issuer.issue(bot)).token, connections: ['nothing-here'] } });
  const narrow = (exchange.json() as { grant: string }).grant;
  const res = await t.app.inject({ method: 'GET', url: '/v1/bundle?wait=0', headers: { authorization: `Bearer ${narrow}` } });
  assert.deepEqual((res.json() as PolicyBundle).connections, []);
});

test('when no policy names the identity any more, the poll is refused with 403', async () => {
  await t.setDocs(sampleDocs({ name: 'someone-else' }));
  try {
    const res = await poll('wait=0');
    assert.equal(res.statusCode, 403);
    assert.equal((res.json() as { error: { code: string } }).error.code, 'EXCHANGE_ERR_NO_POLICY');
  } finally {
    await t.setDocs(sampleDocs());
  }
});

test('bad query parameters are 400', async () => {
  for (const q of ['wait=-1', 'wait=100000', 'wait=soon']) assert.equal((await poll(q)).statusCode, 400, q);
});

test('closing the app answers waiting polls with 304 instead of holding shutdown', async () => {
  const current = (await poll('wait=0')).json() as PolicyBundle;
  const waiting = poll(`version=${current.version}&wait=300`);
  await ticks(20);
  await t.app.close();
  assert.equal((await waiting).statusCode, 304);
});
