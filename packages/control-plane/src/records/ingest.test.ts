// ingestBatch on a real store: statements per batch, multi-session batches, all-or-nothing
// ownership, and agreement with the plain reference model over random batch sequences.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { sealRecord } from '@chaperone/core/records/chain';
import type { SessionRecord } from '@chaperone/core/records/types';
import { PostgresStore } from '../store/postgres-store.js';
import { startTestPostgres, type TestPostgres } from '../testing/embedded.js';
import { sessionChain } from '../testing/records.js';
import { ingestBatch } from './ingest.js';
import { ReferenceModel } from './reference-model.js';

const bot = { namespace: 'agents', serviceAccount: 'support-bot' };
const other = { namespace: 'agents', serviceAccount: 'other-bot' };
let pg: TestPostgres;
let store: PostgresStore;
let statements: string[] = [];

before(async () => {
  pg = await startTestPostgres();
  store = await PostgresStore.open(pg.url, { onQuery: (q) => statements.push(q.trim().split(/\s+/, 1)[0]!.toUpperCase()) });
});
after(async () => {
  await store?.close();
  await pg?.cleanup();
});

/** The statements one ingestBatch sends, by their first keyword. */
async function statementsOf(records: readonly SessionRecord[]): Promise<string[]> {
  statements = [];
  await ingestBatch(store, bot, records);
  return statements;
}

test('a 500-record batch over 4 sessions costs the same few statements as a 4-record one', async () => {
  const chains = Array.from({ length: 4 }, () => sessionChain(randomUUID(), bot, { statements: 250, end: false }));
  const LOCK_INSERT_UPDATE = ['BEGIN', 'INSERT', 'SELECT', 'INSERT', 'UPDATE', 'COMMIT'];
  assert.deepEqual(await statementsOf(chains.flatMap((c) => c.slice(0, 1))), LOCK_INSERT_UPDATE);
  assert.deepEqual(await statementsOf(chains.flatMap((c) => c.slice(1, 126))), LOCK_INSERT_UPDATE);
  // A gap after the stored head is found from the session row alone.
  assert.deepEqual(await statementsOf(chains.flatMap((c) => c.slice(200, 251))), LOCK_INSERT_UPDATE);
  // Stored duplicates and a gap fill add one lookup for all of them.
  assert.deepEqual(await statementsOf(chains.flatMap((c) => [...c.slice(100, 110), ...c.slice(120, 200)])),
    [...LOCK_INSERT_UPDATE.slice(0, 4), 'SELECT', 'UPDATE', 'COMMIT']);
  for (const c of chains) {
    const s = await store.getSession(c[0]!.session);
    assert.equal(s?.records, 251);
    assert.equal(s?.chainOk, false, 'the third batch left a gap at 126');
    assert.equal(s?.chainError, 'gap at seq 126');
  }
});

test('one batch carries several sessions: new, continued, gap-filled, with repeats', async () => {
  const a = sessionChain(randomUUID(), bot, { statements: 6 });
  const b = sessionChain(randomUUID(), bot, { statements: 3 });
  const c = sessionChain(randomUUID(), bot, { statements: 4 });
  assert.deepEqual(await ingestBatch(store, bot, [...a.slice(0, 3), ...c.slice(0, 2), ...c.slice(4)]),
    { accepted: 7, duplicates: 0, broken: [{ session: c[0]!.session, seq: 2, reason: 'gap' }] });
  const rival = sealRecord(b[0]!.session, 2, b[1]!.hash, { ...b[2]!.event, text: 'SELECT rival' } as SessionRecord['event'], new Date(b[2]!.time));
  const batch = [b[2]!, ...a.slice(2), c[3]!, b[0]!, rival, b[1]!, c[2]!, b[2]!, a[4]!, b[3]!, b[4]!];
  const r = await ingestBatch(store, bot, batch);
  assert.deepEqual(r, {
    accepted: 5 + 5 + 2, // a 3..7, b 0..4, c 2..3
    duplicates: 1 + 1 + 1, // a 2 (stored), a 4 (repeat), b 2 (repeat)
    broken: [{ session: b[0]!.session, seq: 2, reason: 'duplicate-hash-mismatch' }],
  });
  assert.deepEqual(await store.listRecords(c[0]!.session), c);
  assert.deepEqual(await store.listRecords(a[0]!.session), a);
  assert.equal((await store.getSession(b[0]!.session))?.chainError, 'duplicate-hash-mismatch at seq 2');
  assert.equal((await store.getSession(a[0]!.session))?.chainOk, true);
});

test('a batch with a session of another identity stores nothing, not even its other sessions', async () => {
  const theirs = sessionChain(randomUUID(), other, { statements: 1 });
  await ingestBatch(store, other, theirs.slice(0, 1));
  const mine = sessionChain(randomUUID(), bot, { statements: 1 });
  await assert.rejects(ingestBatch(store, bot, [...mine, theirs[1]!]), { code: 'RECORDS_ERR_FORBIDDEN' });
  assert.equal(await store.getSession(mine[0]!.session), undefined);
  assert.equal((await store.listRecords(theirs[0]!.session)).length, 1);
});

test('any sequence of batches gives the reference model\'s answers and stored state', async () => {
  // Per case: two sessions of 8 records, each record sent as itself or as a rival with the same
  // seq and prevHash but another event; batches are arbitrary picks in arbitrary order.
  const pick = fc.record({ session: fc.nat(1), seq: fc.nat(7), rival: fc.boolean() });
  await fc.assert(fc.asyncProperty(fc.array(fc.array(pick, { maxLength: 12 }), { minLength: 1, maxLength: 5 }), async (batches) => {
    const chains = [0, 1].map(() => sessionChain(randomUUID(), bot, { statements: 6 }));
    const rivals = chains.map((chain) => chain.map((r) => sealRecord(r.session, r.seq, r.prevHash, { ...r.event, rival: true } as unknown as SessionRecord['event'], new Date(r.time))));
    const model = new ReferenceModel();
    for (const batch of batches) {
      const records = batch.map((p) => (p.rival ? rivals : chains)[p.session]![p.seq]!);
      assert.deepEqual(await ingestBatch(store, bot, records), model.ingest(records));
    }
    for (const chain of chains) {
      const id = chain[0]!.session;
      const expected = model.sessions.get(id);
      const s = await store.getSession(id);
      assert.equal(s?.records, expected?.count);
      assert.equal(s?.chainError ?? null, expected?.chainError ?? null);
      const stored = await store.listRecords(id);
      assert.deepEqual(stored, [...(expected?.records.values() ?? [])].sort((x, y) => x.seq - y.seq));
    }
  }), { numRuns: 60 });
});

test('a session created without its start record starts at the batch\'s earliest time, whatever the times\' form', async () => {
  const id = randomUUID();
  const base = Date.parse('2024-03-01T12:00:00.000Z');
  const [, r1, r2, r3] = sessionChain(id, bot, { statements: 3, end: false, start: new Date(base) });
  // Hashes do not matter here (a broken chain is kept), only the session row's start.
  const records = [
    { ...r2!, time: '2024-03-01T11:59:59.500Z' },
    { ...r1!, time: '2024-03-01 12:59:59.250+01:00' },
    { ...r3!, time: '2024-03-01T12:00:03.000Z' },
  ];
  await ingestBatch(store, bot, records);
  assert.equal((await store.getSession(id))?.startedAt, '2024-03-01T11:59:59.250Z');
});
