// What a protocol session needs to hold an operation for just-in-time approval: ask, wait, and
// give up when the agent does. Implemented against the control plane's /v1/approvals.
import type { Approval, ApprovalCreateRequest } from '@chaperone/core/api';

/**
 * How a wait ended. `unavailable` covers everything that is not a decision (control plane down,
 * grant refused): the caller fails closed and refuses the operation, saying so.
 */
export type ApprovalOutcome =
  | { state: 'approved'; approval: Approval }
  | { state: 'denied'; approval: Approval }
  | { state: 'expired'; approval: Approval }
  | { state: 'withdrawn'; approval: Approval | undefined }
  | { state: 'unavailable'; error: string };

export interface ApprovalGate {
  /**
   * Creates the request and waits for its decision. Aborting `signal` (agent's CancelRequest,
   * disconnect, shutdown) withdraws it and resolves `withdrawn`. Never rejects.
   * `onPending` is called once the control plane has the request, with its id.
   */
  request(req: ApprovalCreateRequest, signal: AbortSignal, onPending?: (approval: Approval) => void): Promise<ApprovalOutcome>;
}
