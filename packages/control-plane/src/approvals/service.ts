// The approval workflow: create, wait, withdraw, decide, list, watch. The store holds the state;
// this adds expiry timers, long-poll wake-ups, metrics and the approver notification.
import { randomUUID } from 'node:crypto';
import type { Approval, ApprovalCreateRequest, ApprovalState, ApprovalTransition, HeldOperation } from '@chaperone/core/api';
import type { Identity } from '@chaperone/core/records/types';
import { cpError } from '../errors.js';
import type { ControlPlaneMetrics } from '../metrics.js';
import type { ApprovalStore, Transition } from './approval-store.js';
import { checkApprover, type Approver } from './approvers.js';
import { approvalFingerprint } from './fingerprint.js';
import { Wakeups } from './wakeups.js';

/** Waiters re-read the store at least this often, so a decision taken by another replica is seen. */
const REREAD_MS = 5_000;
/** setTimeout's limit; longer expiries are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const CREATED = '\0created';
/** Pending approvals one session may have at once: an agent cannot flood approvers (or the store). */
export const DEFAULT_MAX_PENDING_PER_SESSION = 32;

export interface ApprovalServiceOptions {
  store: ApprovalStore;
  metrics: Pick<ControlPlaneMetrics, 'approvalsPending' | 'approvalsTotal' | 'approvalWait'>;
  /** The control plane's address for people; approvals carry `${publicUrl}/v1/approvals/<id>`. */
  publicUrl?: string;
  /** Told of every new approval (the approver webhook); must not throw. */
  onCreated?: (approval: Approval) => void;
  onError?: (err: unknown, what: string) => void;
  now?: () => Date;
  /** Default DEFAULT_MAX_PENDING_PER_SESSION. */
  maxPendingPerSession?: number;
}

export class ApprovalService {
  private readonly store: ApprovalStore;
  private readonly wakeups = new Wakeups();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly now: () => Date;
  private closed = false;

  constructor(private readonly opts: ApprovalServiceOptions) {
    this.store = opts.store;
    this.now = opts.now ?? (() => new Date());
  }

  /** Expires what fell due while no replica ran, and arms timers for what is still pending. */
  async start(): Promise<void> {
    for (const a of await this.store.expireDueApprovals(this.now())) this.settled(a);
    for (const a of await this.store.listApprovals({ state: 'pending', limit: 10_000 })) this.arm(a);
    await this.refreshPending();
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  async create(identity: Identity, req: ApprovalCreateRequest): Promise<Approval> {
    const now = this.now();
    const entry: ApprovalTransition = { state: 'pending', at: now.toISOString(), by: 'sidecar' };
    const operation = heldOperation(req.operation);
    const stored = await this.store.insertApproval({
      id: randomUUID(),
      session: req.session,
      protocol: req.protocol,
      connection: req.connection,
      identity: { namespace: identity.namespace, serviceAccount: identity.serviceAccount },
      operation,
      fingerprint: approvalFingerprint(req.session, operation),
      rule: { policy: req.rule.policy, rule: req.rule.rule },
      approvers: req.approvers,
      message: req.message,
      requestedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + req.timeoutSeconds * 1000).toISOString(),
      history: [entry],
    }, this.opts.maxPendingPerSession ?? DEFAULT_MAX_PENDING_PER_SESSION);
    const approval = this.present(stored);
    this.opts.metrics.approvalsTotal.inc({ state: 'pending' });
    this.arm(stored);
    void this.refreshPending();
    this.wakeups.wake(CREATED);
    this.opts.onCreated?.(approval);
    return approval;
  }

  /** The approval as it stands; a pending one past its expiry is expired first. */
  async get(id: string): Promise<Approval | undefined> {
    const a = await this.store.getApproval(id);
    if (a?.state === 'pending' && Date.parse(a.expiresAt) <= this.now().getTime()) return this.present(await this.expire(id));
    return a && this.present(a);
  }

  async mustGet(id: string): Promise<Approval> {
    const a = await this.get(id);
    if (!a) throw cpError('APPROVALS_ERR_NOT_FOUND', `no approval ${id}`);
    return a;
  }

  /** Long-poll: resolves once the approval is no longer pending, after timeoutMs, or on abort. */
  async wait(id: string, timeoutMs: number, signal: AbortSignal): Promise<Approval> {
    const deadline = this.now().getTime() + timeoutMs;
    for (;;) {
      const a = await this.mustGet(id);
      const left = deadline - this.now().getTime();
      if (a.state !== 'pending' || left <= 0 || signal.aborted) return a;
      // Wake at expiry too, so the answer is `expired` rather than a pending one past its time.
      const untilExpiry = Date.parse(a.expiresAt) - this.now().getTime();
      await this.wakeups.wait(id, Math.min(left, untilExpiry + 1, REREAD_MS), signal);
    }
  }

  /** The requesting sidecar gives up (agent cancelled or went away). */
  async withdraw(id: string, requester: Identity): Promise<Approval> {
    const a = await this.mustGet(id);
    assertRequester(a, requester);
    return this.transition(a, { to: 'withdrawn', entry: { state: 'withdrawn', at: this.now().toISOString(), by: 'sidecar' } });
  }

  async decide(id: string, approver: Approver, decision: 'approve' | 'deny', reason: string | undefined): Promise<Approval> {
    const a = await this.mustGet(id);
    if (a.state !== 'pending') throw notPending(a);
    const check = checkApprover(a, approver);
    if (!check.ok) throw cpError(check.code, check.message, { approvers: a.approvers });
    const to = decision === 'approve' ? 'approved' : 'denied';
    const entry: ApprovalTransition = { state: to, at: this.now().toISOString(), by: approver.subject, ...(reason ? { reason } : {}) };
    return this.transition(a, { to, entry, decidedBy: approver.name });
  }

  async list(state: ApprovalState | undefined, limit: number): Promise<Approval[]> {
    // Expire what is due first, so a listing never shows a pending approval past its time.
    for (const a of await this.store.expireDueApprovals(this.now())) this.settled(a);
    return (await this.store.listApprovals({ ...(state ? { state } : {}), limit })).map((a) => this.present(a));
  }

  /**
   * New requests after `after`; waits up to timeoutMs for one. Without a cursor: the pending
   * approvals now, and the cursor from which to follow.
   */
  async watch(after: bigint | undefined, timeoutMs: number, limit: number, signal: AbortSignal): Promise<{ approvals: Approval[]; cursor: string }> {
    if (after === undefined) {
      const cursor = await this.store.latestApprovalCursor();
      const pending = await this.list('pending', limit);
      return { approvals: pending.reverse(), cursor: cursor.toString() };
    }
    const deadline = this.now().getTime() + timeoutMs;
    for (;;) {
      const page = await this.store.approvalsAfter(after, limit);
      const left = deadline - this.now().getTime();
      if (page.approvals.length > 0 || left <= 0 || signal.aborted) {
        return { approvals: page.approvals.map((a) => this.present(a)), cursor: page.cursor.toString() };
      }
      await this.wakeups.wait(CREATED, Math.min(left, REREAD_MS), signal);
    }
  }

  private async transition(a: Approval, t: Transition): Promise<Approval> {
    const r = await this.store.transitionApproval(a.id, t, this.now());
    if (r.ok) {
      this.settled(r.approval);
      return this.present(r.approval);
    }
    // Lost a race, or it fell due: expire it if so, then say what it is.
    const current = r.approval?.state === 'pending' ? await this.expire(a.id) : r.approval;
    if (!current) throw cpError('APPROVALS_ERR_NOT_FOUND', `no approval ${a.id}`);
    throw notPending(current);
  }

  private async expire(id: string): Promise<Approval> {
    const entry: ApprovalTransition = { state: 'expired', at: this.now().toISOString(), by: 'control-plane', reason: 'timed out' };
    const r = await this.store.transitionApproval(id, { to: 'expired', entry }, this.now());
    if (r.ok) this.settled(r.approval);
    if (!r.approval) throw cpError('APPROVALS_ERR_NOT_FOUND', `no approval ${id}`);
    return r.approval;
  }

  /** Bookkeeping once an approval reached its final state (here or, seen late, elsewhere). */
  private settled(a: Approval): void {
    const timer = this.timers.get(a.id);
    if (timer) clearTimeout(timer);
    this.timers.delete(a.id);
    this.opts.metrics.approvalsTotal.inc({ state: a.state });
    const at = Date.parse(a.history.at(-1)?.at ?? a.requestedAt);
    this.opts.metrics.approvalWait.observe({ state: a.state }, Math.max(0, (at - Date.parse(a.requestedAt)) / 1000));
    void this.refreshPending();
    this.wakeups.wake(a.id);
  }

  private arm(a: Pick<Approval, 'id' | 'expiresAt'>): void {
    if (this.closed) return;
    const old = this.timers.get(a.id);
    if (old) clearTimeout(old);
    const ms = Date.parse(a.expiresAt) - this.now().getTime();
    const timer = setTimeout(() => {
      this.timers.delete(a.id);
      if (ms > MAX_TIMER_MS) return this.arm(a);
      this.expire(a.id).catch((err: unknown) => this.opts.onError?.(err, `expiring approval ${a.id}`));
    }, Math.min(Math.max(0, ms), MAX_TIMER_MS));
    timer.unref();
    this.timers.set(a.id, timer);
  }

  private async refreshPending(): Promise<void> {
    try {
      this.opts.metrics.approvalsPending.set(await this.store.countPendingApprovals());
    } catch (err) {
      if (!this.closed) this.opts.onError?.(err, 'counting pending approvals');
    }
  }

  private present(a: Approval): Approval {
    return this.opts.publicUrl ? { ...a, url: `${this.opts.publicUrl.replace(/\/$/, '')}/v1/approvals/${a.id}` } : a;
  }
}

export function assertRequester(a: Approval, requester: Identity): void {
  if (a.identity.namespace !== requester.namespace || a.identity.serviceAccount !== requester.serviceAccount) {
    throw cpError('APPROVALS_ERR_FORBIDDEN', `approval ${a.id} was requested by another identity`);
  }
}

/** Only the fields of the operation's kind: what is approved is exactly what is described. */
export function heldOperation(op: HeldOperation): HeldOperation {
  switch (op.kind) {
    case 'sql': return { kind: 'sql', text: op.text, params: [...op.params] };
    case 'command': return { kind: 'command', command: op.command };
    case 'kubernetes': {
      const { verb, path, resource, namespace, name, body } = op;
      return {
        kind: 'kubernetes', verb, path, resource,
        ...(namespace !== undefined ? { namespace } : {}), ...(name !== undefined ? { name } : {}), ...(body !== undefined ? { body } : {}),
      };
    }
  }
}

function notPending(a: Approval): Error {
  const by = a.decidedBy ? ` by ${a.decidedBy}` : '';
  return cpError('APPROVALS_ERR_NOT_PENDING', `approval ${a.id} is already ${a.state}${by}`, { state: a.state });
}
