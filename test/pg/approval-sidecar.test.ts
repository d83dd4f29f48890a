// The whole path of an approval: runSidecar (its gate, grant and recorder) in front of a real
// PostgreSQL, runControlPlane with a policy file holding an approve rule. A held DELETE is
// approved over HTTP with the admin token; the session's records reach the control plane with the
// approval events around the statement, the chain intact; the wait histogram counts it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import type { Approval, SessionDetail } from '@chaperone/core/api';
import { verifyChain } from '@chaperone/core/records/chain';
import type { RunningControlPlane } from '@chaperone/control-plane/server';
import type { RunningSidecar } from '@chaperone/sidecar/sidecar';
import { startDevControlPlane, startDevSidecar } from '../harness/dev-stack.js';
import { DATABASE, startPostgres } from '../harness/postgres.js';
import type { PostgresServer } from '../harness/postgres.js';
import { accessPolicyYaml } from '../harness/policy-yaml.js';

const ADMIN_TOKEN = 'approval-e2e-admin-token-0123456789';
const CONNECTION = 'app-db';
const POLICY = accessPolicyYaml({
  name: 'bots', serviceAccount: { namespace: 'agents', name: 'bot' }, connection: CONNECTION,
  rules: [
    '{ action: approve, name: deletes, match: { statements: [delete] }, approvers: ["group:dba"], timeout: 60s, message: "deletes need a DBA" }',
  ],
});

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('approval through the sidecar and the control plane', () => {
  let pg: PostgresServer;
  let cp: RunningControlPlane;
  let sidecar: RunningSidecar;
  let dir: string;
  const admin = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${cp.url}${path}`, {
      method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };

  before(async () => {
    pg = await startPostgres();
    await pg.sql('create database approval_e2e_store');
    await pg.sql('create table items(id int); insert into items values (1), (2), (3); grant all on items to scram_user', DATABASE);
    dir = mkdtempSync(join(tmpdir(), 'chaperone-approval-e2e-'));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    cp = await startDevControlPlane({
      port: 0, databaseUrl: `postgres://postgres@127.0.0.1:${pg.port}/approval_e2e_store`, dir,
      policyPath: join(dir, 'policy.yaml'), adminToken: ADMIN_TOKEN, connection: CONNECTION, pg,
    });
    sidecar = await startDevSidecar(cp.url, CONNECTION, join(dir, 'spool'));
    await sidecar.ready;
  });
  after(async () => {
    await sidecar?.close();
    await cp?.close();
    await pg?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('holds a DELETE until approved, then records the approval around the statement', async () => {
    const sql = postgres({ host: '127.0.0.1', port: sidecar.ports[CONNECTION], user: 'agent', database: 'x', max: 1, fetch_types: false, onnotice: () => undefined });
    try {
      const held = sql`delete from items where id = ${2}`.execute();
      const pending = await until('the pending approval', async () =>
        (await admin<Approval[]>('GET', '/v1/approvals?state=pending')).find((a) => a.operation.kind === 'sql' && a.operation.text.startsWith('delete from items')));
      assert.deepEqual(pending.operation, { kind: 'sql', text: 'delete from items where id = $1', params: ['2'] });
      assert.deepEqual(pending.rule, { policy: 'bots', rule: 'deletes' });
      assert.deepEqual(pending.identity, { namespace: 'agents', serviceAccount: 'bot' });
      await admin('POST', `/v1/approvals/${pending.id}/decision`, { decision: 'approve' });
      const result = await held;
      assert.equal(result.count, 1);
      await sql.end({ timeout: 5 });

      const detail = await until('the session with its end record', async () => {
        const d = await admin<SessionDetail>('GET', `/v1/sessions/${pending.session}`).catch(() => undefined);
        return d && d.session.endedAt !== null ? d : undefined;
      });
      assert.deepEqual(verifyChain(detail.records), { ok: true });
      assert.equal(detail.session.chainOk, true);
      const events = detail.records.map((r) => r.event);
      const approvals = events.filter((e) => e.type === 'approval');
      assert.deepEqual(approvals.map((e) => e.type === 'approval' && [e.id, e.state]), [[pending.id, 'pending'], [pending.id, 'approved']]);
      const statement = events.find((e) => e.type === 'statement' && e.text.startsWith('delete'));
      assert.ok(statement?.type === 'statement');
      assert.equal(statement.approval, pending.id);
      assert.equal(statement.tag, 'DELETE 1');
      assert.ok(events.indexOf(approvals[1]!) < events.indexOf(statement), 'approved before it ran');

      const metrics = await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/metrics`)).text();
      assert.match(metrics, new RegExp(`chaperone_sidecar_approval_wait_seconds_count\\{protocol="postgres",connection="${CONNECTION}",outcome="approved"\\} 1`));
    } finally {
      await sql.end({ timeout: 1 }).catch(() => undefined);
    }
  });
});
