// The four strategies on whole values and on spans, Unicode included; hash keyed and deterministic.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DETECTOR_NAMES } from '../policy/types.js';
import { findSensitive } from './detectors.js';
import { HASH_PREFIX, maskPartial, maskSpans, maskValue, REDACTED, type MaskSpec } from './strategy.js';

const KEY = new Uint8Array(32).fill(1);
const OTHER_KEY = new Uint8Array(32).fill(2);
const spec = (strategy: MaskSpec['strategy'], extra: Partial<MaskSpec> = {}): MaskSpec => ({ strategy, key: KEY, ...extra });
const ALL = new Set(DETECTOR_NAMES);

describe('maskValue', () => {
  test('redact gives the same token for every value; null gives null', () => {
    assert.equal(maskValue('4111111111111111', spec('redact')), REDACTED);
    assert.equal(maskValue('', spec('redact')), REDACTED);
    assert.equal(maskValue('alice@example.com', spec('null')), null);
  });

  test('partial keeps the last `keep` characters (default 4) and stars the rest, separators included', () => {
    assert.equal(maskValue('4111 1111 1111 1234', spec('partial')), '***************1234');
    assert.equal(maskValue('4111111111111234', spec('partial', { keep: 6 })), '**********111234');
    assert.equal(maskValue('', spec('partial')), '');
  });

  test('partial never shows more than half of a short value', () => {
    assert.equal(maskPartial('abcd', 4), '**cd');
    assert.equal(maskPartial('abc', 4), '**c');
    assert.equal(maskPartial('a', 4), '*');
  });

  test('partial counts code points: surrogate pairs are never split', () => {
    assert.equal(maskPartial('héllo wörld', 4), '*******örld');
    assert.equal(maskPartial('😀😀😀😀😀😀abc😀', 4), '******abc😀');
    assert.equal(maskPartial('ab😀😀', 2), '**😀😀');
    assert.equal(maskPartial('日本語のテキスト', 2), '******スト');
  });

  test('hash is h: and 16 base64url characters, deterministic per key, different across keys', () => {
    const a = maskValue('alice@example.com', spec('hash'));
    assert.match(a ?? '', /^h:[A-Za-z0-9_-]{16}$/);
    assert.equal(maskValue('alice@example.com', spec('hash')), a);
    assert.notEqual(maskValue('alice@example.com', spec('hash', { key: OTHER_KEY })), a);
    assert.notEqual(maskValue('bob@example.com', spec('hash')), a);
    assert.notEqual(maskValue('😀', spec('hash')), maskValue('\ufffd', spec('hash')));
  });
});

describe('maskSpans', () => {
  const text = 'user alice@example.com paid with 4111 1111 1111 1111 — ok';
  const hits = findSensitive(text, ALL);

  test('each strategy replaces only the spans', () => {
    assert.equal(maskSpans(text, hits, spec('redact')), `user ${REDACTED} paid with ${REDACTED} — ok`);
    assert.equal(maskSpans(text, hits, spec('null')), `user ${REDACTED} paid with ${REDACTED} — ok`);
    assert.equal(maskSpans(text, hits, spec('partial')), 'user *************.com paid with ***************1111 — ok');
    const hashed = maskSpans(text, hits, spec('hash'));
    assert.match(hashed, /^user h:[\w-]{16} paid with h:[\w-]{16} — ok$/);
  });

  test('no hits, the text itself; overlapping or out-of-range hits are skipped', () => {
    assert.equal(maskSpans(text, [], spec('redact')), text);
    assert.equal(maskSpans('abcdef', [{ detector: 'email', start: 1, end: 3 }, { detector: 'email', start: 2, end: 4 }, { detector: 'email', start: 5, end: 99 }], spec('redact')),
      `a${REDACTED}def`);
  });
});

describe('properties', () => {
  const sensitive = fc.constantFrom('alice@example.com', '4111 1111 1111 1111', '5555555555554444', '+44 20 7946 0958', '(415) 555-2671', '123-45-6789',
    'DE89 3704 0044 0532 0130 00', 'AKIAIOSFODNN7EXAMPLE', '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',
    'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl', '-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----');
  const filler = fc.constantFrom(' ', ', ', '\n', ' — ', ' 😀 ', ' données: ', ' id=7 ');
  const strategies = fc.constantFrom<MaskSpec['strategy']>('redact', 'partial', 'hash', 'null');

  test('masked text never contains an original sensitive span', () => {
    fc.assert(fc.property(fc.array(fc.tuple(filler, sensitive), { minLength: 1, maxLength: 5 }), strategies, fc.integer({ min: 1, max: 8 }), (parts, strategy, keep) => {
      const text = parts.map(([f, s]) => f + s).join('') + ' end';
      const out = maskSpans(text, findSensitive(text, ALL), spec(strategy, { keep }));
      for (const [, s] of parts) assert.ok(!out.includes(s), `${JSON.stringify(s)} in ${JSON.stringify(out)}`);
    }), { numRuns: 500 });
  });

  test('hash: deterministic per key, different across keys, any Unicode string', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (v, k1, k2) => {
      const a = maskValue(v, { strategy: 'hash', key: k1 });
      assert.equal(maskValue(v, { strategy: 'hash', key: k1 }), a);
      if (Buffer.compare(k1, k2) !== 0) assert.notEqual(maskValue(v, { strategy: 'hash', key: k2 }), a);
      assert.ok(a?.startsWith(HASH_PREFIX));
    }), { numRuns: 300 });
  });

  test('partial keeps the length in code points and never more than half visible', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: 1, max: 64 }), (v, keep) => {
      const out = maskPartial(v, keep);
      assert.equal([...out].length, [...v].length);
      const visible = [...out].length - (/^\**/.exec(out)?.[0].length ?? 0);
      assert.ok(visible <= Math.min(keep, Math.floor([...v].length / 2)) || [...v].slice(-visible).every((c) => c === '*'));
    }), { numRuns: 500 });
  });
});
