// ApprovalStore on PostgreSQL: each transition is one conditional UPDATE, so two deciders (or a
// decider and the expiry timer) racing on one approval cannot both win.
import type { JSONValue, Sql } from 'postgres';
import type { Approval, ApprovalState, ApprovalTransition, HeldOperation } from '@chaperone/core/api';
import type { RuleRef } from '@chaperone/core/decision';
import type { Identity, Protocol } from '@chaperone/core/records/types';
import { cpError } from '../errors.js';
import type { ApprovalQuery, ApprovalStore, NewApproval, Transition, TransitionResult } from './approval-store.js';

interface ApprovalRow {
  id: string;
  seq: string;
  state: ApprovalState;
  session: string;
  protocol: Protocol;
  connection: string;
  identity: Identity;
  operation: HeldOperation;
  fingerprint: string;
  rule: RuleRef;
  approvers: string[];
  message: string;
  requested_at: Date;
  expires_at: Date;
  decided_at: Date | null;
  decided_by: string | null;
  reason: string | null;
  history: ApprovalTransition[];
}

function toApproval(r: ApprovalRow): Approval {
  return {
    id: r.id, state: r.state, session: r.session, protocol: r.protocol, connection: r.connection, identity: r.identity,
    operation: r.operation, fingerprint: r.fingerprint, rule: r.rule, approvers: r.approvers, message: r.message,
    requestedAt: r.requested_at.toISOString(), expiresAt: r.expires_at.toISOString(),
    decidedAt: r.decided_at?.toISOString() ?? null, decidedBy: r.decided_by, reason: r.reason, history: r.history,
  };
}

/** Any constant; the migrations' lock is 0x63686170. */
const APPROVAL_INSERT_LOCK_KEY = 0x61707072; // 'appr'

export class PostgresApprovalStore implements ApprovalStore {
  constructor(private readonly sql: Sql) {}

  private json(v: unknown) {
    return this.sql.json(v as JSONValue);
  }

  async insertApproval(a: NewApproval, maxPendingPerSession?: number): Promise<Approval> {
    // Inserts take turns (a transaction lock held to commit), so seq order is commit order and a
    // watcher past seq n never misses a row that commits later with a smaller seq.
    const [row] = await this.sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${APPROVAL_INSERT_LOCK_KEY})`;
      if (maxPendingPerSession !== undefined) {
        // Under the insert lock, so concurrent requests cannot all pass the count.
        const [c] = await tx<{ n: number }[]>`
          SELECT count(*)::int AS n FROM approvals
          WHERE state = 'pending' AND expires_at > ${new Date(a.requestedAt)} AND session = ${a.session} AND identity = ${this.json(a.identity)}`;
        if ((c?.n ?? 0) >= maxPendingPerSession) {
          throw cpError('APPROVALS_ERR_TOO_MANY_PENDING', `session ${a.session} already has ${maxPendingPerSession} pending approvals; decide or withdraw some first`, { limit: maxPendingPerSession });
        }
      }
      return tx<ApprovalRow[]>`
      INSERT INTO approvals (id, state, session, protocol, connection, identity, operation, fingerprint, rule, approvers,
                             message, requested_at, expires_at, history)
      VALUES (${a.id}, 'pending', ${a.session}, ${a.protocol}, ${a.connection}, ${this.json(a.identity)}, ${this.json(a.operation)},
              ${a.fingerprint}, ${this.json(a.rule)}, ${this.json(a.approvers)}, ${a.message}, ${new Date(a.requestedAt)},
              ${new Date(a.expiresAt)}, ${this.json(a.history)})
      RETURNING *`;
    });
    return toApproval(row!);
  }

  async getApproval(id: string): Promise<Approval | undefined> {
    const [row] = await this.sql<ApprovalRow[]>`SELECT * FROM approvals WHERE id = ${id}`;
    return row ? toApproval(row) : undefined;
  }

  async transitionApproval(id: string, t: Transition, now: Date): Promise<TransitionResult> {
    const decided = t.to === 'approved' || t.to === 'denied';
    const [row] = await this.sql<ApprovalRow[]>`
      UPDATE approvals SET
        state = ${t.to},
        decided_at = ${decided ? new Date(t.entry.at) : null},
        decided_by = ${decided ? t.decidedBy ?? t.entry.by : null},
        reason = ${t.entry.reason ?? null},
        history = history || ${this.json([t.entry])}
      WHERE id = ${id} AND state = 'pending'
        AND (${t.to === 'expired'} OR expires_at > ${now})
      RETURNING *`;
    if (row) return { ok: true, approval: toApproval(row) };
    return { ok: false, approval: await this.getApproval(id) };
  }

  async expireDueApprovals(now: Date): Promise<Approval[]> {
    const entry: ApprovalTransition = { state: 'expired', at: now.toISOString(), by: 'control-plane', reason: 'timed out' };
    const rows = await this.sql<ApprovalRow[]>`
      UPDATE approvals SET state = 'expired', reason = ${entry.reason ?? null}, history = history || ${this.json([entry])}
      WHERE state = 'pending' AND expires_at <= ${now}
      RETURNING *`;
    return rows.map(toApproval);
  }

  async listApprovals(q: ApprovalQuery): Promise<Approval[]> {
    const rows = await this.sql<ApprovalRow[]>`
      SELECT * FROM approvals
      WHERE (${q.state ?? null}::text IS NULL OR state = ${q.state ?? null})
      ORDER BY requested_at DESC, id DESC
      LIMIT ${q.limit}`;
    return rows.map(toApproval);
  }

  async approvalsAfter(cursor: bigint, limit: number): Promise<{ approvals: Approval[]; cursor: bigint }> {
    const rows = await this.sql<ApprovalRow[]>`
      SELECT * FROM approvals WHERE seq > ${cursor.toString()}::bigint ORDER BY seq LIMIT ${limit}`;
    const last = rows.at(-1);
    return { approvals: rows.map(toApproval), cursor: last ? BigInt(last.seq) : cursor };
  }

  async latestApprovalCursor(): Promise<bigint> {
    const [row] = await this.sql<{ seq: string | null }[]>`SELECT max(seq)::text AS seq FROM approvals`;
    return BigInt(row?.seq ?? '0');
  }

  async countPendingApprovals(): Promise<number> {
    const [row] = await this.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM approvals WHERE state = 'pending'`;
    return row?.n ?? 0;
  }
}
