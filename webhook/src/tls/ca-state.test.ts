// The CA rotation plan and the Secret encoding, without an API server (the e2e test runs them on one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateCa } from './generate.js';
import {
  CA_BUNDLE, CA_CERT, NEXT_STAGED_AT, decodeCaState, encodeCaState, freshState, nextCaDue, planCaStep, promoteNext, pruneBundle, stageNext,
} from './ca-state.js';
import type { RotationPolicy } from './ca-state.js';

const DAY = 86_400_000;
const T0 = Date.parse('2030-01-01T00:00:00Z');
const policy: RotationPolicy = { renewBeforeMs: 30 * DAY, propagationMs: 60_000 };

test('plan: nothing to do for a young CA; stage when less than renewBefore is left; replace an expired one', async () => {
  const s = freshState(await generateCa({ now: new Date(T0), validityMs: 365 * DAY }));
  assert.deepEqual(planCaStep(s, T0, policy), { kind: 'none' });
  assert.deepEqual(planCaStep(s, T0 + 334 * DAY, policy), { kind: 'none' });
  assert.deepEqual(planCaStep(s, T0 + 336 * DAY, policy), { kind: 'stage' });
  assert.deepEqual(planCaStep(s, T0 + 365 * DAY, policy), { kind: 'replace-expired' });
  assert.equal(nextCaDue(s, policy), T0 + 335 * DAY);
});

test('rotation: the new CA is trusted first, signs only after propagation, the old one stays trusted until it expires', async () => {
  const old = await generateCa({ now: new Date(T0), validityMs: 365 * DAY });
  const tStage = T0 + 340 * DAY;
  const fresh = await generateCa({ now: new Date(tStage), validityMs: 365 * DAY });
  const staged = stageNext(freshState(old), fresh, tStage);
  assert.equal(staged.active, old, 'the old CA still signs');
  assert.deepEqual(staged.bundle, [old.cert, fresh.cert]);
  assert.deepEqual(planCaStep(staged, tStage + 59_000, policy), { kind: 'none' });
  assert.equal(nextCaDue(staged, policy), tStage + 60_000);
  assert.deepEqual(planCaStep(staged, tStage + 60_000, policy), { kind: 'promote' });

  const promoted = promoteNext(staged, tStage + 60_000);
  assert.equal(promoted.active, fresh);
  assert.equal(promoted.next, undefined);
  assert.deepEqual(promoted.bundle, [old.cert, fresh.cert]);
  assert.deepEqual(planCaStep(promoted, T0 + 364 * DAY, policy), { kind: 'none' });
  assert.deepEqual(planCaStep(promoted, T0 + 366 * DAY, policy), { kind: 'prune' });
  assert.deepEqual(pruneBundle(promoted, T0 + 366 * DAY).bundle, [fresh.cert]);
});

test('the Secret encoding round-trips, with and without a staged CA', async () => {
  const a = await generateCa();
  const b = await generateCa();
  for (const state of [freshState(a), stageNext(freshState(a), b, Date.now())]) {
    const enc = encodeCaState(state);
    const dec = decodeCaState(enc.data, enc.annotations);
    assert.ok(dec.ok, dec.ok ? '' : dec.error);
    assert.deepEqual(dec.state, state);
  }
});

test('a damaged Secret is a value naming what is wrong', async () => {
  const a = await generateCa();
  const b = await generateCa();
  const enc = encodeCaState(freshState(a));
  const cases: [string, Record<string, string> | undefined, Record<string, string>, RegExp][] = [
    ['no data', undefined, {}, /ca\.crt: certificate or key missing/],
    ['garbage cert', { ...enc.data, [CA_CERT]: Buffer.from('nope').toString('base64') }, {}, /no PEM certificate/],
    ['key of another CA', { ...enc.data, [CA_CERT]: Buffer.from(b.cert).toString('base64') }, {}, /does not match/],
    ['bundle without the active CA', { ...enc.data, [CA_BUNDLE]: Buffer.from(b.cert).toString('base64') }, {}, /does not contain/],
  ];
  for (const [name, data, annotations, error] of cases) {
    const dec = decodeCaState(data, annotations);
    assert.equal(dec.ok, false, name);
    if (!dec.ok) assert.match(dec.error, error, name);
  }
  const staged = encodeCaState(stageNext(freshState(a), b, Date.now()));
  const noTime = decodeCaState(staged.data, {});
  assert.equal(noTime.ok, false);
  if (!noTime.ok) assert.match(noTime.error, new RegExp(NEXT_STAGED_AT));
});
