// The Bind parameters an approval covers and the errors of statements that do not run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Approval } from '@chaperone/core/api';
import type { Decision } from '@chaperone/core/decision';
import { encodeBind } from '../pg/encode.js';
import { decodeBindParams, refusalFields } from './pg-approval.js';

/** A Bind built by hand: format codes, then values (null = NULL). */
function bind(formats: number[], values: (Buffer | null)[]): Buffer {
  const parts: Buffer[] = [Buffer.from('p\0s\0')];
  const i16 = (n: number) => { const b = Buffer.alloc(2); b.writeInt16BE(n); return b; };
  const i32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
  parts.push(i16(formats.length), ...formats.map(i16), i16(values.length));
  for (const v of values) parts.push(v === null ? i32(-1) : Buffer.concat([i32(v.length), v]));
  parts.push(i16(0));
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from('B'), i32(body.length + 4), body]);
}

const decision: Extract<Decision, { action: 'approve' }> = { action: 'approve', approvers: ['group:dba'], timeoutSeconds: 90, message: 'm', policy: 'pol', rule: 'pol#1' };

function approval(over: Partial<Approval>): Approval {
  return {
    id: 'a1', state: 'denied', session: 's', protocol: 'postgres', connection: 'c', identity: { namespace: 'n', serviceAccount: 'sa' },
    operation: { kind: 'sql', text: 't', params: [] }, fingerprint: 'f', rule: { policy: 'pol', rule: 'pol#1' }, approvers: [], message: 'm',
    requestedAt: '', expiresAt: '', decidedAt: null, decidedBy: null, reason: null, history: [], ...over,
  };
}

describe('decodeBindParams', () => {
  it('reads text values, NULLs, and binary values as \\x hex', () => {
    assert.deepEqual(decodeBindParams(bind([], [Buffer.from('42'), null, Buffer.from('é')])), ['42', null, 'é']);
    assert.deepEqual(decodeBindParams(bind([1], [Buffer.from([0, 0, 0, 7])])), ['\\x00000007']);
    assert.deepEqual(decodeBindParams(bind([0, 1], [Buffer.from('a'), Buffer.from([0xff])])), ['a', '\\xff']);
  });

  it('has no parameters for a parameterless Bind', () => {
    assert.deepEqual(decodeBindParams(encodeBind('', 'stmt')), []);
  });

  it('gives null for malformed messages instead of throwing', () => {
    const good = bind([], [Buffer.from('hello')]);
    for (let cut = 5; cut < good.length - 2; cut++) assert.equal(decodeBindParams(good.subarray(0, cut)), null, `cut at ${cut}`);
    assert.equal(decodeBindParams(bind([0, 0, 0], [Buffer.from('x')])), null, 'format count neither 0, 1 nor the parameter count');
  });
});

describe('refusalFields', () => {
  it('names the approver and the reason of a denial', () => {
    const f = refusalFields({ state: 'denied', approval: approval({ decidedBy: 'alice', reason: 'not now' }) }, decision, false);
    assert.deepEqual(f, { S: 'ERROR', V: 'ERROR', C: '42501', M: 'statement denied by alice: not now', D: 'chaperone rule pol#1 (policy pol), approval a1' });
  });

  it('says after how long an expired one timed out (57014)', () => {
    const f = refusalFields({ state: 'expired', approval: approval({ state: 'expired' }) }, decision, false);
    assert.equal(f.C, '57014');
    assert.equal(f.M, 'statement not approved: approval timed out after 90 s');
  });

  it('answers a cancel as PostgreSQL does, and an unavailable control plane with the cause', () => {
    assert.equal(refusalFields({ state: 'withdrawn', approval: undefined }, decision, true).M, 'canceling statement due to user request');
    const u = refusalFields({ state: 'unavailable', error: 'connection refused' }, decision, false);
    assert.deepEqual([u.C, u.M, u.D], ['42501', 'statement requires approval, which could not be obtained: connection refused', 'chaperone rule pol#1 (policy pol)']);
  });
});
