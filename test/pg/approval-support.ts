// Set-up for the approval tests: a real PostgreSQL (the agent's database and the control plane's
// store), the real control plane (buildTestApp) listening on a port, and a PgProxy whose approve
// statements are held through ControlPlaneApprovalGate; decisions are taken with the admin token.
import type { Approval, ApprovalState } from '@chaperone/core/api';
import type { AccessPolicyDoc, PolicyDoc } from '@chaperone/core/policy/types';
import { SqlClassifier } from '@chaperone/core/sql/classifier';
import { loadSqlParser } from '@chaperone/core/sql/classify';
import { buildTestApp, sampleDocs } from '@chaperone/control-plane/testing/app';
import type { TestApp } from '@chaperone/control-plane/testing/app';
import { ControlPlaneApprovalGate } from '@chaperone/sidecar/approvals/control-plane-gate';
import { ControlPlaneClient } from '@chaperone/sidecar/control-plane-client';
import { PgProxy } from '@chaperone/sidecar/pg/proxy';
import { buildEnforcer } from '@chaperone/sidecar/sql-enforcement';
import type { PgObserver, SqlVerdict } from '@chaperone/sidecar/pg/proxy';
import { DATABASE, USERS } from '../harness/postgres.js';
import type { Endpoint, PostgresServer } from '../harness/postgres.js';
import { RecordingObserver } from './support.js';

export const ADMIN_TOKEN = 'approval-test-admin-token-0123456789';
export const CONNECTION = 'orders-db';
export const IDENTITY = { namespace: 'agents', serviceAccount: 'support-bot' };
/** `delete` statements wait this long before they expire. */
export const SHORT_TIMEOUT_SECONDS = 2;

/** The agent's policy, the same documents for the control plane and the proxy's enforcer. */
export function approvalDocs(): PolicyDoc[] {
  const [connection] = sampleDocs({ connection: CONNECTION });
  const policy: AccessPolicyDoc = {
    apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'ops' },
    spec: {
      subjects: [{ serviceAccount: { namespace: IDENTITY.namespace, name: IDENTITY.serviceAccount } }],
      connections: [CONNECTION],
      rules: [
        { action: 'deny', match: { statements: ['drop'] }, message: 'no drops' },
        { action: 'approve', match: { statements: ['truncate'] }, approvers: ['group:dba'], timeout: '60s', message: 'needs a DBA' },
        { action: 'approve', match: { statements: ['delete'] }, approvers: ['group:dba'], timeout: `${SHORT_TIMEOUT_SECONDS}s`, message: 'quick one' },
      ],
      default: 'allow',
    },
  };
  return connection ? [connection, policy] : [policy];
}

/** truncate → approve (60 s); delete → approve (SHORT_TIMEOUT_SECONDS); drop → deny; else allow. */
export function approvalEnforce(): (text: string) => SqlVerdict {
  const policies = approvalDocs().filter((d): d is AccessPolicyDoc => d.kind === 'AccessPolicy');
  return buildEnforcer(policies, CONNECTION, new SqlClassifier());
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
    docs: approvalDocs(), adminToken: ADMIN_TOKEN, secrets: { [`${CONNECTION}-admin`]: { ...USERS.scram } },
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
    enforce: approvalEnforce(), observer,
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
