// What approvers and operators read in their terminal cannot be rewritten by the agent's text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Approval } from '@chaperone/core/api';
import type { SessionRecord } from '@chaperone/core/records/types';
import { formatApprovalLine, formatApprovalTable } from './commands/approvals.js';
import { formatRecord } from './commands/sessions.js';
import { printable } from './terminal-text.js';

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
// Erases the line and writes a harmless statement over the DELETE before it.
const DISGUISED = 'DELETE FROM users /*\x1b[2K\x1b[1GSELECT 1 \u202e*/';

test('control characters and bidi overrides are escaped, other text kept', () => {
  assert.equal(printable('a\x1b[2Kb\u202ec\x00\x9bé漢'), 'a\\x1b[2Kb\\u202ec\\x00\\x9bé漢');
  assert.equal(printable('SELECT 1'), 'SELECT 1');
});

test('an approval listing shows a disguised statement escaped', () => {
  const a = {
    id: 'a1', state: 'pending', session: 's', protocol: 'postgres', connection: 'db', identity: { namespace: 'n', serviceAccount: 'sa' },
    operation: { kind: 'sql', text: DISGUISED, params: ['\x1b]52;c;cm0gLXJmIC8K\x07'] }, fingerprint: 'f', rule: { policy: 'p', rule: 'r' },
    approvers: ['group:dba'], message: '', requestedAt: '2030-01-01T00:00:00.000Z', expiresAt: '2030-01-01T00:10:00.000Z',
    decidedAt: null, decidedBy: null, reason: null, history: [],
  } as Approval;
  for (const out of [formatApprovalLine(a), formatApprovalTable([a])]) {
    assert.doesNotMatch(out, UNSAFE);
    assert.match(out, /DELETE FROM users/);
  }
});

test('session records show what the agent typed escaped', () => {
  const r = {
    seq: 3, time: '2030-01-01T00:00:00.000Z', prevHash: '', hash: '',
    event: { type: 'command', command: `rm -rf /data #\x1b[2K\rls`, programs: ['rm'], decision: { action: 'allow', policy: 'p', rule: 'r' } },
  } as unknown as SessionRecord;
  const out = formatRecord(r);
  assert.doesNotMatch(out, UNSAFE);
  assert.match(out, /rm -rf \/data/);
});
