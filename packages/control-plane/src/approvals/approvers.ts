// Who may decide an approval: the rule's `group:<name>` / `user:<name>` entries, nobody on their own
// request. Pure functions; the caller turns a refusal into its error.
import type { Approval } from '@chaperone/core/api';
import { subjectOf } from '../identity/verifier.js';

/** An authenticated approver. `admin` is the local stack's static token. */
export type Approver =
  | { kind: 'admin'; subject: 'admin'; name: 'admin' }
  /** subject: `oidc:<iss>#<sub>`; name: the username claim (email), else sub. */
  | { kind: 'oidc'; subject: string; sub: string; name: string; groups: string[] };

export const ADMIN_APPROVER: Approver = { kind: 'admin', subject: 'admin', name: 'admin' };

export type ApproverCheck =
  | { ok: true }
  | { ok: false; code: 'APPROVALS_ERR_NOT_APPROVER' | 'APPROVALS_ERR_SELF_APPROVAL'; message: string };

/** Whether `approver` may decide `approval`. */
export function checkApprover(approval: Approval, approver: Approver): ApproverCheck {
  if (approver.kind === 'admin') return { ok: true };
  const requester = subjectOf(approval.identity);
  // The requester is a service account; an ID token naming it (as sub or username) is the requester.
  if (approver.sub === requester || approver.name === requester) {
    return { ok: false, code: 'APPROVALS_ERR_SELF_APPROVAL', message: `${approver.name} requested this operation and cannot approve it` };
  }
  const groups = new Set(approver.groups);
  const allowed = approval.approvers.some((entry) => {
    if (entry.startsWith('group:')) return groups.has(entry.slice('group:'.length));
    if (entry.startsWith('user:')) return entry.slice('user:'.length) === approver.name;
    return false;
  });
  if (allowed) return { ok: true };
  const needed = approval.approvers.length > 0 ? approval.approvers.join(', ') : '(the rule names no approvers)';
  return { ok: false, code: 'APPROVALS_ERR_NOT_APPROVER', message: `${approver.name} may not decide this approval; it needs one of: ${needed}` };
}
