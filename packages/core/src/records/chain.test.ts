import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, GENESIS_HASH, sealRecord, verifyChain } from './chain.js';
import type { SessionRecord } from './types.js';

function chain(n: number): SessionRecord[] {
  const out: SessionRecord[] = [];
  let prev = GENESIS_HASH;
  for (let i = 0; i < n; i++) {
    const r = sealRecord('s1', i, prev, { type: 'session.end', reason: 'client', statements: i, durationMs: 1 }, new Date(0));
    out.push(r);
    prev = r.hash;
  }
  return out;
}

test('canonical JSON sorts keys at every depth and drops undefined', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: undefined, x: 'q' }], c: null } }), '{"a":{"c":null,"d":[2,{"x":"q","z":1}]},"b":1}');
});

test('an intact chain verifies, alone and after a stored predecessor', () => {
  const c = chain(4);
  assert.deepEqual(verifyChain(c), { ok: true });
  assert.deepEqual(verifyChain(c.slice(2), c[1]), { ok: true });
});

test('a gap, an altered record and a re-linked record are each reported at their sequence', () => {
  const c = chain(4);
  assert.deepEqual(verifyChain([c[0]!, c[2]!]), { ok: false, seq: 1, reason: 'gap' });
  const altered = { ...c[1]!, event: { ...c[1]!.event, reason: 'forged' } } as SessionRecord;
  assert.deepEqual(verifyChain([c[0]!, altered]), { ok: false, seq: 1, reason: 'hash-mismatch' });
  const relinked = { ...c[2]!, prevHash: GENESIS_HASH };
  assert.deepEqual(verifyChain([c[0]!, c[1]!, relinked]), { ok: false, seq: 2, reason: 'prev-hash-mismatch' });
});
