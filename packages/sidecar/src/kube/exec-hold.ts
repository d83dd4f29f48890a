// Holds an exec, attach, port-forward or a line typed into an exec'd shell for approval: asks
// the ApprovalGate, records the approval's states, and says how it ended.
import type { HeldOperation } from '@chaperone/core/api';
import type { Decision } from '@chaperone/core/decision';
import type { ApprovalEvent } from '@chaperone/core/records/types';
import type { KubeProxyState, KubeSession } from './proxy.js';

export type HoldResult = { approved: true; approval: string } | { approved: false; approval?: string; decision: Decision };

export async function holdForApproval(state: KubeProxyState, session: KubeSession, operation: HeldOperation, d: Extract<Decision, { action: 'approve' }>, record: (e: ApprovalEvent) => void): Promise<HoldResult> {
  const started = performance.now();
  if (!state.approvals) {
    return { approved: false, decision: { action: 'deny', policy: d.policy, rule: d.rule, message: `chaperone: ${d.message}; this sidecar cannot hold requests for approval, so it is refused` } };
  }
  let id: string | undefined;
  const outcome = await state.approvals.request({
    session: session.id, protocol: 'kubernetes', connection: state.connection, operation,
    rule: { policy: d.policy, rule: d.rule }, approvers: d.approvers, timeoutSeconds: d.timeoutSeconds, message: d.message,
  }, session.closed.signal, (a) => {
    id = a.id;
    record({ type: 'approval', id: a.id, state: 'pending', rule: { policy: d.policy, rule: d.rule } });
  });
  if (outcome.state !== 'unavailable' && outcome.approval) {
    const a = outcome.approval;
    id = a.id;
    const event: ApprovalEvent = { type: 'approval', id: a.id, state: outcome.state, rule: { policy: d.policy, rule: d.rule }, waitedMs: Math.round(performance.now() - started) };
    if (a.decidedBy) event.by = a.decidedBy;
    if (a.reason) event.reason = a.reason;
    record(event);
  }
  if (outcome.state === 'approved') return { approved: true, approval: outcome.approval.id };
  const why = outcome.state === 'unavailable' ? `approval unavailable (${outcome.error})`
    : outcome.state === 'denied' ? `approval denied${outcome.approval.reason ? `: ${outcome.approval.reason}` : ''}`
      : outcome.state === 'expired' ? 'approval timed out' : 'approval withdrawn';
  return { approved: false, ...(id !== undefined ? { approval: id } : {}), decision: { action: 'deny', policy: d.policy, rule: d.rule, message: `chaperone: ${d.message}; ${why}` } };
}
