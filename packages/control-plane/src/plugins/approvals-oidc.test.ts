// Deciding approvals with real OIDC ID tokens (oidc-provider on loopback): groups the rule names,
// no self-approval, refused tokens, and two sessions' requests decided independently.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Approval, ApprovalCreateRequest } from '@chaperone/core/api';
import { OidcApproverVerifier } from '../approvals/oidc.js';
import { startTestIssuer, type TestIssuer } from '../approvals/testing/oidc-issuer.js';
import { startTestPostgres, type TestPostgres } from '../testing/embedded.js';
import { buildTestApp, sampleDocs, type TestApp } from '../testing/app.js';

const ADMIN = 'admin-token-for-oidc-approval-tests';
const bot = { namespace: 'agents', serviceAccount: 'support-bot' };
const other = { namespace: 'agents', serviceAccount: 'other-bot' };
let pg: TestPostgres;
let idp: TestIssuer;
let foreign: TestIssuer;
let t: TestApp;
const grants: Record<string, string> = {};
const tokens: Record<string, string> = {};

before(async () => {
  const accounts = {
    dana: { email: 'dana@example.test', groups: ['dba'] },
    sam: { email: 'sam@example.test', groups: ['support', 'oncall'] },
    // An ID token whose subject is the requesting service account, in the approvers' group.
    'system:serviceaccount:agents:support-bot': { groups: ['dba'] },
  };
  [pg, idp, foreign] = await Promise.all([startTestPostgres(), startTestIssuer(accounts), startTestIssuer(accounts)]);
  const [conn, policy] = sampleDocs();
  const rules = (policy!.spec as { rules: unknown[] }).rules;
  rules.push({ action: 'approve', match: { statements: ['delete'] }, approvers: ['group:dba'], timeout: '10m' });
  rules.push({ action: 'approve', name: 'strict', match: { statements: ['update'] }, approvers: ['group:dba', 'user:lead@example.test'], timeout: '10m' });
  const second = structuredClone(policy!);
  second.metadata.name = 'others';
  (second.spec as { subjects: unknown[] }).subjects = [{ serviceAccount: { namespace: 'agents', name: 'other-bot' } }];
  t = await buildTestApp(pg.url, {
    docs: [conn!, policy!, second],
    adminToken: ADMIN,
    secrets: { 'orders-db-admin': { username: 'u', password: 'p' } },
    approvals: { oidc: new OidcApproverVerifier({ issuer: idp.issuer, audience: idp.clientId }) },
  });
  grants['bot'] = await t.grantFor(bot);
  grants['other'] = await t.grantFor(other);
  for (const who of Object.keys(accounts)) tokens[who] = await idp.idToken(who);
  tokens['foreign'] = await foreign.idToken('dana');
});
after(async () => {
  await t?.close();
  await Promise.all([pg?.cleanup(), idp?.close(), foreign?.close()]);
});

type Body = Approval & { error?: { code: string; message: string } };

async function call(method: 'GET' | 'POST', url: string, token: string | undefined, payload?: object) {
  const res = await t.app.inject({ method, url, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.json() as Body };
}

async function create(grant: string, session: string, rule = 'support-agents#1'): Promise<Approval> {
  const policy = grant === grants['other'] ? 'others' : 'support-agents';
  const req: ApprovalCreateRequest = {
    session, protocol: 'postgres', connection: 'orders-db',
    operation: { kind: 'sql', text: 'DELETE FROM orders WHERE id = 7', params: [] },
    rule: { policy, rule: rule.replace('support-agents', policy) }, approvers: ['group:dba'], timeoutSeconds: 600, message: 'deletes need a DBA',
  };
  const res = await call('POST', '/v1/approvals', grant, req);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

const decide = (id: string, token: string | undefined, decision: 'approve' | 'deny', reason?: string) =>
  call('POST', `/v1/approvals/${id}/decision`, token, { decision, ...(reason ? { reason } : {}) });

test('a member of the named group approves; the approval records the OIDC subject and name', async () => {
  const a = await create(grants['bot']!, 's-approve');
  const res = await decide(a.id, tokens['dana'], 'approve');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.state, 'approved');
  assert.equal(res.body.decidedBy, 'dana@example.test');
  assert.deepEqual(res.body.history.at(-1)?.by, `oidc:${idp.issuer}#dana`);
});

test('a member denies with a reason', async () => {
  const a = await create(grants['bot']!, 's-deny');
  const res = await decide(a.id, tokens['dana'], 'deny', 'use the archive job');
  assert.equal(res.status, 200);
  assert.deepEqual([res.body.state, res.body.decidedBy, res.body.reason], ['denied', 'dana@example.test', 'use the archive job']);
});

test('an approver outside the named groups is refused with the groups needed', async () => {
  const a = await create(grants['bot']!, 's-wrong-group', 'strict');
  const res = await decide(a.id, tokens['sam'], 'approve');
  assert.equal(res.status, 403);
  assert.equal(res.body.error?.code, 'APPROVALS_ERR_NOT_APPROVER');
  assert.match(res.body.error?.message ?? '', /sam@example\.test .*group:dba, user:lead@example\.test/);
  assert.equal((await call('GET', `/v1/approvals/${a.id}`, ADMIN)).body.state, 'pending');
});

test('nobody approves their own request, even in the approvers\' group', async () => {
  const a = await create(grants['bot']!, 's-self');
  const res = await decide(a.id, tokens['system:serviceaccount:agents:support-bot'], 'approve');
  assert.equal(res.status, 403);
  assert.equal(res.body.error?.code, 'APPROVALS_ERR_SELF_APPROVAL');
  // The sidecar's own grant is no approver credential either.
  assert.equal((await decide(a.id, grants['bot'], 'approve')).status, 401);
  assert.equal((await call('GET', `/v1/approvals/${a.id}`, ADMIN)).body.state, 'pending');
});

test('bad, foreign-issuer and missing tokens are refused; the admin token decides as admin', async () => {
  const a = await create(grants['bot']!, 's-tokens');
  for (const [token, code] of [['garbage', 'AUTH_ERR_TOKEN_MALFORMED'], [tokens['foreign'], 'AUTH_ERR_TOKEN_INVALID'], [undefined, 'APPROVALS_ERR_APPROVER_REQUIRED']] as const) {
    const res = await decide(a.id, token, 'approve');
    assert.equal(res.status, 401, String(token));
    assert.equal(res.body.error?.code, code);
  }
  assert.equal((await call('GET', '/v1/approvals', tokens['foreign'])).status, 401);
  assert.equal((await call('GET', '/v1/approvals', tokens['sam'])).status, 200);
  const res = await decide(a.id, ADMIN, 'approve');
  assert.deepEqual([res.status, res.body.decidedBy], [200, 'admin']);
});

test('two sessions\' concurrent requests wait and are decided independently', async () => {
  const [x, y] = await Promise.all([create(grants['bot']!, 's-one'), create(grants['other']!, 's-two')]);
  assert.notEqual(x.id, y.id);
  const waitX = call('GET', `/v1/approvals/${x.id}/wait?timeoutSeconds=120`, grants['bot']);
  const waitY = call('GET', `/v1/approvals/${y.id}/wait?timeoutSeconds=120`, grants['other']);
  // Each sidecar waits only on its own.
  assert.equal((await call('GET', `/v1/approvals/${y.id}/wait?timeoutSeconds=1`, grants['bot'])).status, 403);
  assert.equal((await decide(y.id, tokens['dana'], 'deny', 'not now')).status, 200);
  assert.equal((await waitY).body.state, 'denied');
  assert.equal((await call('GET', `/v1/approvals/${x.id}`, grants['bot'])).body.state, 'pending');
  assert.equal((await decide(x.id, tokens['dana'], 'approve')).status, 200);
  const doneX = (await waitX).body;
  assert.equal(doneX.state, 'approved');
  assert.equal(doneX.session, 's-one');
});

test('only those who may decide an approval see its statement and parameters; others see it withheld', async () => {
  const req: ApprovalCreateRequest = {
    session: 's-visibility', protocol: 'postgres', connection: 'orders-db',
    operation: { kind: 'sql', text: "UPDATE users SET password = 'hunter2' WHERE id = $1", params: ['secret-param-42'] },
    rule: { policy: 'support-agents', rule: 'strict' }, approvers: [], timeoutSeconds: 600, message: '',
  };
  const created = await call('POST', '/v1/approvals', grants['bot'], req);
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const id = created.body.id;
  const listed = async (token: string | undefined) => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/approvals?limit=1000', headers: token ? { authorization: `Bearer ${token}` } : {} });
    assert.equal(res.statusCode, 200);
    const list = res.json() as Approval[];
    const a = list.find((x) => x.id === id);
    assert.ok(a, 'listed');
    return { a, raw: res.body };
  };
  // dana (group:dba) may decide: she sees what she would approve.
  assert.deepEqual((await listed(tokens['dana'])).a.operation, req.operation);
  assert.deepEqual((await listed(ADMIN)).a.operation, req.operation);
  // sam may not: neither the list, the watch nor the single read carries the values.
  const sam = await listed(tokens['sam']);
  assert.doesNotMatch(sam.raw, /hunter2|secret-param-42/);
  assert.equal(sam.a.operation.kind, 'sql');
  const watched = await t.app.inject({ method: 'GET', url: '/v1/approvals/watch', headers: { authorization: `Bearer ${tokens['sam']}` } });
  assert.equal(watched.statusCode, 200);
  assert.doesNotMatch(watched.body, /hunter2|secret-param-42/);
  const one = await t.app.inject({ method: 'GET', url: `/v1/approvals/${id}`, headers: { authorization: `Bearer ${tokens['sam']}` } });
  assert.equal(one.statusCode, 200);
  assert.doesNotMatch(one.body, /hunter2|secret-param-42/);
  // The sidecar that asked still reads its own request whole.
  assert.deepEqual((await call('GET', `/v1/approvals/${id}`, grants['bot'])).body.operation, req.operation);
});
