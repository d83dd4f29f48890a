// sealLine must agree with core's sealRecord + JSON (same hash, same record), for every event
// shape, including statement events the fast path declines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalJson, GENESIS_HASH, sealRecord, verifyChain } from '@chaperone/core/records/chain';
import type { RecordEvent, SessionRecord, StatementEvent } from '@chaperone/core/records/types';
import { canonicalEventJson, sealLine } from './record-line.js';
import { SessionRecorder } from './session-recorder.js';
import type { PendingRecord } from './session-recorder.js';

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

test('sealLine gives the record sealRecord gives, as JSON', () => {
  fc.assert(fc.property(fc.oneof(statementEvent, otherEvent), text, fc.nat(), fc.integer({ min: 0, max: 4_000_000_000_000 }), (event, session, seq, timeMs) => {
    const { line, hash } = sealLine(session, seq, timeMs, GENESIS_HASH, event);
    const expected = sealRecord(session, seq, GENESIS_HASH, event, new Date(timeMs));
    assert.equal(hash, expected.hash);
    assert.deepEqual(JSON.parse(line), JSON.parse(JSON.stringify(expected)));
  }), { numRuns: 1000 });
});

test('SessionRecorder seals lazily in sequence order, whichever record is asked for first', () => {
  const queued: PendingRecord[] = [];
  const s = new SessionRecorder('sess', { type: 'session.start', protocol: 'postgres', connection: 'c', identity: { namespace: 'n', serviceAccount: 's' }, client: {} }, (r) => queued.push(r));
  for (let i = 0; i < 5; i++) s.record({ type: 'statement', text: `select ${i}`, flow: 'simple', kinds: ['select'], tables: [], decision: { action: 'allow', policy: 'p', rule: 'r' } });
  s.end({ type: 'session.end', reason: 'client closed', statements: 5, durationMs: 1 });
  s.end({ type: 'session.end', reason: 'twice', statements: 5, durationMs: 1 });
  assert.equal(queued.length, 7);
  // Ask for a later line first: the earlier ones are sealed on the way, so the chain is intact.
  const fourth = queued[3]!.line();
  const records = queued.map((r) => JSON.parse(r.line()) as SessionRecord);
  assert.equal(JSON.stringify(records[3]), JSON.stringify(JSON.parse(fourth)));
  assert.deepEqual(records.map((r) => r.seq), [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(verifyChain(records), { ok: true });
});
