// GET /v1/sessions and /v1/sessions/:id against a real store, with and without an admin token.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SessionDetail, SessionSummary } from '@chaperone/core/api';
import { startTestPostgres, type TestPostgres } from '../testing/embedded.js';
import { buildTestApp, sampleDocs, type TestApp } from '../testing/app.js';
import { sessionChain } from '../testing/records.js';

const bot = { namespace: 'agents', serviceAccount: 'support-bot' };
const ADMIN = 'admin-token-for-tests-0123456789';
let pg: TestPostgres;
let t: TestApp;
const base = Date.parse('2030-01-01T00:00:00Z');
const chains = [
  sessionChain('s-old', bot, { statements: 1, start: new Date(base) }),
  sessionChain('s-mid', bot, { statements: 2, denied: 1, connection: 'billing-db', start: new Date(base + 60_000) }),
  sessionChain('s-new', bot, { statements: 3, end: false, start: new Date(base + 120_000) }),
];

before(async () => {
  pg = await startTestPostgres();
  t = await buildTestApp(pg.url, { docs: sampleDocs(), secrets: { 'orders-db-admin': { username: 'u', password: 'p' } }, adminToken: ADMIN });
  const grant = await t.grantFor(bot);
  const res = await t.app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${grant}` }, payload: { records: chains.flat() } });
  assert.equal(res.statusCode, 200, res.body);
});
after(async () => {
  await t?.close();
  await pg?.cleanup();
});

async function get(url: string, token: string | null = ADMIN) {
  return t.app.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });
}

test('sessions are listed newest first with their summaries', async () => {
  const res = await get('/v1/sessions');
  assert.equal(res.statusCode, 200, res.body);
  const list = res.json() as SessionSummary[];
  assert.deepEqual(list.map((s) => s.id), ['s-new', 's-mid', 's-old']);
  assert.deepEqual(list[1], {
    id: 's-mid', protocol: 'postgres', connection: 'billing-db', identity: bot,
    startedAt: chains[1]![0]!.time, endedAt: chains[1]![3]!.time,
    records: 4, statements: 2, denied: 1, chainOk: true, chainError: null,
  });
  assert.equal(list[0]?.endedAt, null);
});

test('limit, connection and since filter the list', async () => {
  const ids = async (q: string) => ((await get(`/v1/sessions?${q}`)).json() as SessionSummary[]).map((s) => s.id);
  assert.deepEqual(await ids('limit=1'), ['s-new']);
  assert.deepEqual(await ids('connection=billing-db'), ['s-mid']);
  assert.deepEqual(await ids(`since=${encodeURIComponent(new Date(base + 60_000).toISOString())}`), ['s-new', 's-mid']);
  for (const bad of ['limit=0', 'limit=100000', 'since=yesterday']) assert.equal((await get(`/v1/sessions?${bad}`)).statusCode, 400, bad);
});

test('one session is shown with all its records in order', async () => {
  const res = await get('/v1/sessions/s-old');
  assert.equal(res.statusCode, 200);
  const detail = res.json() as SessionDetail;
  assert.equal(detail.session.id, 's-old');
  assert.deepEqual(detail.records, chains[0]);
  const missing = await get('/v1/sessions/nope');
  assert.equal(missing.statusCode, 404);
  assert.equal((missing.json() as { error: { code: string } }).error.code, 'SESSIONS_ERR_NOT_FOUND');
});

test('with an admin token configured, session routes need it', async () => {
  for (const url of ['/v1/sessions', '/v1/sessions/s-old']) {
    for (const token of [null, 'wrong', await t.grantFor(bot)]) {
      const res = await get(url, token);
      assert.equal(res.statusCode, 401, `${url} with ${token?.slice(0, 8)}`);
      assert.equal((res.json() as { error: { code: string } }).error.code, 'AUTH_ERR_ADMIN_REQUIRED');
    }
  }
});
