// POST /v1/records against a real store: idempotency, chain breaks, gaps and ownership.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { RecordsResult } from '@chaperone/core/api';
import { canonicalRecordJson } from '@chaperone/core/records/canonical';
import { sealRecord } from '@chaperone/core/records/chain';
import type { SessionRecord } from '@chaperone/core/records/types';
import { startTestPostgres, type TestPostgres } from '../testing/embedded.js';
import { buildTestApp, sampleDocs, type TestApp } from '../testing/app.js';
import { sessionChain } from '../testing/records.js';
import { MAX_BATCH_RECORDS } from './records.js';

const bot = { namespace: 'agents', serviceAccount: 'support-bot' };
const other = { namespace: 'agents', serviceAccount: 'other-bot' };
let pg: TestPostgres;
let t: TestApp;
let grant: string;

before(async () => {
  pg = await startTestPostgres();
  const docs = sampleDocs({ name: '*' });
  t = await buildTestApp(pg.url, { docs, secrets: { 'orders-db-admin': { username: 'u', password: 'p' } } });
  grant = await t.grantFor(bot);
});
after(async () => {
  await t?.close();
  await pg?.cleanup();
});

async function send(records: SessionRecord[], bearer = grant) {
  return t.app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${bearer}` }, payload: { records } });
}

async function sendOk(records: SessionRecord[]): Promise<RecordsResult> {
  const res = await send(records);
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as RecordsResult;
}

async function counter(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await t.metrics.registry.getSingleMetric(name)?.get();
  return m?.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0) ?? 0;
}

test('a batch is stored once; sending it again only counts duplicates', async () => {
  const id = randomUUID();
  const chain = sessionChain(id, bot, { statements: 3, denied: 1 });
  assert.deepEqual(await sendOk(chain), { accepted: 5, duplicates: 0, broken: [] });
  assert.deepEqual(await sendOk(chain), { accepted: 0, duplicates: 5, broken: [] });
  assert.deepEqual(await sendOk([...chain.slice(3), ...chain.slice(1, 3)]), { accepted: 0, duplicates: 4, broken: [] });
  assert.deepEqual(await t.store.listRecords(id), chain);
  const s = await t.store.getSession(id);
  assert.ok(s);
  assert.equal(s.records, 5);
  assert.equal(s.statements, 3);
  assert.equal(s.denied, 1);
  assert.equal(s.chainOk, true);
  assert.equal(s.connection, 'orders-db');
  assert.equal(s.startedAt, chain[0]!.time);
  assert.equal(s.endedAt, chain[4]!.time);
  assert.ok(await counter('chaperone_controlplane_records_ingested_total', { result: 'duplicate' }) >= 9);
});

test('a batch split across requests continues the stored chain', async () => {
  const id = randomUUID();
  const chain = sessionChain(id, bot, { statements: 4 });
  assert.equal((await sendOk(chain.slice(0, 2))).accepted, 2);
  assert.deepEqual(await sendOk(chain.slice(2)), { accepted: 4, duplicates: 0, broken: [] });
  assert.equal((await t.store.getSession(id))?.chainOk, true);
});

test('an altered record is reported as broken, recorded on the session and counted; it is still stored', async () => {
  const id = randomUUID();
  const chain = sessionChain(id, bot, { statements: 2 });
  const tampered = { ...chain[2]!, event: { ...chain[2]!.event, text: 'SELECT secret' } } as SessionRecord;
  const breaksBefore = await counter('chaperone_controlplane_chain_breaks_total');
  const r = await sendOk([chain[0]!, chain[1]!, tampered, chain[3]!]);
  assert.equal(r.accepted, 4);
  assert.deepEqual(r.broken, [{ session: id, seq: 2, reason: 'hash-mismatch' }]);
  const s = await t.store.getSession(id);
  assert.equal(s?.chainOk, false);
  assert.equal(s?.chainError, 'hash-mismatch at seq 2');
  assert.equal(await counter('chaperone_controlplane_chain_breaks_total'), breaksBefore + 1);
  assert.equal((await t.store.listRecords(id)).length, 4);
});

test('a record that does not link to the stored one before it is a prev-hash mismatch', async () => {
  const id = randomUUID();
  const chain = sessionChain(id, bot, { statements: 1 });
  await sendOk(chain.slice(0, 1));
  const forged = sealRecord(id, 1, 'f'.repeat(64), chain[1]!.event, new Date());
  assert.deepEqual((await sendOk([forged])).broken, [{ session: id, seq: 1, reason: 'prev-hash-mismatch' }]);
});

test('a duplicate (session, seq) with a different hash is reported, the stored record kept', async () => {
  const id = randomUUID();
  const chain = sessionChain(id, bot, { statements: 1 });
  await sendOk(chain);
  const rival = sealRecord(id, 1, chain[0]!.hash, { ...chain[1]!.event, text: 'SELECT other' } as SessionRecord['event']);
  const r = await sendOk([rival]);
  assert.deepEqual(r, { accepted: 0, duplicates: 0, broken: [{ session: id, seq: 1, reason: 'duplicate-hash-mismatch' }] });
  assert.deepEqual((await t.store.listRecords(id))[1], chain[1]);
  assert.equal((await t.store.getSession(id))?.chainOk, false);
});

test('missing records are a gap, reported with the first missing seq; late records still link', async () => {
  const id = randomUUID();
  const chain = sessionChain(id, bot, { statements: 4 });
  await sendOk(chain.slice(0, 2));
  const r = await sendOk(chain.slice(4));
  assert.deepEqual(r.broken, [{ session: id, seq: 2, reason: 'gap' }]);
  assert.equal((await t.store.getSession(id))?.chainError, 'gap at seq 2');
  // The missing records arrive later and fit both neighbours: nothing more is broken.
  assert.deepEqual(await sendOk(chain.slice(2, 4)), { accepted: 2, duplicates: 0, broken: [] });
  assert.equal((await t.store.listRecords(id)).length, chain.length);
});

test('records of a session whose start never arrived are kept and flagged as a gap at 0', async () => {
  const id = randomUUID();
  const chain = sessionChain(id, bot, { statements: 2 });
  const r = await sendOk(chain.slice(1));
  assert.deepEqual(r.broken, [{ session: id, seq: 0, reason: 'gap' }]);
  const s = await t.store.getSession(id);
  assert.deepEqual(s?.identity, bot);
  assert.equal(s?.records, 3);
});

test('a grant may only send records of its own identity\'s sessions', async () => {
  const id = randomUUID();
  const foreignStart = sessionChain(id, other, { statements: 0 });
  const res = await send(foreignStart);
  assert.equal(res.statusCode, 403);
  assert.equal((res.json() as { error: { code: string } }).error.code, 'RECORDS_ERR_FORBIDDEN');
  // A session stored for bot cannot be continued under another identity's grant.
  const mine = sessionChain(randomUUID(), bot, { statements: 2 });
  await sendOk(mine.slice(0, 2));
  const otherGrant = await t.grantFor(other);
  const res2 = await send(mine.slice(2), otherGrant);
  assert.equal(res2.statusCode, 403);
  assert.equal((await t.store.listRecords(mine[0]!.session)).length, 2);
});

test('malformed records are refused whole with 400', async () => {
  const id = randomUUID();
  const [start] = sessionChain(id, bot);
  for (const bad of [{ ...start, seq: -1 }, { ...start, hash: 'xyz' }, { ...start, time: 'yesterday' }, { ...start, event: {} }, { ...start, event: { type: 'session.start', protocol: 'postgres' } }]) {
    const res = await send([bad as SessionRecord]);
    assert.equal(res.statusCode, 400, JSON.stringify(bad));
  }
  assert.equal(await t.store.getSession(id), undefined);
});

/** A body as the sidecar's record queue writes it: canonical lines with the hash appended, no whitespace. */
function sidecarBody(records: readonly SessionRecord[]): string {
  return `{"records":[${records.map((r) => `${canonicalRecordJson(r).slice(0, -1)},"hash":"${r.hash}"}`).join(',')}]}`;
}

async function sendText(body: string) {
  return t.app.inject({ method: 'POST', url: '/v1/records', headers: { authorization: `Bearer ${grant}`, 'content-type': 'application/json' }, payload: body });
}

test('sidecar bodies are stored as sent and checked like any other', async () => {
  const id = randomUUID();
  const chain = sessionChain(id, bot, { statements: 3, denied: 1 });
  const first = await sendText(sidecarBody(chain));
  assert.equal(first.statusCode, 200, first.body);
  assert.deepEqual(first.json(), { accepted: 5, duplicates: 0, broken: [] });
  assert.deepEqual((await sendText(sidecarBody(chain))).json(), { accepted: 0, duplicates: 5, broken: [] });
  assert.deepEqual(await t.store.listRecords(id), chain);
  const s = await t.store.getSession(id);
  assert.equal(s?.statements, 3);
  assert.equal(s?.denied, 1);
  assert.equal(s?.endedAt, chain[4]!.time);
  // A line altered after sealing, still in canonical form: its hash no longer matches.
  const other = sessionChain(randomUUID(), bot, { statements: 2 });
  const tampered = sidecarBody(other).replace('SELECT 1', 'SELECT 9');
  assert.deepEqual((await sendText(tampered)).json(), { accepted: 4, duplicates: 0, broken: [{ session: other[0]!.session, seq: 2, reason: 'hash-mismatch' }] });
});

test('malformed sidecar-shaped bodies get the answers of fastify\'s JSON parser and the validator', async () => {
  const id = randomUUID();
  const body = sidecarBody(sessionChain(id, bot, { statements: 2 }));
  const invalidJson = { error: { code: 'API_ERR_BAD_REQUEST', message: 'Body is not valid JSON but content-type is set to \'application/json\'' } };
  const cases: [string, number, unknown][] = [
    [body.slice(0, -30), 400, invalidJson],
    [`${body.slice(0, -2)},]}`, 400, invalidJson],
    [body.replace('"seq":1,', '"seq":1,,'), 400, invalidJson],
    ['', 400, { error: { code: 'API_ERR_BAD_REQUEST', message: 'Body cannot be empty when content-type is set to \'application/json\'' } }],
    [body.replace('"seq":1,', '"seq":-1,'), 400, { error: { code: 'API_ERR_VALIDATION', message: 'body/records/1/seq must be >= 0' } }],
    [body.replace('{"records":[', '{"x":1,"records":['), 400, { error: { code: 'API_ERR_VALIDATION', message: 'body must NOT have additional properties' } }],
    [body.replace('"type":"statement"', '"type":"statement","__proto__":{"polluted":true}'), 400, invalidJson],
    [body.replace('"protocol":"postgres",', ''), 400, { error: { code: 'API_ERR_VALIDATION', message: `record ${id}#0: session.start needs protocol, connection and identity {namespace, serviceAccount}` } }],
  ];
  for (const [text, status, answer] of cases) {
    const res = await sendText(text);
    assert.equal(res.statusCode, status, text);
    assert.deepEqual(res.json(), answer, text);
  }
  assert.equal(await t.store.getSession(id), undefined);
});

test('a body of more records than a batch may hold is refused with the schema\'s message', async () => {
  const chain = sessionChain(randomUUID(), bot, { statements: MAX_BATCH_RECORDS, end: false });
  const res = await sendText(sidecarBody(chain));
  assert.equal(res.statusCode, 400);
  assert.deepEqual(res.json(), { error: { code: 'API_ERR_VALIDATION', message: `body/records must NOT have more than ${MAX_BATCH_RECORDS} items` } });
});
