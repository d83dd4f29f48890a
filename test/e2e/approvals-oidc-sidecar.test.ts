// Just-in-time approval end to end with people who log in: `chaperone control-plane` (built CLI)
// trusting a real OpenID Provider, `chaperone sidecar` in front of a real PostgreSQL, psql and
// postgres.js as the agent. A held DELETE refuses an approver outside `group:dba` and the
// requester's own identity (403, still held), then a DBA approves it with `chaperone approvals
// approve --token <ID token>`; another is denied through the CLI and the agent is told by whom and
// why; the session records show both decisions around the statements.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import type { Approval, SessionDetail } from '@chaperone/core/api';
import { verifyChain } from '@chaperone/core/records/chain';
import { startTestIssuer, type TestIssuer } from '@chaperone/control-plane/approvals/testing/oidc-issuer';
import { DATABASE, USERS, freePort, psql, startPostgres, type Endpoint, type PostgresServer } from '../harness/postgres.js';
import { CliProcess, eventually, runCli, tempDir } from './support.js';

const ADMIN = 'approvals-oidc-sidecar-admin-token-0123';
const CONNECTION = 'orders-db';
/** The agent's service account; the "self" approver's ID token names it as its subject. */
const AGENT = { namespace: 'agents', serviceAccount: 'support-bot' };
const AGENT_SUBJECT = `system:serviceaccount:${AGENT.namespace}:${AGENT.serviceAccount}`;

function documents(pg: PostgresServer): string {
  return `apiVersion: chaperone.dev/v1alpha1
kind: Connection
metadata: { name: ${CONNECTION} }
spec:
  type: postgres
  target: { host: ${pg.host}, port: ${pg.port}, database: ${DATABASE}, sslmode: disable }
  credentials: { secretRef: { name: orders-admin } }
  listen: { port: 5432 }
---
apiVersion: chaperone.dev/v1alpha1
kind: AccessPolicy
metadata: { name: support }
spec:
  subjects:
    - serviceAccount: { namespace: ${AGENT.namespace}, name: ${AGENT.serviceAccount} }
  connections: [${CONNECTION}]
  rules:
    - { action: approve, name: deletes, match: { statements: [delete] }, approvers: ["group:dba"], timeout: 10m, message: "deletes need a DBA" }
  default: allow
`;
}

describe('approvals through the sidecar, decided by OIDC approvers with the CLI', () => {
  const dir = tempDir('approvals-oidc-sidecar');
  let pg: PostgresServer;
  let idp: TestIssuer;
  let cp: CliProcess;
  let sidecar: CliProcess;
  let url: string;
  let agent: Endpoint;
  const isolated = { XDG_STATE_HOME: join(dir.path, 'state'), CHAPERONE_CONTROL_PLANE: '', CHAPERONE_TOKEN: '' };

  before(async () => {
    pg = await startPostgres();
    await pg.sql('create database approvals_oidc_store');
    await pg.sql(`create table items(id int primary key, note text); insert into items select g, 'item ' || g from generate_series(1, 6) g;
      grant all on items to ${USERS.scram.username}`, DATABASE);
    idp = await startTestIssuer({
      dana: { email: 'dana@example.test', groups: ['dba'] },
      sam: { email: 'sam@example.test', groups: ['support'] },
      // The agent's own service account, in the right group: only the self-approval rule stops it.
      [AGENT_SUBJECT]: { groups: ['dba'] },
    });
    const policies = join(dir.path, 'policies');
    mkdirSync(policies);
    writeFileSync(join(policies, 'all.yaml'), documents(pg));
    const credentials = join(dir.path, 'credentials.yaml');
    writeFileSync(credentials, `orders-admin: ${JSON.stringify({ username: USERS.scram.username, password: USERS.scram.password })}\n`);
    const cpPort = await freePort();
    url = `http://127.0.0.1:${cpPort}`;
    cp = CliProcess.start(['control-plane', '--listen', `127.0.0.1:${cpPort}`, '--database-url', `postgres://postgres@${pg.host}:${pg.port}/approvals_oidc_store`,
      '--policy', policies, '--credentials', credentials, '--dev-issuer', '--admin-token', ADMIN,
      '--oidc-issuer', idp.issuer, '--oidc-client-id', idp.clientId, '--log-level', 'warn'], isolated);
    await eventually('the control plane listening', () => cp.stderr.includes(`listening on ${url}`) || (!cp.running && Promise.reject(new Error(cp.stderr))), 180_000);
    const port = await freePort();
    sidecar = CliProcess.start(['sidecar', '--control-plane', url, '--dev-identity', `${AGENT.namespace}/${AGENT.serviceAccount}`,
      '--port', `${CONNECTION}=${port}`, '--spool-dir', join(dir.path, 'spool'), '--admin-listen', `127.0.0.1:${await freePort()}`, '--log-level', 'warn'], isolated);
    await eventually('the sidecar ready', () => sidecar.stderr.includes('chaperone sidecar: ready') || (!sidecar.running && Promise.reject(new Error(sidecar.stderr))), 120_000);
    agent = { host: '127.0.0.1', port, user: 'agent', database: 'anything' };
  });
  after(async () => {
    if (sidecar?.running) await sidecar.stop('SIGTERM');
    if (cp?.running) await cp.stop('SIGTERM');
    await idp?.close();
    await pg?.destroy();
    dir.remove();
  });

  async function api<T>(method: 'GET' | 'POST', path: string, token: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${url}${path}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  const pendingFor = (text: string): Promise<Approval> => eventually(`a pending approval for ${text}`, async () =>
    (await api<Approval[]>('GET', '/v1/approvals?state=pending', ADMIN)).body.find((a) => a.operation.kind === 'sql' && a.operation.text === text), 30_000);

  const count = async (where: string): Promise<string> => (await pg.sql(`select count(*) from items where ${where}`, DATABASE)).trim();
  const cli = (args: string[]) => runCli(['approvals', ...args, '--control-plane', url], isolated);

  /** A session's records once its end record has arrived. */
  const sessionRecords = (id: string): Promise<SessionDetail> => eventually(`the records of session ${id}`, async () => {
    const d = await api<SessionDetail>('GET', `/v1/sessions/${id}`, ADMIN);
    return d.status === 200 && d.body.session.endedAt !== null ? d.body : undefined;
  }, 30_000);

  it('psql: outsiders and the requester are refused (403, still held); a DBA approves with the CLI and the DELETE runs', async () => {
    const text = 'DELETE FROM items WHERE id = 1';
    const run = psql(agent, ['-c', text]);
    let finished = false;
    void run.then(() => { finished = true; });
    const pending = await pendingFor(text);
    assert.deepEqual(pending.identity, AGENT);
    assert.deepEqual(pending.approvers, ['group:dba']);

    const outsider = await api<{ error: { code: string; message: string } }>('POST', `/v1/approvals/${pending.id}/decision`, await idp.idToken('sam'), { decision: 'approve' });
    assert.equal(outsider.status, 403);
    assert.equal(outsider.body.error.code, 'APPROVALS_ERR_NOT_APPROVER');
    assert.match(outsider.body.error.message, /sam@example\.test may not decide this approval; it needs one of: group:dba/);
    const self = await api<{ error: { code: string; message: string } }>('POST', `/v1/approvals/${pending.id}/decision`, await idp.idToken(AGENT_SUBJECT), { decision: 'approve' });
    assert.equal(self.status, 403);
    assert.equal(self.body.error.code, 'APPROVALS_ERR_SELF_APPROVAL');
    assert.match(self.body.error.message, new RegExp(`${AGENT_SUBJECT} requested this operation and cannot approve it`));
    // The same refusal through the CLI, with the requester's token.
    const selfCli = await cli(['approve', pending.id, '--token', await idp.idToken(AGENT_SUBJECT)]);
    assert.equal(selfCli.code, 1);
    assert.match(selfCli.stderr, /403 .*cannot approve it \[APPROVALS_ERR_SELF_APPROVAL\]/);

    // Still held: the approval is pending, psql has no answer, the row is there.
    assert.equal((await api<Approval>('GET', `/v1/approvals/${pending.id}`, ADMIN)).body.state, 'pending');
    assert.equal(finished, false, 'psql is still waiting');
    assert.equal(await count('id = 1'), '1');

    const approved = await cli(['approve', pending.id, '--token', await idp.idToken('dana'), '--reason', 'ticket OPS-7']);
    assert.deepEqual([approved.code, approved.stdout], [0, `${pending.id} approved by dana@example.test: ticket OPS-7\n`], approved.stderr);
    const result = await run;
    assert.deepEqual([result.code, result.stderr], [0, '']);
    assert.equal(await count('id = 1'), '0');

    const detail = await sessionRecords(pending.session);
    assert.deepEqual(verifyChain(detail.records), { ok: true });
    const events = detail.records.map((r) => r.event);
    const decisions = events.flatMap((e) => (e.type === 'approval' ? [[e.id, e.state, e.by ?? null, e.reason ?? null]] : []));
    assert.deepEqual(decisions, [[pending.id, 'pending', null, null], [pending.id, 'approved', 'dana@example.test', 'ticket OPS-7']]);
    const statement = events.find((e) => e.type === 'statement' && e.text === text);
    assert.ok(statement?.type === 'statement', 'the DELETE is recorded');
    assert.deepEqual([statement.approval, statement.tag], [pending.id, 'DELETE 1']);
  });

  it('postgres.js (extended protocol): a DBA denies with a reason through the CLI; the agent is told who and why', async () => {
    const sql = postgres({ host: agent.host, port: agent.port, user: agent.user, database: agent.database, max: 1, fetch_types: false, onnotice: () => undefined });
    try {
      const held = sql`DELETE FROM items WHERE id > ${4}`.execute().then(() => undefined, (err: unknown) => err as postgres.PostgresError);
      const pending = await pendingFor('DELETE FROM items WHERE id > $1');
      assert.deepEqual(pending.operation, { kind: 'sql', text: 'DELETE FROM items WHERE id > $1', params: ['4'] });
      const outsider = await cli(['deny', pending.id, '--reason', 'not mine to say', '--token', await idp.idToken('sam')]);
      assert.equal(outsider.code, 1);
      assert.match(outsider.stderr, /403 sam@example\.test may not decide this approval.*\[APPROVALS_ERR_NOT_APPROVER\]/);

      const reason = 'archive first, see OPS-9';
      const denied = await cli(['deny', pending.id, '--reason', reason, '--token', await idp.idToken('dana')]);
      assert.deepEqual([denied.code, denied.stdout], [0, `${pending.id} denied by dana@example.test: ${reason}\n`], denied.stderr);
      const err = await held;
      assert.ok(err, 'the DELETE failed');
      assert.equal(err.code, '42501');
      assert.equal(err.message, `statement denied by dana@example.test: ${reason}`);
      assert.equal(await count('id > 4'), '2', 'nothing was deleted');
      // The connection is still usable after the refusal.
      assert.deepEqual([...await sql`select count(*)::int as n from items`], [{ n: 5 }]);
      await sql.end({ timeout: 5 });

      const listed = await cli(['list', '--json', '--token', ADMIN]);
      const states = Object.fromEntries((JSON.parse(listed.stdout) as Approval[]).map((a) => [a.operation.kind === 'sql' ? a.operation.text : a.id, [a.state, a.decidedBy, a.reason]]));
      assert.deepEqual(states, {
        'DELETE FROM items WHERE id = 1': ['approved', 'dana@example.test', 'ticket OPS-7'],
        'DELETE FROM items WHERE id > $1': ['denied', 'dana@example.test', reason],
      });

      const detail = await sessionRecords(pending.session);
      assert.deepEqual(verifyChain(detail.records), { ok: true });
      const events = detail.records.map((r) => r.event);
      const decisions = events.flatMap((e) => (e.type === 'approval' ? [[e.id, e.state, e.by ?? null, e.reason ?? null]] : []));
      assert.deepEqual(decisions, [[pending.id, 'pending', null, null], [pending.id, 'denied', 'dana@example.test', reason]]);
      assert.equal(events.some((e) => e.type === 'statement' && e.text.startsWith('DELETE') && e.tag?.startsWith('DELETE') && e.approval === pending.id), false, 'the denied DELETE never ran');
    } finally {
      await sql.end({ timeout: 1 }).catch(() => undefined);
    }
  });
});
