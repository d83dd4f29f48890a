// The record-line scanner: a line it calls canonical is exactly core's canonical JSON plus the hash
// tail (else stored bytes and hashes would differ from hashRecord's), and lines the sidecar writes
// are called canonical; bracket matching ignores brackets inside strings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, canonicalRecordJson } from '@chaperone/core/records/canonical';
import { CanonicalScanner, valueEnd } from './canonical-scan.js';
import { storedJson } from './ingest-record.js';

const HASH = 'ab'.repeat(32);
const PREV = 'cd'.repeat(32);

function record(event: unknown, extra: { session?: unknown; seq?: unknown; time?: unknown } = {}) {
  return { session: 's-1', seq: 7, time: '2024-05-01T10:00:00.000Z', prevHash: PREV, event, hash: HASH, ...extra };
}

/** The sidecar's line for a record: canonical JSON with the hash appended. */
function line(r: ReturnType<typeof record>): string {
  return storedJson(canonicalRecordJson(r), r.hash);
}

/** Strings JSON.stringify escapes in each of its ways, brackets and quotes, non-ASCII. */
const tricky = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom('a]b', 'a}b', '{"x":[1]}', 'quote " and \\ backslash', 'tab\tnl\ncr\r\b\f', '\u0001\u001f\u007f', 'é € 𝄞 \u2028\u2029', '\\u0041'),
);
/**
 * Keys the scanner takes as canonical: nothing JSON.stringify escapes (escaped keys are left to the
 * comparison), and not the two fastify's parser refuses or strips.
 */
const plainKey = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('a]b', 'a}b', '[{', 'é', '𝄞'))
  .filter((k) => JSON.stringify(k) === `"${k}"` && k !== '__proto__' && k !== 'constructor');
const jsonOf = (key: fc.Arbitrary<string>): fc.Arbitrary<unknown> => fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, tricky, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null),
    fc.array(tie('value')), fc.dictionary(key, tie('value'))),
})).value;
const eventOf = (key: fc.Arbitrary<string>) => fc.tuple(fc.dictionary(key, jsonOf(key)), fc.constantFrom('statement', 'session.end', 'x'))
  .map(([e, type]) => ({ ...e, type }));
const plainEvent = eventOf(plainKey);
const event = eventOf(fc.oneof(plainKey, tricky));

test('a sidecar line is canonical and ends where its text ends', () => {
  fc.assert(fc.property(plainEvent, fc.string({ unit: 'grapheme', minLength: 1 }), fc.nat(2147483647), (e, session, seq) => {
    const l = line(record(e, { session, seq }));
    const text = `[${l},1]`;
    assert.equal(new CanonicalScanner(text).recordEnd(1), l.length + 1, l);
  }), { numRuns: 2000 });
});

test('a line called canonical is the canonical JSON of what it parses to, plus the hash tail', () => {
  const variants = (r: ReturnType<typeof record>): string[] => [
    JSON.stringify(r),
    JSON.stringify({ event: r.event, prevHash: r.prevHash, seq: r.seq, session: r.session, time: r.time, hash: r.hash }),
    JSON.stringify({ event: r.event, prevHash: r.prevHash, seq: r.seq, session: r.session, time: r.time, hash: r.hash }, null, 1),
    line(r).replace(/"type":/, '"type" :'),
    line(r).replace(/\\n/, '\\u000a').replace(/\\"/, '\\u0022').replace('/', '\\/'),
  ];
  let canonical = 0;
  fc.assert(fc.property(event, fc.oneof(fc.nat(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom('1.0', '1e3', '-0', '0.000001', '1e-7', '01')), (e, seq) => {
    const r = record(e, { seq: typeof seq === 'string' ? JSON.parse(seq.replace(/^01$/, '1')) as number : seq });
    const raw = typeof seq === 'string' ? [line(r).replace(`"seq":${canonicalJson(r.seq)}`, `"seq":${seq}`)] : [];
    for (const l of [...variants(r), ...raw]) {
      const end = new CanonicalScanner(l).recordEnd(0);
      if (end < 0) continue;
      let parsed: ReturnType<typeof record>;
      try { parsed = JSON.parse(l.slice(0, end)) as ReturnType<typeof record>; } catch { continue; }
      canonical++;
      assert.equal(l.slice(0, end), storedJson(canonicalRecordJson(parsed), parsed.hash), l);
    }
  }), { numRuns: 1000 });
  assert.ok(canonical > 100, `some variants were canonical (${canonical})`);
});

test('lines off the canonical form are not called canonical', () => {
  const good = line(record({ type: 'statement', text: 'SELECT 1', rows: 1, durationMs: 0.11, kinds: ['select'] }));
  assert.equal(new CanonicalScanner(good).recordEnd(0), good.length);
  for (const bad of [
    good.replace('"rows":1', '"rows":1.0'),
    good.replace('"rows":1', '"rows":1e0'),
    good.replace('"durationMs":0.11', '"durationMs":0.110'),
    good.replace('"kinds":["select"],', '"kinds":["select"] ,'),
    good.replace('"kinds":["select"],"rows":1,', '"rows":1,"kinds":["select"],'),
    good.replace('"rows":1,', '"rows":1,"rows":2,'),
    good.replace('SELECT 1', 'SELECT\\u00201'),
    good.replace('SELECT 1', 'SELECT\\/1'),
    good.replace('"prevHash"', '"prevhash"'),
    good.replace(',"hash":', ',"extra":1,"hash":'),
    good.replace('"rows":1', '"rows":1,"__proto__":{}'),
    good.replace('"rows":1', '"rows":1,"constructor":{}'),
    good.replace('"text":"SELECT 1"', '"text":"SELECT 1","\\u0074":1'),
    `{"event":${'['.repeat(40)}${']'.repeat(40)}}`,
  ]) {
    assert.equal(new CanonicalScanner(bad).recordEnd(0), -1, bad);
  }
});

test('bracket matching skips brackets, quotes and backslashes inside strings', () => {
  const text = '{"a":"]}\\"[{\\\\","b":[{"c":"}"}]},rest';
  assert.equal(valueEnd(text, 0), text.indexOf(',rest'));
  assert.equal(valueEnd('{"a":"unterminated}', 0), -1);
  assert.equal(valueEnd('{"a":[1,2}', 0), -1);
  assert.equal(valueEnd('[1,[2]]x', 0), 7);
});
