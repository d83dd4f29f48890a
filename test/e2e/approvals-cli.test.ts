// `chaperone approvals list|approve|deny|watch` against a real `chaperone control-plane` (embedded
// store, dev issuer for the requesting "sidecar", a real OIDC provider for approvers).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Approval, ApprovalCreateRequest } from '@chaperone/core/api';
import { startTestIssuer, type TestIssuer } from '@chaperone/control-plane/approvals/testing/oidc-issuer';
import { freePort } from '../harness/postgres.js';
import { CliProcess, eventually, ORDERS_DB_CONNECTION as CONNECTION, runCli, tempDir } from './support.js';
import { accessPolicyYaml } from '../harness/policy-yaml.js';

const ADMIN = 'approvals-cli-admin-token-0123456789';
const PUBLIC = 'https://chaperone.example.test';
const POLICY = accessPolicyYaml({
  name: 'support', serviceAccount: { namespace: 'agents', name: 'support-bot' }, connection: 'orders-db',
  rules: [
    '{ action: approve, match: { statements: [delete] }, approvers: ["group:dba"], timeout: 10m, message: "deletes need a DBA" }',
  ],
});

describe('chaperone approvals', () => {
  const dir = tempDir('approvals-cli');
  let idp: TestIssuer;
  let cp: CliProcess;
  let url: string;
  let grant: string;
  const isolated = { XDG_STATE_HOME: join(dir.path, 'state'), CHAPERONE_CONTROL_PLANE: '', CHAPERONE_TOKEN: '' };

  before(async () => {
    idp = await startTestIssuer({ dana: { email: 'dana@example.test', groups: ['dba'] }, sam: { email: 'sam@example.test', groups: ['support'] } });
    const policies = join(dir.path, 'policies');
    mkdirSync(policies);
    writeFileSync(join(policies, 'all.yaml'), `${CONNECTION}---\n${POLICY}`);
    const credentials = join(dir.path, 'credentials.yaml');
    writeFileSync(credentials, 'orders-admin: { username: app, password: secret }\n');
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    cp = CliProcess.start(['control-plane', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir.path, 'cp'), '--policy', policies,
      '--credentials', credentials, '--dev-issuer', '--admin-token', ADMIN, '--oidc-issuer', idp.issuer, '--oidc-client-id', idp.clientId,
      '--public-url', PUBLIC], isolated);
    await eventually('the control plane listening', () => cp.stderr.includes(`listening on ${url}`) || (!cp.running && Promise.reject(new Error(cp.stderr))), 180_000);
    // What a sidecar does at start-up: a (development) token exchanged for a grant.
    const { token } = await post<{ token: string }>('/v1/dev/tokens', { namespace: 'agents', serviceAccount: 'support-bot' });
    ({ grant } = await post<{ grant: string }>('/v1/exchange', { token }));
  });
  after(async () => {
    if (cp?.running) await cp.stop('SIGTERM');
    await idp?.close();
    dir.remove();
  });

  async function post<T>(path: string, body: unknown, token?: string): Promise<T> {
    const res = await fetch(`${url}${path}`, {
      method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
    return (await res.json()) as T;
  }

  function hold(text: string): Promise<Approval> {
    const req: ApprovalCreateRequest = {
      session: `s-${text.length}`, protocol: 'postgres', connection: 'orders-db', operation: { kind: 'sql', text, params: [] },
      rule: { policy: 'support', rule: 'support#0' }, approvers: ['group:dba'], timeoutSeconds: 600, message: 'deletes need a DBA',
    };
    return post<Approval>('/v1/approvals', req, grant);
  }

  const cli = (args: string[], env: Record<string, string> = {}) => runCli(['approvals', ...args, '--control-plane', url], { ...isolated, ...env });

  it('watch prints each new request as a line; list shows them; approve and deny decide them', async () => {
    const watch = CliProcess.start(['approvals', 'watch', '--control-plane', url, '--token', ADMIN], isolated);
    try {
      const first = await hold('DELETE FROM orders WHERE id = 1');
      assert.equal(first.url, `${PUBLIC}/v1/approvals/${first.id}`);
      const line = await watch.line((l) => l.includes(first.id), 'the first request in `approvals watch`', 60_000);
      assert.match(line, /pending {2}agents\/support-bot {2}orders-db {2}DELETE FROM orders WHERE id = 1 {2}approvers=group:dba {2}expires=/);
      const second = await hold('DELETE FROM orders WHERE id IN (2, 3)');
      await watch.line((l) => l.includes(second.id), 'the second request in `approvals watch`', 60_000);
      assert.deepEqual(await watch.stop('SIGTERM'), { code: 0, signal: null }, watch.stderr);

      const listed = await cli(['list', '--state', 'pending', '--json', '--token', ADMIN]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual((JSON.parse(listed.stdout) as Approval[]).map((a) => a.id), [second.id, first.id]);
      // A dba, who may decide, sees what is held; someone outside the rule's groups does not.
      const table = await cli(['list'], { CHAPERONE_TOKEN: await idp.idToken('dana') });
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^ID +STATE +IDENTITY +CONNECTION +OPERATION/);
      assert.match(table.stdout, new RegExp(`${first.id} +pending +agents/support-bot +orders-db +DELETE FROM orders WHERE id = 1`));
      const withheld = await cli(['list'], { CHAPERONE_TOKEN: await idp.idToken('sam') });
      assert.equal(withheld.code, 0, withheld.stderr);
      assert.match(withheld.stdout, new RegExp(`${first.id} +pending +agents/support-bot +orders-db +\\[withheld: only this approval's approvers see it\\]`));
      assert.doesNotMatch(withheld.stdout, /DELETE FROM orders/);

      const outsider = await cli(['approve', first.id, '--token', await idp.idToken('sam')]);
      assert.equal(outsider.code, 1);
      assert.match(outsider.stderr, /sam@example\.test may not decide this approval; it needs one of: group:dba \[APPROVALS_ERR_NOT_APPROVER\]/);

      const approved = await cli(['approve', first.id, '--token', await idp.idToken('dana'), '--reason', 'checked the ids']);
      assert.deepEqual([approved.code, approved.stdout], [0, `${first.id} approved by dana@example.test: checked the ids\n`], approved.stderr);
      const again = await cli(['deny', first.id, '--reason', 'too late', '--token', ADMIN]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /already approved by dana@example\.test \[APPROVALS_ERR_NOT_PENDING\]/);

      const noReason = await cli(['deny', second.id, '--token', ADMIN]);
      assert.equal(noReason.code, 2);
      assert.match(noReason.stderr, /a denial needs --reason/);
      const denied = await cli(['deny', second.id, '--reason', 'use the archive job'], { CHAPERONE_TOKEN: ADMIN });
      assert.deepEqual([denied.code, denied.stdout], [0, `${second.id} denied by admin: use the archive job\n`], denied.stderr);

      const all = await cli(['list', '--json', '--token', ADMIN]);
      const states = Object.fromEntries((JSON.parse(all.stdout) as Approval[]).map((a) => [a.id, a.state]));
      assert.deepEqual([states[first.id], states[second.id]], ['approved', 'denied']);
    } finally {
      if (watch.running) await watch.stop('SIGKILL');
    }
  });

  it('without a token the approver routes refuse, and say how to authenticate', async () => {
    const r = await cli(['list']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Bearer <OIDC ID token>.*\[APPROVALS_ERR_APPROVER_REQUIRED\]/);
  });
});
