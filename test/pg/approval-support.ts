// Set-up for the approval tests: a real PostgreSQL (the agent's database and the control plane's
// store), the real control plane (buildTestApp) listening on a port, and a PgProxy whose approve
// statements are held through ControlPlaneApprovalGate; decisions are taken with the admin token.
import type { Approval, ApprovalState } from '@chaperone/core/api';
import type { Decision } from '@chaperone/core/decision';
import { classifySql, loadSqlParser } from '@chaperone/core/sql/classify';
import { buildTestApp, sampleDocs } from '@chaperone/control-plane/testing/app';
import type { TestApp } from '@chaperone/control-plane/testing/app';
import { ControlPlaneApprovalGate } from '@chaperone/sidecar/approvals/control-plane-gate';
import { ControlPlaneClient } from '@chaperone/sidecar/control-plane-client';
import { PgProxy } from '@chaperone/sidecar/pg/proxy';
import type { PgObserver, SqlVerdict } from '@chaperone/sidecar/pg/proxy';
import { DATABASE, USERS } from '../harness/postgres.js';
import type { Endpoint, PostgresServer } from '../harness/postgres.js';
import { RecordingObserver } from './support.js';

export const ADMIN_TOKEN = 'approval-test-admin-token-0123456789';
export const CONNECTION = 'orders-db';
export const IDENTITY = { namespace: 'agents', serviceAccount: 'support-bot' };
/** `delete` statements wait this long before they expire. */
export const SHORT_TIMEOUT_SECONDS = 2;

/** truncate → approve (60 s); delete → approve (SHORT_TIMEOUT_SECONDS); drop → deny; else allow. */
export function approvalEnforce(text: string): SqlVerdict {
  const c = classifySql(text);
  const verdict = (decision: Decision, kinds: string[] = [], tables: string[] = []): SqlVerdict => ({ decision, kinds, tables, redactLiterals: false });
  if (!c.ok) return verdict({ action: 'deny', message: 'unclassifiable', policy: '', rule: 'unclassified' });
  const kinds = c.statements.flatMap((s) => s.kinds);
  const tables = c.statements.flatMap((s) => s.tables);
  if (kinds.includes('drop')) return verdict({ action: 'deny', message: 'no drops', policy: 'p', rule: 'p#0' }, kinds, tables);
  if (kinds.includes('truncate')) return verdict({ action: 'approve', approvers: ['group:dba'], timeoutSeconds: 60, message: 'needs a DBA', policy: 'p', rule: 'p#1' }, kinds, tables);
  if (kinds.includes('delete')) {
    return verdict({ action: 'approve', approvers: ['group:dba'], timeoutSeconds: SHORT_TIMEOUT_SECONDS, message: 'quick one', policy: 'p', rule: 'p#2' }, kinds, tables);
  }
  return verdict({ action: 'allow', policy: 'p', rule: 'default' }, kinds, tables);
}

export type ApprovalInfo = Parameters<NonNullable<PgObserver['approval']>>[0];

export class ApprovalObserver extends RecordingObserver {
  approvals: ApprovalInfo[] = [];
  approval(info: ApprovalInfo): void { this.approvals.push(info); }
}

export interface ControlPlaneUnderTest { cp: TestApp; url: string }

export async function startControlPlane(pg: PostgresServer, store = 'approvals_store'): Promise<ControlPlaneUnderTest> {
  await pg.sql(`create database ${store}`);
  const cp = await buildTestApp(`postgres://postgres@${pg.host}:${pg.port}/${store}`, {
    docs: sampleDocs({ connection: CONNECTION }), adminToken: ADMIN_TOKEN, secrets: { [`${CONNECTION}-admin`]: { ...USERS.scram } },
  });
  const url = await cp.app.listen({ host: '127.0.0.1', port: 0 });
  return { cp, url };
}

export interface ApprovalProxy { proxy: PgProxy; observer: ApprovalObserver; endpoint: Endpoint; client: ControlPlaneClient }

/** A proxy whose gate talks to `url` (a control plane, or a closed port). */
export async function startApprovalProxy(pg: PostgresServer, url: string, grant: string, graceSeconds = 5): Promise<ApprovalProxy> {
  await loadSqlParser();
  const observer = new ApprovalObserver();
  const client = new ControlPlaneClient({ url, requestTimeoutMs: 2_000 });
  const proxy = new PgProxy({
    listen: { host: '127.0.0.1', port: 0 }, connectionName: CONNECTION,
    target: { host: pg.host, port: pg.port, database: DATABASE, sslmode: 'disable' }, credential: USERS.scram,
    enforce: approvalEnforce, observer,
    approvals: new ControlPlaneApprovalGate({ client, grant: () => grant, pollSeconds: 1, graceSeconds }),
  });
  const { port } = await proxy.start();
  return { proxy, observer, client, endpoint: { host: '127.0.0.1', port, user: 'agent', database: 'whatever' } };
}

export async function listApprovals(cp: TestApp, state?: ApprovalState): Promise<Approval[]> {
  const res = await cp.app.inject({ method: 'GET', url: `/v1/approvals${state ? `?state=${state}` : ''}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (res.statusCode !== 200) throw new Error(`list approvals: ${res.statusCode} ${res.body}`);
  return res.json() as Approval[];
}

/** Waits for a pending approval whose statement text includes `text`. */
export async function pendingFor(cp: TestApp, text: string): Promise<Approval> {
  let found: Approval | undefined;
  const deadline = Date.now() + 20_000;
  while (!found) {
    found = (await listApprovals(cp, 'pending')).find((a) => a.operation.kind === 'sql' && a.operation.text.includes(text));
    if (found) break;
    if (Date.now() > deadline) throw new Error(`no pending approval for ${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return found;
}

export async function decide(cp: TestApp, id: string, decision: 'approve' | 'deny', reason?: string): Promise<Approval> {
  const res = await cp.app.inject({
    method: 'POST', url: `/v1/approvals/${id}/decision`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    payload: reason === undefined ? { decision } : { decision, reason },
  });
  if (res.statusCode !== 200) throw new Error(`decide ${id}: ${res.statusCode} ${res.body}`);
  return res.json() as Approval;
}

export async function getApproval(cp: TestApp, id: string): Promise<Approval> {
  const res = await cp.app.inject({ method: 'GET', url: `/v1/approvals/${id}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (res.statusCode !== 200) throw new Error(`get ${id}: ${res.statusCode} ${res.body}`);
  return res.json() as Approval;
}
