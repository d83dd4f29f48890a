// The fast canonical encoders must give exactly canonicalJson's bytes, for well-formed events and
// for anything a request body may hold in their place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalEventJson, canonicalJson, canonicalRecordJson } from './canonical.js';

const text = fc.string({ unit: 'binary', maxLength: 30 });
const wellFormed = fc.record({
  type: fc.constant('statement'),
  text,
  flow: fc.constantFrom('simple', 'extended'),
  kinds: fc.array(fc.constantFrom('select', 'insert', 'drop'), { maxLength: 3 }),
  tables: fc.array(text, { maxLength: 3 }),
  decision: fc.record({ action: fc.constantFrom('allow', 'deny', 'approve'), policy: text, rule: text, message: text }, { requiredKeys: ['action', 'policy', 'rule'] }),
  durationMs: fc.oneof(fc.double(), fc.integer()),
  rows: fc.nat(),
  tag: text,
  error: fc.record({ code: text, message: text }),
}, { requiredKeys: ['type', 'text', 'flow', 'kinds', 'tables', 'decision'] });

/** A well-formed event with one field (or decision field) replaced by anything at all. */
const damaged = fc.tuple(wellFormed, fc.constantFrom('text', 'flow', 'kinds', 'tables', 'decision', 'durationMs', 'rows', 'tag', 'error', 'extra', 'decision.action', 'decision.message', 'decision.extra'), fc.anything({ withNullPrototype: true, withObjectString: true }))
  .map(([e, key, value]) => {
    const out: Record<string, unknown> = { ...e };
    if (key.startsWith('decision.')) out.decision = { ...e.decision, [key.slice(9)]: value };
    else out[key] = value;
    return out;
  });

const record = (event: fc.Arbitrary<unknown>) => fc.record({
  session: fc.oneof(fc.uuid(), fc.anything()),
  seq: fc.oneof(fc.nat(), fc.anything()),
  time: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.anything()),
  prevHash: fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), fc.anything()),
  event,
}, { requiredKeys: [] });

test('canonicalEventJson equals canonicalJson for statement events, with or without optional fields', () => {
  fc.assert(fc.property(wellFormed, (e) => { assert.equal(canonicalEventJson(e), canonicalJson(e)); }), { numRuns: 2000 });
});

test('canonicalEventJson equals canonicalJson whatever a field holds', () => {
  fc.assert(fc.property(damaged, (e) => { assert.equal(canonicalEventJson(e), canonicalJson(e)); }), { numRuns: 3000 });
  fc.assert(fc.property(fc.anything(), (e) => { assert.equal(canonicalEventJson(e), canonicalJson(e)); }), { numRuns: 500 });
});

test('canonicalRecordJson equals canonicalJson of the unsealed record', () => {
  fc.assert(fc.property(record(fc.oneof(wellFormed, damaged, fc.anything())), (r) => {
    const { session, seq, time, prevHash, event } = r;
    assert.equal(canonicalRecordJson(r), canonicalJson({ session, seq, time, prevHash, event }));
  }), { numRuns: 3000 });
});

test('edge values take the generic path or agree with it', () => {
  const base = { type: 'statement', text: 'x', flow: 'simple', kinds: [], tables: [], decision: { action: 'allow', policy: 'p', rule: 'r' } };
  for (const e of [
    { ...base, durationMs: Number.NaN }, { ...base, durationMs: -0 }, { ...base, rows: Number.POSITIVE_INFINITY },
    { ...base, tag: { b: 1, a: 2 } }, { ...base, rows: () => 1 }, { ...base, kinds: [{ b: 1, a: 2 }] },
    { ...base, error: { message: 'm', code: 'c' } }, { ...base, error: [] }, { ...base, decision: [] },
    JSON.parse('{"type":"statement","text":"x","flow":"simple","kinds":[],"tables":[],"decision":{"action":"allow","policy":"p","rule":"r"},"__proto__":{"b":1}}') as unknown,
  ]) assert.equal(canonicalEventJson(e), canonicalJson(e), JSON.stringify(e));
});
