// Records stored as runs (record_runs) on a real PostgreSQL: one row per session and batch,
// retries and gap fills, stores that still hold per-record rows of the old records table.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import postgres from 'postgres';
import { GENESIS_HASH, hashRecord } from '@chaperone/core/records/chain';
import type { RecordEvent, SessionRecord } from '@chaperone/core/records/types';
import { ingestBatch } from '../records/ingest.js';
import { startTestPostgres, type TestPostgres } from '../testing/embedded.js';
import { sessionChain } from '../testing/records.js';
import { PostgresStore } from './postgres-store.js';
import { planRunsInsert } from './record-runs.js';

const bot = { namespace: 'agents', serviceAccount: 'support-bot' };
let pg: TestPostgres;
let store: PostgresStore;

before(async () => {
  pg = await startTestPostgres();
  store = await PostgresStore.open(pg.url);
});
after(async () => {
  await store?.close();
  await pg?.cleanup();
});

async function runsOf(session: string, s: PostgresStore = store): Promise<[number, number][]> {
  const rows = await s.sql<{ first_seq: number; last_seq: number }[]>`
    SELECT first_seq, last_seq FROM record_runs WHERE session_id = ${session} ORDER BY first_seq`;
  return rows.map((r) => [r.first_seq, r.last_seq]);
}

/** Stores records the way the control plane did before migration 3: a records row each. */
async function insertOldRows(s: PostgresStore, records: readonly SessionRecord[]): Promise<void> {
  const first = records[0]!;
  const top = records.reduce((a, b) => (b.seq > a.seq ? b : a));
  await s.sql`
    INSERT INTO sessions (id, namespace, service_account, started_at, record_count, last_seq, last_hash)
    VALUES (${first.session}, ${bot.namespace}, ${bot.serviceAccount}, now(), ${records.length}, ${top.seq}, ${top.hash})
    ON CONFLICT (id) DO NOTHING`;
  await s.sql`
    INSERT INTO records (session_id, seq, time, hash, prev_hash, event)
    SELECT r.session, r.seq, r.time, r.hash, r."prevHash", r.event
    FROM jsonb_to_recordset(${JSON.stringify(records)}::text::jsonb)
      AS r(session text, seq integer, time timestamptz, hash text, "prevHash" text, event jsonb)`;
}

test('each batch stores one run row per session, not one row per record', async () => {
  const chains = Array.from({ length: 4 }, () => sessionChain(randomUUID(), bot, { statements: 40, end: false }));
  const interleave = (from: number, to: number) => chains.flatMap((c) => c.slice(from, to));
  assert.equal((await ingestBatch(store, bot, interleave(0, 20))).accepted, 80);
  assert.equal((await ingestBatch(store, bot, interleave(20, 41))).accepted, 84);
  for (const c of chains) {
    assert.deepEqual(await runsOf(c[0]!.session), [[0, 19], [20, 40]]);
    assert.deepEqual(await store.listRecords(c[0]!.session), c);
  }
  const [old] = await store.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM records`;
  assert.equal(old?.n, 0);
});

test('a retry of an overlapping range counts duplicates and stores nothing twice', async () => {
  const chain = sessionChain(randomUUID(), bot, { statements: 14 });
  const id = chain[0]!.session;
  await ingestBatch(store, bot, chain.slice(0, 10));
  assert.deepEqual(await ingestBatch(store, bot, chain.slice(5, 15)), { accepted: 5, duplicates: 5, broken: [] });
  assert.deepEqual(await ingestBatch(store, bot, chain), { accepted: 1, duplicates: 15, broken: [] });
  assert.deepEqual(await ingestBatch(store, bot, chain), { accepted: 0, duplicates: 16, broken: [] });
  assert.deepEqual(await runsOf(id), [[0, 9], [10, 14], [15, 15]]);
  assert.deepEqual(await store.listRecords(id), chain);
  assert.equal((await store.getSession(id))?.records, 16);
});

test('gaps filled later are stored as runs between the stored ones and read back in order', async () => {
  // A session id that array literals and the texts' separator would trip over, were they not escaped.
  const chain = sessionChain(`gap "{a,b}" \\ NULL\n${randomUUID()}`, bot, { statements: 14 });
  const id = chain[0]!.session;
  await ingestBatch(store, bot, [...chain.slice(0, 2), ...chain.slice(4, 6), ...chain.slice(8, 10)]);
  await ingestBatch(store, bot, chain.slice(12));
  // One batch over all of it: 2-3 and 6-7 are missing below the stored top (two runs, found by
  // the lookup), 10-11 as well, and the rest are duplicates.
  const r = await ingestBatch(store, bot, chain.slice(0, 12));
  assert.deepEqual(r, { accepted: 6, duplicates: 6, broken: [] });
  assert.deepEqual(await runsOf(id), [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11], [12, 15]]);
  assert.deepEqual(await store.listRecords(id), chain);
  assert.equal((await store.getSession(id))?.chainError, 'gap at seq 2');
});

test('a session with rows of the old records table: listed merged, duplicates found, floors from both', async () => {
  const chain = sessionChain(randomUUID(), bot, { statements: 14 });
  const id = chain[0]!.session;
  await insertOldRows(store, [...chain.slice(0, 5), ...chain.slice(8, 10)]);
  assert.deepEqual(await ingestBatch(store, bot, [...chain.slice(3, 7), ...chain.slice(10, 13)]), { accepted: 5, duplicates: 2, broken: [] });
  assert.deepEqual(await runsOf(id), [[5, 6], [10, 12]]);
  const listed = await store.listRecords(id);
  assert.deepEqual(listed.map((r) => r.seq), [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12]);
  assert.deepEqual(listed, chain.filter((r) => r.seq <= 12 && r.seq !== 7));
  const link = (seq: number) => ({ seq, hash: chain[seq]!.hash, prevHash: chain[seq]!.prevHash });
  const probes = [4, 5, 6, 7, 8, 9, 10, 11, 12, 100, 0].map((seq) => ({ session: id, seq }));
  const floors = await store.withSessions(bot, [{ id, startedAt: new Date() }], (tx) => tx.floorRecords([...probes, { session: randomUUID(), seq: 3 }]));
  assert.deepEqual(floors, [link(4), link(5), link(6), link(6), link(8), link(9), link(10), link(11), link(12), link(12), link(0), undefined]);
  // The gap at 7 links to both neighbours, one a run's record, the other an old row.
  assert.deepEqual(await ingestBatch(store, bot, chain.slice(7, 8)), { accepted: 1, duplicates: 0, broken: [] });
  assert.deepEqual(await store.listRecords(id), chain.slice(0, 13));
});

/** A chain with the given times and events, sealed as a sidecar would (any RFC 3339 time). */
function chainWith(session: string, items: readonly { time: string; event: RecordEvent }[]): SessionRecord[] {
  let prevHash = GENESIS_HASH;
  return items.map(({ time, event }, seq) => {
    const unsealed = { session, seq, time, prevHash, event };
    const r = { ...unsealed, hash: hashRecord(unsealed) };
    prevHash = r.hash;
    return r;
  });
}

test('records read from runs are shown exactly as old rows show them: times, key orders, field order', async () => {
  const id = randomUUID();
  const client = { user: 'agent', database: 'orders', application_name: 'psql', 'ü': 'non-ascii', zz: 'z', 10: 'n', b: 'b' } as unknown as Record<string, string>;
  const statement = (text: string): RecordEvent => ({
    type: 'statement', text, flow: 'simple', kinds: ['select'], tables: ['t'], masked: { 'long-rule-name': 2, r: 1, 'é': 3 },
    decision: { action: 'allow', policy: 'p', rule: 'r' }, durationMs: 0.25, rows: 3, tag: 'SELECT 3',
  });
  const times = ['2024-03-01T10:00:00.123Z', '2024-03-01T10:00:00Z', '2024-03-01t10:00:00.5z', '2024-03-01 10:00:00.123456+05:30',
    '2024-03-01T10:00:00.1239-0800', '2024-03-01T10:00:00+02', '2016-12-31T23:59:60Z', '2024-03-01T10:00:59.9999996Z'];
  const items = times.map((time, i) => ({
    time,
    event: i === 0 ? { type: 'session.start', protocol: 'postgres', connection: 'orders-db', identity: bot, client } as RecordEvent : statement(`SELECT ${i} -- "quoted"\n\\ end`),
  }));
  const chain = chainWith(id, items);
  const admin = postgres(pg.url, { onnotice: () => undefined });
  await admin`CREATE DATABASE before_runs`;
  await admin.end();
  const old = await PostgresStore.open(pg.url.replace(/\/postgres$/, '/before_runs'));
  try {
    await insertOldRows(old, chain);
    assert.deepEqual((await ingestBatch(store, bot, chain)).accepted, chain.length);
    const fromRows = await old.listRecords(id);
    const fromRuns = await store.listRecords(id);
    assert.equal(JSON.stringify(fromRuns), JSON.stringify(fromRows));
    assert.deepEqual(await runsOf(id), [[0, chain.length - 1]]);
  } finally {
    await old.close();
  }
});

test('planning splits each session into runs above its stored top and single records at or below it', () => {
  const encode = (session: string, seq: number) => ({ record: { session, seq } as SessionRecord, json: `{"s":"${session}","q":${seq}}` });
  const plan = planRunsInsert([encode('a', 7), encode('a', 5), encode('b', 0), encode('a', 2), encode('a', 6), encode('a', 9), encode('b', 1)],
    (s) => (s === 'a' ? 5 : -1));
  assert.deepEqual(plan.runs, {
    sessions: ['a', 'a', 'b'], firsts: [6, 9, 0], lasts: [7, 9, 1],
    texts: '[{"s":"a","q":6},{"s":"a","q":7}]\n[{"s":"a","q":9}]\n[{"s":"b","q":0},{"s":"b","q":1}]',
  });
  assert.deepEqual(plan.below, { sessions: ['a', 'a'], seqs: [2, 5], texts: '{"s":"a","q":2}\n{"s":"a","q":5}' });
  assert.throws(() => planRunsInsert([{ record: { session: 'a', seq: 0 } as SessionRecord, json: '{\n}' }], () => -1), { code: 'API_ERR_INTERNAL' });
});
