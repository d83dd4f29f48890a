// /v1/approvals on a real store with the admin token as approver: the state machine, long polls,
// expiry, withdrawal, refusals on decided approvals, requester checks, metrics.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Approval, ApprovalCreateRequest, ApprovalWatchResponse } from '@chaperone/core/api';
import { approvalFingerprint } from '../approvals/fingerprint.js';
import { startTestPostgres, type TestPostgres } from '../testing/embedded.js';
import { buildTestApp, sampleDocs, type TestApp } from '../testing/app.js';

const ADMIN = 'admin-token-for-approval-tests-0123';
const bot = { namespace: 'agents', serviceAccount: 'support-bot' };
const other = { namespace: 'agents', serviceAccount: 'other-bot' };
let pg: TestPostgres;
let t: TestApp;
let grant: string;
let otherGrant: string;

const APPROVE_RULE = { action: 'approve', match: { statements: ['delete'] }, approvers: ['group:dba'], timeout: '10m', message: 'deletes need a DBA' } as const;

function docs() {
  const [conn, policy] = sampleDocs();
  (policy!.spec as { rules: unknown[] }).rules.push(APPROVE_RULE, { ...APPROVE_RULE, action: 'deny' });
  const second = structuredClone(policy!);
  second.metadata.name = 'others';
  (second.spec as { subjects: unknown[] }).subjects = [{ serviceAccount: { namespace: 'agents', name: 'other-bot' } }];
  return [conn!, policy!, second];
}

before(async () => {
  pg = await startTestPostgres();
  t = await buildTestApp(pg.url, { docs: docs(), adminToken: ADMIN, secrets: { 'orders-db-admin': { username: 'u', password: 'p' } } });
  grant = await t.grantFor(bot);
  otherGrant = await t.grantFor(other);
});
after(async () => {
  await t?.close();
  await pg?.cleanup();
});

function request(overrides: Partial<ApprovalCreateRequest> = {}): ApprovalCreateRequest {
  return {
    session: 'sess-1', protocol: 'postgres', connection: 'orders-db',
    operation: { kind: 'sql', text: 'DELETE FROM orders WHERE id = $1', params: ['42'] },
    rule: { policy: 'support-agents', rule: 'support-agents#1' }, approvers: ['group:dba'], timeoutSeconds: 600, message: 'deletes need a DBA',
    ...overrides,
  };
}

async function call(method: 'GET' | 'POST', url: string, token: string | null, payload?: unknown) {
  const res = await t.app.inject({ method, url, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: res.statusCode, body: res.json() as Approval & { error?: { code: string; message: string } } };
}

async function create(overrides: Partial<ApprovalCreateRequest> = {}, token = grant): Promise<Approval> {
  const res = await call('POST', '/v1/approvals', token, request(overrides));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

test('a created approval is pending, bound to its fingerprint, with its requester and history', async () => {
  // Approvers come from the policy's rule, whatever the request says.
  const a = await create({ approvers: ['group:everyone'] });
  assert.deepEqual(a.approvers, ['group:dba']);
  assert.equal(a.state, 'pending');
  assert.deepEqual(a.identity, bot);
  assert.equal(a.fingerprint, approvalFingerprint('sess-1', request().operation));
  assert.match(a.fingerprint, /^[0-9a-f]{64}$/);
  assert.deepEqual(a.operation, request().operation);
  assert.equal(Date.parse(a.expiresAt) - Date.parse(a.requestedAt), 600_000);
  assert.deepEqual(a.history.map((h) => [h.state, h.by]), [['pending', 'sidecar']]);
  assert.equal(a.decidedAt, null);
  const got = await call('GET', `/v1/approvals/${a.id}`, grant);
  assert.deepEqual(got.body, a);
  assert.equal((await call('GET', `/v1/approvals/${a.id}`, ADMIN)).status, 200);
  const foreign = await call('GET', `/v1/approvals/${a.id}`, otherGrant);
  assert.equal(foreign.status, 403);
  assert.equal(foreign.body.error?.code, 'APPROVALS_ERR_FORBIDDEN');
});

test('a waiting sidecar wakes at once on approval; a second decision is refused with 409', async () => {
  const a = await create();
  const waiting = call('GET', `/v1/approvals/${a.id}/wait?timeoutSeconds=120`, grant);
  const decided = await call('POST', `/v1/approvals/${a.id}/decision`, ADMIN, { decision: 'approve', reason: 'looks right' });
  assert.equal(decided.status, 200, JSON.stringify(decided.body));
  const woke = await waiting;
  assert.equal(woke.status, 200);
  assert.equal(woke.body.state, 'approved');
  assert.equal(woke.body.decidedBy, 'admin');
  assert.equal(woke.body.reason, 'looks right');
  assert.deepEqual(woke.body.history.map((h) => [h.state, h.by]), [['pending', 'sidecar'], ['approved', 'admin']]);
  for (const decision of ['approve', 'deny'] as const) {
    const again = await call('POST', `/v1/approvals/${a.id}/decision`, ADMIN, { decision, reason: 'again' });
    assert.equal(again.status, 409);
    assert.equal(again.body.error?.code, 'APPROVALS_ERR_NOT_PENDING');
    assert.match(again.body.error?.message ?? '', /already approved by admin/);
  }
  const withdraw = await call('POST', `/v1/approvals/${a.id}/withdraw`, grant);
  assert.equal(withdraw.status, 409);
});

test('a denial needs a reason and is recorded with it', async () => {
  const a = await create();
  const bare = await call('POST', `/v1/approvals/${a.id}/decision`, ADMIN, { decision: 'deny' });
  assert.equal(bare.status, 400);
  const denied = await call('POST', `/v1/approvals/${a.id}/decision`, ADMIN, { decision: 'deny', reason: 'not during the freeze' });
  assert.equal(denied.status, 200);
  assert.equal(denied.body.state, 'denied');
  assert.equal(denied.body.reason, 'not during the freeze');
  assert.deepEqual(denied.body.history.at(-1)?.reason, 'not during the freeze');
});

test('withdrawal by the requester ends the approval; others may not withdraw it', async () => {
  const a = await create();
  const foreign = await call('POST', `/v1/approvals/${a.id}/withdraw`, otherGrant);
  assert.equal(foreign.status, 403);
  const waiting = call('GET', `/v1/approvals/${a.id}/wait?timeoutSeconds=120`, grant);
  const w = await call('POST', `/v1/approvals/${a.id}/withdraw`, grant);
  assert.equal(w.status, 200);
  assert.equal(w.body.state, 'withdrawn');
  assert.equal((await waiting).body.state, 'withdrawn');
  const late = await call('POST', `/v1/approvals/${a.id}/decision`, ADMIN, { decision: 'approve' });
  assert.equal(late.status, 409);
  assert.match(late.body.error?.message ?? '', /already withdrawn/);
});

test('an approval expires at its time: waiters are told, decisions refused, the pending gauge drops', async () => {
  const a = await create({ timeoutSeconds: 0.4 });
  const waited = await call('GET', `/v1/approvals/${a.id}/wait?timeoutSeconds=60`, grant);
  assert.equal(waited.body.state, 'expired');
  assert.deepEqual(waited.body.history.map((h) => [h.state, h.by]), [['pending', 'sidecar'], ['expired', 'control-plane']]);
  const late = await call('POST', `/v1/approvals/${a.id}/decision`, ADMIN, { decision: 'approve' });
  assert.equal(late.status, 409);
  assert.match(late.body.error?.message ?? '', /already expired/);
  // Nobody reads this one: the timer expires it.
  const unread = await create({ timeoutSeconds: 0.2 });
  for (let i = 0; i < 100; i++) {
    const rows = await t.store.sql<{ state: string }[]>`SELECT state FROM approvals WHERE id = ${unread.id}`;
    if (rows[0]?.state === 'expired') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const rows = await t.store.sql<{ state: string }[]>`SELECT state FROM approvals WHERE id = ${unread.id}`;
  assert.equal(rows[0]?.state, 'expired');
  const pending = await t.store.approvals.countPendingApprovals();
  const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
  assert.match(metrics.body, new RegExp(`^chaperone_approvals_pending ${pending}$`, 'm'));
  assert.match(metrics.body, /^chaperone_approvals_total\{state="expired"\} [1-9]/m);
  assert.match(metrics.body, /^chaperone_approval_wait_seconds_count\{state="expired"\} [1-9]/m);
});

test('a wait that times out answers the pending approval', async () => {
  const a = await create();
  const res = await call('GET', `/v1/approvals/${a.id}/wait?timeoutSeconds=0`, grant);
  assert.equal(res.status, 200);
  assert.equal(res.body.state, 'pending');
});

test('approvals are listed by state and watched by cursor', async () => {
  const start = await t.app.inject({ method: 'GET', url: '/v1/approvals/watch', headers: { authorization: `Bearer ${ADMIN}` } });
  const first = start.json() as ApprovalWatchResponse;
  assert.ok(first.approvals.every((a) => a.state === 'pending'));
  const watching = t.app.inject({ method: 'GET', url: `/v1/approvals/watch?after=${first.cursor}&timeoutSeconds=60`, headers: { authorization: `Bearer ${ADMIN}` } });
  const a = await create({ session: 'watched' });
  const seen = (await watching).json() as ApprovalWatchResponse;
  assert.deepEqual(seen.approvals.map((x) => x.id), [a.id]);
  assert.notEqual(seen.cursor, first.cursor);
  const pending = await t.app.inject({ method: 'GET', url: '/v1/approvals?state=pending', headers: { authorization: `Bearer ${ADMIN}` } });
  const list = pending.json() as Approval[];
  assert.ok(list.some((x) => x.id === a.id));
  assert.ok(list.every((x) => x.state === 'pending'));
  assert.equal(list[0]?.id, a.id);
});

test('a watcher following the cursor sees every one of many concurrent requests exactly once', async () => {
  const start = (await t.app.inject({ method: 'GET', url: '/v1/approvals/watch?limit=1', headers: { authorization: `Bearer ${ADMIN}` } })).json() as ApprovalWatchResponse;
  const seen: string[] = [];
  let cursor = start.cursor;
  const created = Promise.all(Array.from({ length: 20 }, (_, i) => create({ session: `burst-${i}` })));
  const ids = new Set((await created).map((a) => a.id));
  for (let i = 0; i < 50 && seen.length < ids.size; i++) {
    const page = (await t.app.inject({ method: 'GET', url: `/v1/approvals/watch?after=${cursor}&limit=3&timeoutSeconds=5`, headers: { authorization: `Bearer ${ADMIN}` } })).json() as ApprovalWatchResponse;
    seen.push(...page.approvals.map((a) => a.id));
    cursor = page.cursor;
  }
  assert.equal(seen.length, ids.size);
  assert.deepEqual(new Set(seen), ids);
});

test('a session cannot flood approvers: past the pending limit a request is refused with 429 until some settle', async () => {
  const { DEFAULT_MAX_PENDING_PER_SESSION } = await import('../approvals/service.js');
  const made = await Promise.all(Array.from({ length: DEFAULT_MAX_PENDING_PER_SESSION }, () => call('POST', '/v1/approvals', grant, request({ session: 'flood' }))));
  assert.ok(made.every((r) => r.status === 200));
  const refused = await call('POST', '/v1/approvals', grant, request({ session: 'flood' }));
  assert.equal(refused.status, 429);
  assert.equal(refused.body.error?.code, 'APPROVALS_ERR_TOO_MANY_PENDING');
  // Another session (and another identity's session of the same name) is not held back by this one.
  assert.equal((await call('POST', '/v1/approvals', grant, request({ session: 'flood-2' }))).status, 200);
  assert.equal((await call('POST', '/v1/approvals', otherGrant, request({ session: 'flood', rule: { policy: 'others', rule: 'others#1' } }))).status, 200);
  // One withdrawn makes room for one more.
  assert.equal((await call('POST', `/v1/approvals/${made[0]!.body.id}/withdraw`, grant)).status, 200);
  assert.equal((await call('POST', '/v1/approvals', grant, request({ session: 'flood' }))).status, 200);
  assert.equal((await call('POST', '/v1/approvals', grant, request({ session: 'flood' }))).status, 429);
});

test('malformed requests and missing credentials are refused', async () => {
  const cases: [unknown, number][] = [
    [{ ...request(), operation: { kind: 'sql', text: 'x' } }, 400],
    [{ ...request(), approvers: ['dba'] }, 400],
    [{ ...request(), timeoutSeconds: 0 }, 400],
    [{ ...request(), operation: { kind: 'shell', command: 'rm' } }, 400],
  ];
  for (const [body, status] of cases) assert.equal((await call('POST', '/v1/approvals', grant, body)).status, status, JSON.stringify(body));
  // The rule must be an approve rule of the requester's own policies.
  for (const rule of [{ policy: 'support-agents', rule: 'support-agents#0' }, { policy: 'support-agents', rule: 'support-agents#9' }, { policy: 'others', rule: 'others#1' }]) {
    const res = await call('POST', '/v1/approvals', grant, request({ rule }));
    assert.equal(res.status, 403, JSON.stringify(rule));
    assert.equal(res.body.error?.code, 'APPROVALS_ERR_RULE_UNKNOWN');
  }
  assert.equal((await call('POST', '/v1/approvals', grant, request({ connection: 'billing-db' }))).body.error?.code, 'APPROVALS_ERR_RULE_UNKNOWN');
  // Other kinds keep their fields; unknown fields are dropped, not approved.
  const cmd = await create({ operation: { kind: 'command', command: 'rm -rf /tmp/x', extra: 1 } as never });
  assert.deepEqual(cmd.operation, { kind: 'command', command: 'rm -rf /tmp/x' });
  const kube = await create({ operation: { kind: 'kubernetes', verb: 'delete', path: '/api/v1/namespaces/x', resource: 'namespaces', name: 'x' } });
  assert.deepEqual(kube.operation, { kind: 'kubernetes', verb: 'delete', path: '/api/v1/namespaces/x', resource: 'namespaces', name: 'x' });
  assert.equal((await call('POST', '/v1/approvals', null, request())).status, 401);
  assert.equal((await call('POST', '/v1/approvals', ADMIN, request())).status, 401);
  const a = await create();
  const asSidecar = await call('POST', `/v1/approvals/${a.id}/decision`, grant, { decision: 'approve' });
  assert.equal(asSidecar.status, 401);
  assert.equal((await call('GET', '/v1/approvals', null)).status, 401);
  assert.equal((await call('GET', '/v1/approvals/nope', ADMIN)).status, 404);
});

test('closing the app answers waiting long polls at once', async () => {
  const second = await buildTestApp(pg.url, { docs: docs(), adminToken: ADMIN, secrets: { 'orders-db-admin': { username: 'u', password: 'p' } } });
  try {
    const g = await second.grantFor(bot);
    const created = await second.app.inject({ method: 'POST', url: '/v1/approvals', headers: { authorization: `Bearer ${g}` }, payload: request() });
    const a = created.json() as Approval;
    const waiting = second.app.inject({ method: 'GET', url: `/v1/approvals/${a.id}/wait?timeoutSeconds=300`, headers: { authorization: `Bearer ${g}` } });
    const watching = second.app.inject({ method: 'GET', url: '/v1/approvals/watch?after=999999&timeoutSeconds=300', headers: { authorization: `Bearer ${ADMIN}` } });
    await new Promise((r) => setTimeout(r, 100));
    const closed = second.close();
    const [w, x] = await Promise.all([waiting, watching]);
    await closed;
    assert.equal((w.json() as Approval).state, 'pending');
    assert.deepEqual((x.json() as ApprovalWatchResponse).approvals, []);
  } finally {
    await second.close().catch(() => undefined);
  }
});
