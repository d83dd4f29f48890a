// backoffMs stays within half and all of its doubling ceiling; sleep ends early on abort.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs, sleep } from './backoff.js';

test('backoffMs doubles from its first wait to a 5 s cap, jittered within the upper half', () => {
  for (const [first, attempt, ceiling] of [[100, 0, 100], [100, 3, 800], [200, 4, 3_200], [200, 5, 5_000], [100, 40, 5_000]] as const) {
    for (let i = 0; i < 50; i++) {
      const ms = backoffMs(attempt, first);
      assert.ok(ms >= ceiling / 2 && ms <= ceiling, `attempt ${attempt} from ${first}: ${ms} outside [${ceiling / 2}, ${ceiling}]`);
    }
  }
});

test('sleep resolves when its signal aborts, and at once for an aborted signal', async () => {
  const stop = new AbortController();
  const waiting = sleep(3_600_000, stop.signal);
  stop.abort();
  await waiting;
  await sleep(3_600_000, stop.signal);
});
