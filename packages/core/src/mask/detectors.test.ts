// Each detector on positives and tricky negatives; the pre-check never hides a hit; linear scans.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DETECTOR_NAMES, type DetectorName } from '../policy/types.js';
import { findCards, findIbans, findSsns } from './detect-numbers.js';
import { findPhones } from './detect-phone.js';
import { findCloudKeys, findEmails, findJwts, findPrivateKeys } from './detect-tokens.js';
import { findSensitive, mayContainSensitive, type DetectorHit } from './detectors.js';

const RAW: Record<DetectorName, (text: string, out: DetectorHit[]) => void> = {
  credit_card: findCards, email: findEmails, phone: findPhones, us_ssn: findSsns, iban: findIbans, jwt: findJwts, cloud_key: findCloudKeys, private_key: findPrivateKeys,
};

const ALL: ReadonlySet<DetectorName> = new Set(DETECTOR_NAMES);

/** The spans `detector` finds in `text`, as strings. */
function found(detector: DetectorName, text: string): string[] {
  return findSensitive(text, new Set([detector])).map((h) => text.slice(h.start, h.end));
}

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onL\n-----END RSA PRIVATE KEY-----';

/** detector → [text, the spans it must find] */
const CASES: Record<DetectorName, [string, string[]][]> = {
  credit_card: [
    ['4111111111111111', ['4111111111111111']],
    ['card: 4111 1111 1111 1111.', ['4111 1111 1111 1111']],
    ['amex 3782-822463-10005 and mc 5555555555554444', ['3782-822463-10005', '5555555555554444']],
    ['2-series 2223003122003222, unionpay 6200000000000005', ['2223003122003222', '6200000000000005']],
    ['luhn failure 4111111111111112', []],
    ['too short 411111111111 and too long 41111111111111111111', []],
    ['all zeros 0000000000000000, issuer 9 9999999999999995', []],
    ['part of a word x4111111111111111 or 4111111111111111y', []],
    ['a decimal 12.4111111111111111 and an amount 4111111111111111.50', []],
    ['short groups 41 11 11 11 11 11 11 11', []],
    ['timestamp 2024-01-15 10:23:45.123456+00', []],
    ['in longer runs: 4111 1111 1111 1111 2024, DE89 3704 0044 0532 0130 00 5555 5555 5555 4444', ['4111 1111 1111 1111', '5555 5555 5555 4444']],
    ['dash-bound 12-4111 1111 1111 1111', []],
  ],
  email: [
    ['alice@example.com', ['alice@example.com']],
    ['Write to Bob.Smith+tag@mail.example.co.uk.', ['Bob.Smith+tag@mail.example.co.uk']],
    ['<a_b-c%d@sub-domain.example.org>, x@y.io', ['a_b-c%d@sub-domain.example.org', 'x@y.io']],
    ['no tld user@localhost, numeric tld a@b.123', []],
    ['bad domains a@-x.com a@x-.com a@x..com a@.com', []],
    ['a handle @alice and a@ and @example.com', []],
    ['trailing dot in local a.@example.com', []],
    ['many ats a@b@c@d@e', []],
  ],
  phone: [
    ['+14155552671', ['+14155552671']],
    ['call +1 (415) 555-2671 or +44 20 7946 0958', ['+1 (415) 555-2671', '+44 20 7946 0958']],
    ['(415) 555-2671, 415-555-2671, 415.555.2671, 1-800-555-0199', ['(415) 555-2671', '415-555-2671', '415.555.2671', '1-800-555-0199']],
    ['UK 020 7946 0958, FR 01 23 45 67 89, DE 030 1234567', ['020 7946 0958', '01 23 45 67 89', '030 1234567']],
    ['digit runs 4155552671 and 14155552671', []],
    ['dates 2024-01-15 and 15.01.2024, time 10:23:45', []],
    ['ip 192.168.100.200 and version 10.2.33.4444', []],
    ['area 0/1 is not NANP: 015-555-2671 115-555-2671, exchange 1: 415-155-2671', []],
    ['too short +1234567, card 4111 1111 1111 1111', []],
    ['ssn-shaped 123-45-6789', []],
    ['in longer runs: 4111 1111 1111 1111 (415) 555-2671, 12 415 555 2671', ['(415) 555-2671', '415 555 2671']],
    ['dash-bound 12-415-555-2671', []],
  ],
  us_ssn: [
    ['123-45-6789', ['123-45-6789']],
    ['ssn 078 05 1120; next', ['078 05 1120']],
    ['area 000-12-3456 666-12-3456 900-12-3456 999-12-3456', []],
    ['group 123-00-4567 serial 123-45-0000', []],
    ['unformatted 123456789, mixed 123-45 6789', []],
    ['embedded 1123-45-6789 and 123-45-67890 and x123-45-6789', []],
  ],
  iban: [
    ['DE89370400440532013000', ['DE89370400440532013000']],
    ['IBAN: DE89 3704 0044 0532 0130 00, GB82 WEST 1234 5698 7654 32.', ['DE89 3704 0044 0532 0130 00', 'GB82 WEST 1234 5698 7654 32']],
    ['NO9386011117947 FR1420041010050500013M02606', ['NO9386011117947', 'FR1420041010050500013M02606']],
    ['bad checksum DE88370400440532013000', []],
    ['wrong length DE8937040044053201300 and DE893704004405320130001', []],
    ['unknown country ZZ89370400440532013000, lower case de89370400440532013000', []],
    ['odd grouping DE89 37040 0440532013000', []],
  ],
  jwt: [
    [JWT, [JWT]],
    [`Authorization: Bearer ${JWT}\n`, [JWT]],
    ['alg none eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0. ok', ['eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']],
    ['header without alg eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ4In0.c2ln', []],
    ['not json eyJub3QganNvbg.eyJzdWIiOiJ4In0.c2ln, two parts eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0', []],
    ['empty payload eyJhbGciOiJub25lIn0..c2ln and prefix xeyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln', []],
  ],
  cloud_key: [
    ['AKIAIOSFODNN7EXAMPLE', ['AKIAIOSFODNN7EXAMPLE']],
    ['id=AKIAIOSFODNN7EXAMPLE secret=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', ['AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY']],
    ['aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', ['wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY']],
    ['secret first: aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY then AKIAIOSFODNN7EXAMPLE', ['wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'AKIAIOSFODNN7EXAMPLE']],
    ['ASIAY34FZKBOKMUTVV7A AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe', ['ASIAY34FZKBOKMUTVV7A', 'AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe']],
    ['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 github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz', ['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', 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz']],
    ['xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx sk_live_4eC39HqLyjWDarjtT1zdp7dc', ['xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc']],
    ['a 40-char value alone: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', []],
    ['short AKIAIOSFODNN7EXAMPL, long AKIAIOSFODNN7EXAMPLEX, inside xAKIAIOSFODNN7EXAMPLE', []],
    ['prefix only ghp_short sk_live_x xoxb-1 AIzaShort', []],
  ],
  private_key: [
    [PEM, [PEM]],
    [`key:\n${PEM}\ntrailer`, [PEM]],
    ['-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----', ['-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----']],
    ['cut off -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B', ['-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B']],
    ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----', []],
  ],
};

describe('detectors', () => {
  for (const detector of DETECTOR_NAMES) {
    test(detector, () => {
      for (const [text, expected] of CASES[detector]) {
        assert.deepEqual(found(detector, text), expected, text);
        if (expected.length > 0) assert.equal(mayContainSensitive(text, new Set([detector])), true, text);
      }
    });
  }

  test('hits of all detectors together are ordered and do not overlap; longer wins at a tie', () => {
    const text = `mail alice@example.com, card 4111-1111-1111-1111, ${JWT}, phone +1 415 555 2671 ${PEM}`;
    const hits = findSensitive(text, ALL);
    assert.deepEqual(hits.map((h) => h.detector), ['email', 'credit_card', 'jwt', 'phone', 'private_key']);
    for (let i = 1; i < hits.length; i++) assert.ok((hits[i - 1]?.end ?? 0) <= (hits[i]?.start ?? 0));
  });

  test('only the named detectors run', () => {
    const text = 'alice@example.com 4111111111111111';
    assert.deepEqual(findSensitive(text, new Set(['credit_card'])).map((h) => h.detector), ['credit_card']);
    assert.deepEqual(findSensitive(text, new Set()), []);
    assert.equal(mayContainSensitive(text, new Set()), false);
  });

  test('mayContainSensitive is false for plain values', () => {
    for (const v of ['42', 'Alice Smith', '2024-01-15 10:23:45+00', '199.99', 'shipped', 'b3c1d2e4-aaaa-4bbb-8ccc-123456789abc']) {
      assert.equal(mayContainSensitive(v, new Set(['email', 'jwt', 'private_key', 'cloud_key', 'credit_card'])), false, v);
    }
  });

  test('property: the pre-check is never false where findSensitive finds something', () => {
    const pieces = fc.constantFrom('alice@example.com', '4111 1111 1111 1111', '+44 20 7946 0958', '123-45-6789', 'DE89370400440532013000',
      JWT, 'AKIAIOSFODNN7EXAMPLE', PEM, '(415) 555-2671', '415.555.2671', '1-800-555-0199', '020 7946 0958', '01 23 45 67 89', '+14155552671',
      '+1 (415) 555-2671', ' ', '-', '.', '@', '0', '9', '1', '(', ')', '+', 'x', 'é', '😀', '\n');
    fc.assert(fc.property(fc.array(fc.oneof(pieces, pieces, fc.string({ maxLength: 8 })), { maxLength: 12 }), fc.subarray([...DETECTOR_NAMES], { minLength: 1 }), (parts, names) => {
      const text = parts.join('');
      // The finders themselves, ungated: what the pre-checks must never hide.
      const found = names.filter((d) => { const out: DetectorHit[] = []; RAW[d](text, out); return out.length > 0; });
      if (found.length > 0) assert.equal(mayContainSensitive(text, new Set(names)), true, text);
      for (const d of found) assert.notDeepEqual(findSensitive(text, new Set([d])), [], `${d} in ${JSON.stringify(text)}`);
    }), { numRuns: 5000 });
  });

  test('property: hits are in range, ordered and disjoint on any input', () => {
    const dense = fc.string({ unit: fc.constantFrom(...'0123456789 -.()+@abcXYZ_/=eyJ'.split('')), maxLength: 200 });
    fc.assert(fc.property(fc.oneof(dense, fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: 'grapheme', maxLength: 100 })), (text) => {
      let end = 0;
      for (const h of findSensitive(text, ALL)) {
        assert.ok(h.start >= end && h.end > h.start && h.end <= text.length);
        end = h.end;
      }
    }), { numRuns: 2000 });
  });

  test('property: known values are covered whole wherever they sit among others; alone, found exactly by their detector', () => {
    const samples: [DetectorName, string][] = [
      ['credit_card', '4111 1111 1111 1111'], ['credit_card', '5555555555554444'], ['credit_card', '3782-822463-10005'],
      ['email', 'alice@example.com'], ['email', 'Bob.Smith+tag@mail.example.co.uk'],
      ['phone', '+44 20 7946 0958'], ['phone', '(415) 555-2671'], ['phone', '415.555.2671'], ['phone', '+14155552671'],
      ['us_ssn', '123-45-6789'], ['iban', 'DE89 3704 0044 0532 0130 00'], ['iban', 'GB82WEST12345698765432'],
      ['jwt', JWT], ['cloud_key', 'AKIAIOSFODNN7EXAMPLE'], ['cloud_key', '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'], ['private_key', PEM],
    ];
    const filler = fc.constantFrom(' ', ', ', '\n', ' | ', ' 😀 ', ' données: ', '; id 42 ', '\t', ' (ok) ');
    fc.assert(fc.property(fc.shuffledSubarray(samples, { minLength: 1, maxLength: 6 }), fc.array(filler, { minLength: 7, maxLength: 7 }), (picked, fills) => {
      let text = fills[0] ?? '';
      const spans: [DetectorName, number, number][] = [];
      picked.forEach(([d, v], k) => {
        spans.push([d, text.length, text.length + v.length]);
        text += v + (fills[k + 1] ?? ' ');
      });
      const hits = findSensitive(text, ALL);
      const shown = hits.map((h) => `${h.detector}@${h.start}-${h.end}`).join(' ');
      // Neighbours may merge into one span (a number read across two values); none escapes.
      for (const [d, a, b] of spans) assert.ok(hits.some((h) => h.start <= a && h.end >= b), `${d} ${JSON.stringify(text.slice(a, b))} in ${JSON.stringify(text)}: ${shown}`);
      if (spans.length === 1) {
        const [d, a, b] = spans[0]!;
        assert.deepEqual(hits, [{ detector: d, start: a, end: b }], JSON.stringify(text));
      }
    }), { numRuns: 1000 });
  });
});
