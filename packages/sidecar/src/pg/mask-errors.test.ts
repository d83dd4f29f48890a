// scrubServerMessage keeps the sidecar's own refusal sentinel readable (the session swaps the
// server's 26000 for the refusal by that name) while still masking other foreign quoted names.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { decodeErrorFields } from './codec.js';
import { encodeErrorResponse } from './encode.js';
import { scrubServerMessage } from './mask-errors.js';
import type { MaskTally } from './mask-rows.js';

const tally = { detector() {}, column() {} } as unknown as MaskTally;

function scrubbedMessage(message: string): string | undefined {
  const frame = encodeErrorResponse({ S: 'ERROR', V: 'ERROR', C: '26000', M: message });
  const out = scrubServerMessage(frame, true, undefined, tally, 'DROP TABLE customers');
  return decodeErrorFields(out ?? frame)?.M;
}

it('the refusal sentinel named in a 26000 error is not masked', () => {
  const m = 'prepared statement "chaperone_denied_0a1b2c3d4e5f_0" does not exist';
  assert.equal(scrubbedMessage(m), m);
});

it('other quoted names the statement does not hold are still masked', () => {
  assert.equal(scrubbedMessage('prepared statement "ann@example.com" does not exist'), 'prepared statement "[MASKED]" does not exist');
  assert.equal(scrubbedMessage('prepared statement "chaperone_denied_ann@example.com" does not exist'), 'prepared statement "[MASKED]" does not exist');
});
