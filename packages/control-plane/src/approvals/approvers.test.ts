// Who may decide: the rule's group:/user: entries, the admin token, never the requester.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Approval } from '@chaperone/core/api';
import { ADMIN_APPROVER, checkApprover, type Approver } from './approvers.js';

const approval = (approvers: string[]) => ({ identity: { namespace: 'agents', serviceAccount: 'bot' }, approvers }) as unknown as Approval;
const oidc = (sub: string, name: string, groups: string[]): Approver => ({ kind: 'oidc', subject: `oidc:https://idp#${sub}`, sub, name, groups });

test('approver checks, table-driven', () => {
  const cases: [string, string[], Approver, string][] = [
    ['group member', ['group:dba'], oidc('u1', 'dana@x', ['dba']), 'ok'],
    ['one of several groups', ['group:dba', 'group:sre'], oidc('u1', 'dana@x', ['sre', 'dev']), 'ok'],
    ['named user', ['user:dana@x'], oidc('u1', 'dana@x', []), 'ok'],
    ['outside the groups', ['group:dba'], oidc('u2', 'sam@x', ['support']), 'APPROVALS_ERR_NOT_APPROVER'],
    ['a group named like the user is no match', ['group:dana@x'], oidc('u1', 'dana@x', []), 'APPROVALS_ERR_NOT_APPROVER'],
    ['a user entry does not match a group', ['user:dba'], oidc('u1', 'dana@x', ['dba']), 'APPROVALS_ERR_NOT_APPROVER'],
    ['no approvers named: only admin', [], oidc('u1', 'dana@x', ['dba']), 'APPROVALS_ERR_NOT_APPROVER'],
    ['requester by subject', ['group:dba'], oidc('system:serviceaccount:agents:bot', 'x', ['dba']), 'APPROVALS_ERR_SELF_APPROVAL'],
    ['requester by name', ['group:dba'], oidc('u9', 'system:serviceaccount:agents:bot', ['dba']), 'APPROVALS_ERR_SELF_APPROVAL'],
    ['admin token', [], ADMIN_APPROVER, 'ok'],
  ];
  for (const [what, approvers, who, expected] of cases) {
    const r = checkApprover(approval(approvers), who);
    assert.equal(r.ok ? 'ok' : r.code, expected, what);
  }
  const refused = checkApprover(approval(['group:dba', 'user:lead@x']), oidc('u2', 'sam@x', []));
  assert.ok(!refused.ok);
  assert.match(refused.message, /sam@x may not decide this approval; it needs one of: group:dba, user:lead@x/);
});
