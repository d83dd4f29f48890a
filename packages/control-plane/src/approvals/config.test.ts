// The `approvals` section of the control plane's configuration: claim defaults and refusals.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseControlPlaneConfig } from '../config.js';

test('approvals config: optional, claim defaults, URLs checked', () => {
  const none = parseControlPlaneConfig({});
  assert.ok(none.ok);
  assert.deepEqual(none.config.approvals, {});
  const full = parseControlPlaneConfig({
    approvals: { oidc: { issuer: 'https://idp.example.test', audience: 'chaperone' }, notify: { webhookUrl: 'https://hooks.example.test/x' }, publicUrl: 'https://cp.example.test' },
  });
  assert.ok(full.ok);
  assert.deepEqual(full.config.approvals.oidc, { issuer: 'https://idp.example.test', audience: 'chaperone', groupsClaim: 'groups', usernameClaim: 'email' });
  for (const [bad, where] of [
    [{ oidc: { issuer: 'idp.example.test', audience: 'c' } }, 'approvals.oidc.issuer'],
    [{ oidc: { issuer: 'https://idp.example.test' } }, 'approvals.oidc.audience'],
    [{ notify: { webhookUrl: 'ftp://x' } }, 'approvals.notify.webhookUrl'],
    [{ publicUrl: 'not a url' }, 'approvals.publicUrl'],
  ] as const) {
    const r = parseControlPlaneConfig({ approvals: bad });
    assert.ok(!r.ok, JSON.stringify(bad));
    assert.match(r.error, new RegExp(`^${where.replaceAll('.', '\\.')}: `), r.error);
  }
});
