// Carries out a decision for one SSH operation: allow runs it, deny refuses it, approve holds it
// at the ApprovalGate (recording each approval state) and runs it only when approved.
import type { Decision } from '@chaperone/core/decision';
import type { ApprovalGate } from '../approvals/gate.js';
import type { SshSessionLog } from './observer.js';

export type Authorized =
  | { run: true; approval?: string }
  | { run: false; message: string; approval?: string };

export interface HoldContext {
  session: string;
  connection: string;
  approvals: ApprovalGate | undefined;
  log: SshSessionLog;
  /** Aborted when the agent goes away: a pending approval is withdrawn. */
  signal: AbortSignal;
  /** Holds not yet settled: the session's records end only after them (a withdrawal is recorded). */
  holding: Set<Promise<unknown>>;
}

/** `what` is what approvers see: the command line, or `sftp file-write /path`. */
export async function authorize(ctx: HoldContext, decision: Decision, what: string): Promise<Authorized> {
  switch (decision.action) {
    case 'allow':
      return { run: true };
    case 'deny':
      return { run: false, message: decision.message };
    case 'approve': {
      const held = hold(ctx, decision, what);
      ctx.holding.add(held);
      void held.finally(() => ctx.holding.delete(held));
      return held;
    }
  }
}

async function hold(ctx: HoldContext, d: Extract<Decision, { action: 'approve' }>, what: string): Promise<Authorized> {
  if (!ctx.approvals) return { run: false, message: `${d.message} (needs approval, and approvals are not available here)` };
  const rule = { policy: d.policy, rule: d.rule };
  const asked = performance.now();
  const outcome = await ctx.approvals.request({
    session: ctx.session, protocol: 'ssh', connection: ctx.connection, operation: { kind: 'command', command: what },
    rule, approvers: d.approvers, timeoutSeconds: d.timeoutSeconds, message: d.message,
  }, ctx.signal, (pending) => ctx.log.record({ type: 'approval', id: pending.id, state: 'pending', rule }));
  const waitedMs = Math.round(performance.now() - asked);
  if (outcome.state === 'unavailable') return { run: false, message: `${d.message}: approval unavailable (${outcome.error}); refused` };
  const approval = outcome.approval;
  if (approval) {
    ctx.log.record({
      type: 'approval', id: approval.id, state: outcome.state, rule, waitedMs,
      ...(approval.decidedBy ? { by: approval.decidedBy } : {}), ...(approval.reason ? { reason: approval.reason } : {}),
    });
  }
  const id = approval ? { approval: approval.id } : {};
  switch (outcome.state) {
    case 'approved': return { run: true, ...id };
    case 'denied': return { run: false, message: `${d.message}: denied by ${approval?.decidedBy ?? 'an approver'}${approval?.reason ? ` (${approval.reason})` : ''}`, ...id };
    case 'expired': return { run: false, message: `${d.message}: approval timed out`, ...id };
    case 'withdrawn': return { run: false, message: `${d.message}: withdrawn`, ...id };
  }
}
