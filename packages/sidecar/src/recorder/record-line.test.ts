// Records built and sealed as bytes (record-line.ts, record-queue.ts) must agree with core's
// sealRecord + JSON (same hash, same record), for every event shape, through either recording
// path, in any pattern of background sealing, batches and spills.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalJson, GENESIS_HASH, sealRecord, verifyChain } from '@chaperone/core/records/chain';
import type { RecordEvent, SessionRecord, StatementEvent } from '@chaperone/core/records/types';
import { canonicalEventJson, statementEventJson, verdictJson } from './record-line.js';
import type { StatementParts } from './record-line.js';
import { RecordQueue } from './record-queue.js';
import { SessionRecorder } from './session-recorder.js';

const text = fc.string({ unit: 'binary', maxLength: 40 });
const statementEvent: fc.Arbitrary<StatementEvent> = fc.record({
  type: fc.constant('statement' as const),
  text,
  flow: fc.constantFrom('simple' as const, 'extended' as const),
  kinds: fc.array(fc.constantFrom('select' as const, 'insert' as const, 'drop' as const), { maxLength: 3 }),
  tables: fc.array(text, { maxLength: 3 }),
  decision: fc.record({ action: fc.constantFrom('allow' as const, 'deny' as const, 'approve' as const), policy: text, rule: text, message: text }, { requiredKeys: ['action', 'policy', 'rule'] }),
  durationMs: fc.oneof(fc.double(), fc.integer()),
  rows: fc.nat(),
  tag: text,
  error: fc.record({ code: text, message: text }),
}, { requiredKeys: ['type', 'text', 'flow', 'kinds', 'tables', 'decision'] });

const otherEvent: fc.Arbitrary<RecordEvent> = fc.oneof(
  fc.record({ type: fc.constant('session.end' as const), reason: text, statements: fc.nat(), durationMs: fc.double({ noNaN: true }) }),
  fc.record({
    type: fc.constant('session.start' as const), protocol: fc.constant('postgres' as const), connection: text,
    identity: fc.record({ namespace: text, serviceAccount: text }), client: fc.dictionary(text, text),
  }),
);

test('canonicalEventJson equals canonicalJson for statement events, with or without optional fields', () => {
  fc.assert(fc.property(statementEvent, (e) => { assert.equal(canonicalEventJson(e), canonicalJson(e)); }), { numRuns: 2000 });
});

test('canonicalEventJson falls back for unexpected fields and other event types', () => {
  const odd = { type: 'statement', text: 'x', flow: 'simple', kinds: [], tables: [], decision: { action: 'allow', policy: 'p', rule: 'r' }, extra: { b: 1, a: [2] } } as unknown as RecordEvent;
  assert.equal(canonicalEventJson(odd), canonicalJson(odd));
  const explicitUndefined = { type: 'statement', text: 'x', flow: 'simple', kinds: [], tables: [], decision: { action: 'allow', policy: 'p', rule: 'r', message: undefined }, rows: undefined } as unknown as RecordEvent;
  assert.equal(canonicalEventJson(explicitUndefined), canonicalJson(explicitUndefined));
  fc.assert(fc.property(otherEvent, (e) => { assert.equal(canonicalEventJson(e), canonicalJson(e)); }), { numRuns: 500 });
});

/** The statement event pg-observer built before the fast path: the reference for it. */
function eventOf(parts: StatementParts, decision: StatementEvent['decision'], kinds: StatementEvent['kinds'], tables: string[]): StatementEvent {
  return { type: 'statement', text: parts.text, flow: parts.flow, kinds, tables, decision, durationMs: parts.durationMs, rows: parts.rows, tag: parts.tag, error: parts.error };
}

test('statementEventJson from a verdict and parts equals canonicalJson of the event', () => {
  fc.assert(fc.property(statementEvent, (e) => {
    const v = verdictJson(e.decision, e.kinds, e.tables);
    assert.ok(v);
    const parts: StatementParts = { text: e.text, flow: e.flow, durationMs: e.durationMs, rows: e.rows, tag: e.tag, error: e.error };
    assert.equal(statementEventJson(v, parts), canonicalJson(eventOf(parts, e.decision, e.kinds, e.tables)));
  }), { numRuns: 2000 });
  assert.equal(verdictJson({ action: 'allow', policy: 'p', rule: 'r' }, [1], []), null, 'not a string list: the caller takes the generic path');
});

/** A recorded step: an event through record(), or a statement through recordStatement(). */
type Step = { session: number; event: RecordEvent; fast: boolean };
const step: fc.Arbitrary<Step> = fc.record({ session: fc.nat({ max: 2 }), event: fc.oneof(statementEvent, otherEvent), fast: fc.boolean() });

test('records queued as bytes seal into the records sealRecord gives, in any batch and spill pattern', () => {
  fc.assert(fc.property(fc.array(step, { maxLength: 40 }), fc.array(fc.nat({ max: 12 }), { maxLength: 8 }), fc.nat({ max: 3000 }), (steps, takes, maxBytes) => {
    const queue = new RecordQueue();
    const sessions = [0, 1, 2].map((i) => new SessionRecorder(`s\u00e9${i}"`, { type: 'session.start', protocol: 'postgres', connection: 'c', identity: { namespace: 'n', serviceAccount: 's' }, client: {} }, (...a) => queue.append(...a)));
    const events = new Map<string, RecordEvent[]>(sessions.map((s) => [s.id, []]));
    for (const s of sessions) events.get(s.id)!.push({ type: 'session.start', protocol: 'postgres', connection: 'c', identity: { namespace: 'n', serviceAccount: 's' }, client: {} });
    for (const { session, event, fast } of steps) {
      const s = sessions[session]!;
      const v = event.type === 'statement' ? verdictJson(event.decision, event.kinds, event.tables) : null;
      if (fast && event.type === 'statement' && v) s.recordStatement(v, { text: event.text, flow: event.flow, durationMs: event.durationMs, rows: event.rows, tag: event.tag, error: event.error });
      else s.record(event);
      events.get(s.id)!.push(event);
      if (queue.length % 5 === 0) queue.sealSome(3);
    }
    // Deliver in batches (bodies), the rest as lines (a spill).
    const delivered: string[] = [];
    for (const n of takes) {
      if (queue.length === 0) break;
      const batch = queue.take(Math.max(1, n), maxBytes);
      const lines = (JSON.parse(batch.body.toString('utf8')) as { records: unknown[] }).records.map((r) => JSON.stringify(r));
      assert.equal(lines.length, batch.count);
      assert.ok(batch.count >= 1 && batch.count <= Math.max(1, n));
      assert.deepEqual(queue.lines(batch.count).map((l) => JSON.stringify(JSON.parse(l))), lines, 'a body holds the same lines');
      delivered.push(...lines);
      queue.dropFront(batch.count);
    }
    const rest = queue.lines(queue.length);
    assert.equal(queue.spoolBytes(queue.length).toString('utf8'), rest.map((l) => `${l}\n`).join(''), 'spool bytes are the lines, one per line');
    delivered.push(...rest);
    queue.dropFront(queue.length);
    assert.equal(queue.length, 0);
    assert.equal(queue.unsealed, 0);

    const bySession = new Map<string, SessionRecord[]>();
    for (const line of delivered) {
      const r = JSON.parse(line) as SessionRecord;
      bySession.set(r.session, [...(bySession.get(r.session) ?? []), r]);
    }
    for (const s of sessions) {
      const records = bySession.get(s.id) ?? [];
      const expected = events.get(s.id)!;
      assert.equal(records.length, expected.length);
      let prev = GENESIS_HASH;
      records.forEach((r, i) => {
        const sealed = sealRecord(s.id, i, prev, expected[i]!, new Date(r.time));
        assert.deepEqual(r, JSON.parse(JSON.stringify(sealed)));
        prev = sealed.hash;
      });
      assert.deepEqual(verifyChain(records), { ok: true });
    }
  }), { numRuns: 300 });
});

test('records larger than a chunk, and batches across chunks', () => {
  const queue = new RecordQueue();
  const s = new SessionRecorder('big', { type: 'session.start', protocol: 'postgres', connection: 'c', identity: { namespace: 'n', serviceAccount: 's' }, client: {} }, (...a) => queue.append(...a));
  const v = verdictJson({ action: 'allow', policy: 'p', rule: 'r' }, ['insert'], ['t'])!;
  const huge = `INSERT INTO t VALUES ('${'\u00e9x'.repeat(700_000)}')`;
  for (let i = 0; i < 5000; i++) s.recordStatement(v, { text: i === 2500 ? huge : `select ${i}`, flow: 'simple' });
  // A spill across chunks (and the oversized one) writes exactly the lines.
  assert.ok(queue.heldBytes > 2 * 1024 * 1024);
  assert.ok(queue.spoolBytes(queue.length).equals(Buffer.from(queue.lines(queue.length).map((l) => `${l}\n`).join(''))));
  const records: SessionRecord[] = [];
  while (queue.length > 0) {
    const batch = queue.take(1000, 4 * 1024 * 1024);
    records.push(...(JSON.parse(batch.body.toString('utf8')) as { records: SessionRecord[] }).records);
    queue.dropFront(batch.count);
  }
  assert.equal(records.length, 5001);
  assert.deepEqual(verifyChain(records), { ok: true });
  const big = records[2501]!.event;
  assert.ok(big.type === 'statement' && big.text === huge);
  // The queue is reusable after draining.
  s.recordStatement(v, { text: 'after', flow: 'simple' });
  const [line] = queue.lines(1);
  assert.equal((JSON.parse(line!) as SessionRecord).seq, 5001);
  assert.equal((JSON.parse(line!) as SessionRecord).prevHash, records[5000]!.hash);
});
