// The plain-JS HMAC-SHA-256 gives exactly node:crypto's bytes: RFC 4231 vectors and any input.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { HmacSha256 } from './hmac.js';

const node = (key: Uint8Array, value: string): string => createHmac('sha256', key).update(value, 'utf8').digest('base64url');

test('RFC 4231 test cases 1, 2 and 6 (a key longer than a block)', () => {
  const cases: [Uint8Array, string, string][] = [
    [new Uint8Array(20).fill(0x0b), 'Hi There', 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
    [new TextEncoder().encode('Jefe'), 'what do ya want for nothing?', '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
    [new Uint8Array(131).fill(0xaa), 'Test Using Larger Than Block-Size Key - Hash Key First', '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54'],
  ];
  for (const [key, data, hex] of cases) assert.equal(new HmacSha256(key).base64url(data, 43), Buffer.from(hex, 'hex').toString('base64url'));
});

test('property: equal to node:crypto for any key and any string, every length around block edges', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), fc.string({ unit: 'binary', maxLength: 150 }), (key, value) => {
    const h = new HmacSha256(key);
    assert.equal(h.base64url(value, 43), node(key, value));
    assert.equal(h.base64url(value, 43), node(key, value), 'reused');
    assert.equal(h.memoized(value, 16), node(key, value).slice(0, 16));
    assert.equal(h.memoized(value, 16), node(key, value).slice(0, 16), 'from the memo');
  }), { numRuns: 1000 });
  const key = new Uint8Array(32).fill(3);
  const h = new HmacSha256(key);
  for (let n = 0; n < 200; n++) assert.equal(h.base64url('x'.repeat(n), 16), node(key, 'x'.repeat(n)).slice(0, 16), `length ${n}`);
  assert.equal(h.base64url('\ud800 lone \udc00', 43), node(key, '\ud800 lone \udc00'));
  // Many values through the memo (slot collisions evict; answers stay exact), and a long one.
  for (let n = 0; n < 20_000; n++) assert.equal(h.memoized(`v${n % 5000}`, 16), node(key, `v${n % 5000}`).slice(0, 16));
  assert.equal(h.memoized('y'.repeat(1000), 43), node(key, 'y'.repeat(1000)));
});
