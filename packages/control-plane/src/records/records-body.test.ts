// The records body scanner against whole-body JSON.parse plus batch-shape's validator: the same
// records (stored JSON, chain fields, event summary) for every body it takes, and every body it
// leaves is one the generic path must answer (invalid JSON, a validation error, another shape).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalRecordJson } from '@chaperone/core/records/canonical';
import { GENESIS_HASH, hashCanonical, sealRecord } from '@chaperone/core/records/chain';
import type { RecordEvent, SessionRecord } from '@chaperone/core/records/types';
import { sessionChain } from '../testing/records.js';
import { recordsBodyProblem } from './batch-shape.js';
import { toIngestRecord, storedJson, type IngestRecord } from './ingest-record.js';
import { scanRecordsBody } from './records-body.js';

const bot = { namespace: 'agents', serviceAccount: 'support-bot' };
const MAX = 50;

/** A body as the sidecar's record queue writes it. */
function sidecarBody(records: readonly SessionRecord[]): string {
  return `{"records":[${records.map((r) => storedJson(canonicalRecordJson(r), r.hash)).join(',')}]}`;
}

/** What the generic path makes of a body it accepts. */
function viaGenericPath(text: string): IngestRecord[] {
  const body = JSON.parse(text) as { records: SessionRecord[] };
  assert.equal(recordsBodyProblem(body, MAX), null);
  return body.records.map((r) => toIngestRecord(r));
}

function plain(records: readonly IngestRecord[]) {
  return records.map((r) => ({ session: r.session, seq: r.seq, time: r.time, json: r.json, hash: r.hash, prevHash: r.prevHash, event: r.event }));
}

function scanned(text: string): IngestRecord[] {
  const s = scanRecordsBody(text, MAX);
  assert.ok(s.ok, `scanned: ${s.ok ? '' : s.why}`);
  return s.records;
}

const awkward = ['a]b}c', 'say "hi"', 'back\\slash', 'tab\tnl\n', '\u0001\u001f', 'é € 𝄞', '\u2028\u2029', '{"records":[]}', ',"hash":"'];

function chainOf(texts: readonly string[]): SessionRecord[] {
  const id = randomUUID();
  const events: RecordEvent[] = [
    { type: 'session.start', protocol: 'postgres', connection: 'orders-db', identity: bot, client: { user: 'a"gent]' } },
    ...texts.map((text, i): RecordEvent => ({
      type: 'statement', text, flow: 'simple', kinds: ['select'], tables: ['t]'],
      decision: i % 2 ? { action: 'deny', policy: 'p', rule: 'p#0', message: text } : { action: 'allow', policy: 'p', rule: 'default' }, rows: i, durationMs: 0.25 * i,
    })),
    { type: 'session.end', reason: 'client', statements: texts.length, durationMs: 1.5 },
  ];
  let prev = GENESIS_HASH;
  return events.map((e, seq) => {
    const r = sealRecord(id, seq, prev, e, new Date(1_700_000_000_000 + seq));
    prev = r.hash;
    return r;
  });
}

test('a sidecar body: its lines are the stored JSON, hashes check over the text inside them', () => {
  const chain = chainOf(awkward);
  const text = sidecarBody(chain);
  const records = scanned(text);
  assert.deepEqual(plain(records), plain(viaGenericPath(text)));
  for (const [i, r] of records.entries()) {
    assert.ok(text.includes(r.json), 'stored as sent');
    assert.equal(r.hash, chain[i]!.hash);
    assert.equal(r.prevHash, chain[i]!.prevHash);
    assert.equal(hashCanonical(r.canonical()), r.hash);
  }
  assert.deepEqual(records[0]!.event, { type: 'session.start', protocol: 'postgres', connection: 'orders-db', identity: bot });
  assert.deepEqual(records.slice(1, 3).map((r) => r.event), [{ type: 'statement', denied: false }, { type: 'statement', denied: true }]);
  assert.deepEqual(records.at(-1)!.event, { type: 'session.end' });
  assert.equal(new Set(records.map((r) => r.session)).size, 1);
});

test('bodies in other forms are accepted the same, their records encoded again', () => {
  const chain = chainOf(awkward);
  const expected = plain(viaGenericPath(sidecarBody(chain)));
  // fastify inject's and most clients' form: JSON.stringify in the record's own key order.
  assert.deepEqual(plain(scanned(JSON.stringify({ records: chain }))), expected);
  // Whitespace inside a line, a number JSON.stringify writes otherwise, extra keys.
  const odd = sidecarBody(chain).replace('"type":"statement"', '"type" : "statement"').replace('"rows":0', '"rows":0.0');
  assert.deepEqual(plain(scanned(odd)), expected);
  const extra = JSON.stringify({ records: chain.map((r) => ({ ...r, extra: [1, { '}': ']' }] })) });
  assert.deepEqual(plain(scanned(extra)), expected);
  assert.deepEqual(scanRecordsBody('{"records":[]}', MAX), { ok: true, records: [] });
});

test('bodies of another shape, invalid or too long are left to the generic path', () => {
  const chain = sessionChain(randomUUID(), bot, { statements: 3 });
  const good = sidecarBody(chain);
  const cases: [string, string][] = [
    ['', 'shape'],
    ['null', 'shape'],
    [JSON.stringify({ records: chain }, null, 1), 'shape'],
    [good.replace('{"records":[', '{"records": ['), 'shape'],
    [good.replace('{"records":[', '{"other":1,"records":['), 'shape'],
    [`${good.slice(0, -2)}],"other":[1]}`, 'shape'],
    [good.slice(0, -20) + ']}', 'shape'],
    [good.slice(0, good.length / 2), 'shape'],
    [good.replace('},{', '},1,{'), 'shape'],
    [good.replace('},{', '}{'), 'shape'],
    [good.replace('"seq":1,', '"seq":1,,'), 'json'],
    [good.replace('"seq":1,', '"seq":-1,'), 'invalid'],
    [good.replace(/"hash":"[0-9a-f]{64}"/, '"hash":"xyz"'), 'invalid'],
    [good.replace('"type":"statement"', '"type":"statement","__proto__":{"x":1}'), 'suspect'],
    [good.replace('"type":"statement"', '"type":"statement","\\u005f_proto__":{"x":1}'), 'suspect'],
    [sidecarBody(sessionChain(randomUUID(), bot, { statements: MAX })), 'too-many'],
  ];
  for (const [text, why] of cases) assert.deepEqual(scanRecordsBody(text, MAX), { ok: false, why }, text);
});

const hex = fc.stringMatching(/^[0-9a-f]{64}$/);
const anyRecord = fc.record({
  session: fc.oneof(fc.uuid(), fc.string({ unit: 'grapheme', maxLength: 205 }), fc.integer()),
  seq: fc.oneof(fc.nat(), fc.integer(), fc.double()),
  time: fc.oneof(fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString()), fc.constant('2024-01-01 10:00:00+01:00'), fc.string()),
  prevHash: fc.oneof(hex, fc.string()),
  hash: fc.oneof(hex, fc.string()),
  event: fc.oneof(
    fc.record({ type: fc.constantFrom('statement', 'session.end', 'session.start', 'x'), text: fc.string({ unit: 'grapheme' }), decision: fc.oneof(fc.constant(null), fc.record({ action: fc.constantFrom('deny', 'allow') })) }, { requiredKeys: ['type'] }),
    fc.record({ type: fc.constant('session.start'), protocol: fc.string(), connection: fc.string(), identity: fc.record({ namespace: fc.string(), serviceAccount: fc.string() }) }),
    fc.jsonValue(),
  ),
}, { requiredKeys: ['session', 'seq', 'time', 'prevHash', 'hash'] });
const validRecord = fc.record({
  session: fc.oneof(fc.uuid(), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 })),
  seq: fc.nat(),
  time: fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString()),
  prevHash: hex,
  hash: hex,
  event: fc.record({
    type: fc.constantFrom('statement', 'session.end', 'x'), text: fc.string({ unit: 'grapheme' }), rows: fc.oneof(fc.nat(), fc.double({ noNaN: true, noDefaultInfinity: true })),
    decision: fc.oneof(fc.constant(null), fc.record({ action: fc.constantFrom('deny', 'allow'), rule: fc.string() })), more: fc.jsonValue(),
  }, { requiredKeys: ['type'] }),
});
/** Every line in the sidecar's form (where its fields allow), or as JSON.stringify writes it. */
const anyBody = fc.tuple(fc.array(fc.oneof({ arbitrary: validRecord, weight: 5 }, { arbitrary: anyRecord, weight: 1 }), { maxLength: 8 }), fc.boolean()).map(([records, canonical]) => (canonical
  ? `{"records":[${records.map((r) => (typeof r.hash === 'string' ? `${canonicalRecordJson(r).slice(0, -1)},"hash":${JSON.stringify(r.hash)}}` : JSON.stringify(r))).join(',')}]}`
  : JSON.stringify({ records })));

test('on random bodies the scanner agrees with JSON.parse and the validator', () => {
  let taken = 0;
  let left = 0;
  fc.assert(fc.property(anyBody, (text) => {
    const s = scanRecordsBody(text, MAX);
    let parsed: unknown;
    try { parsed = JSON.parse(text); } catch { parsed = undefined; }
    const valid = parsed !== undefined && recordsBodyProblem(parsed, MAX) === null;
    if (s.ok) {
      if (s.records.length > 0) taken++;
      assert.ok(valid, `taken but not valid: ${text}`);
      assert.deepEqual(plain(s.records), plain(viaGenericPath(text)));
    } else {
      left++;
      assert.ok(!valid || s.why === 'suspect', `left (${s.why}) but valid: ${text}`);
    }
  }), { numRuns: 3000 });
  assert.ok(taken > 300 && left > 300, `both outcomes seen (${taken} non-empty taken, ${left} left)`);
});
