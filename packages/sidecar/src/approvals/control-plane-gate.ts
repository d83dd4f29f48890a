// ApprovalGate over the control plane's /v1/approvals: create, long-poll wait in a loop until a
// decision or the rule's timeout, withdraw when the agent gives up. Fails closed: anything that is
// not a decision ends as `unavailable`, and the protocol session refuses the operation.
import type { Approval, ApprovalCreateRequest } from '@chaperone/core/api';
import { isChaperoneError } from '@chaperone/core/errors';
import { canonicalJson } from '@chaperone/core/records/canonical';
import { backoffMs, sleep } from '../backoff.js';
import { CP_ERR_UNAUTHORIZED, CP_ERR_UNREACHABLE } from '../control-plane-client.js';
import type { ControlPlaneClient } from '../control-plane-client.js';
import type { ApprovalGate, ApprovalOutcome } from './gate.js';

export type ApprovalClient = Pick<ControlPlaneClient, 'createApproval' | 'waitApproval' | 'withdrawApproval'>;

export interface ControlPlaneGateOptions {
  client: ApprovalClient;
  /** The sidecar's current grant (renewed behind our back). */
  grant: () => string;
  /** Called on a 401; resolves once a new grant is in place. */
  refreshGrant?: () => Promise<void>;
  /** Longest single long-poll; default 25 s (under common proxies' idle limits). */
  pollSeconds?: number;
  /**
   * How long past the rule's timeout we keep asking before giving up on our own (the control
   * plane expires the request itself; this covers a control plane that never answers). Default 5 s.
   */
  graceSeconds?: number;
}

export class ControlPlaneApprovalGate implements ApprovalGate {
  private readonly pollSeconds: number;
  private readonly graceMs: number;

  constructor(private readonly o: ControlPlaneGateOptions) {
    this.pollSeconds = Math.max(1, Math.floor(o.pollSeconds ?? 25));
    this.graceMs = (o.graceSeconds ?? 5) * 1000;
  }

  async request(req: ApprovalCreateRequest, signal: AbortSignal, onPending?: (approval: Approval) => void): Promise<ApprovalOutcome> {
    if (signal.aborted) return { state: 'withdrawn', approval: undefined };
    let approval: Approval;
    try {
      approval = await this.call((grant) => this.o.client.createApproval(grant, req, signal));
    } catch (err) {
      if (signal.aborted) return { state: 'withdrawn', approval: undefined };
      return { state: 'unavailable', error: `approval could not be requested: ${describe(err)}` };
    }
    // An answer about anything but this operation (a replayed or misrouted response) decides nothing.
    const wanted = canonicalJson({ session: req.session, operation: req.operation });
    const createdId = approval.id;
    const foreign = (a: Approval): string | undefined => a.id !== createdId || canonicalJson({ session: a.session, operation: a.operation }) !== wanted
      ? `the control plane answered with approval ${a.id} for another operation` : undefined;
    const mismatch = foreign(approval);
    if (mismatch) return { state: 'unavailable', error: mismatch };
    try { onPending?.(approval); } catch { /* a recording hook never decides the outcome */ }
    const deadline = Date.now() + req.timeoutSeconds * 1000 + this.graceMs;
    let failures = 0;
    let lastError = '';
    while (approval.state === 'pending') {
      if (signal.aborted) return this.withdraw(approval);
      const left = deadline - Date.now();
      if (left <= 0) {
        // The control plane did not expire it in time (or could not be reached): give up, withdraw it.
        await this.withdraw(approval);
        if (failures > 0) return { state: 'unavailable', error: `no decision could be fetched: ${lastError}` };
        return { state: 'expired', approval };
      }
      const wait = Math.max(1, Math.min(this.pollSeconds, Math.ceil(left / 1000)));
      const id = approval.id;
      try {
        approval = await this.call((grant) => this.o.client.waitApproval(grant, id, wait, signal));
        failures = 0;
        const wrong = foreign(approval);
        if (wrong) {
          await this.withdraw({ ...approval, id });
          return { state: 'unavailable', error: wrong };
        }
      } catch (err) {
        if (signal.aborted) return this.withdraw(approval);
        // Not found / refused: this request is gone for us; fail closed at once.
        if (!isChaperoneError(err, CP_ERR_UNREACHABLE)) return { state: 'unavailable', error: `approval ${id} could not be followed: ${describe(err)}` };
        lastError = describe(err);
        await sleep(backoffMs(failures++, 200), signal);
      }
    }
    return finalOutcome(approval);
  }

  /** Best effort: the agent is gone or gave up, whatever the control plane says. */
  private async withdraw(approval: Approval): Promise<ApprovalOutcome> {
    try {
      const done = await this.call((grant) => this.o.client.withdrawApproval(grant, approval.id, AbortSignal.timeout(5_000)));
      return { state: 'withdrawn', approval: done };
    } catch {
      return { state: 'withdrawn', approval: undefined };
    }
  }

  /** One call, retried once with a fresh grant after a 401. */
  private async call<T>(f: (grant: string) => Promise<T>): Promise<T> {
    try {
      return await f(this.o.grant());
    } catch (err) {
      if (!isChaperoneError(err, CP_ERR_UNAUTHORIZED) || !this.o.refreshGrant) throw err;
      await this.o.refreshGrant();
      return f(this.o.grant());
    }
  }
}

function finalOutcome(a: Approval): ApprovalOutcome {
  switch (a.state) {
    case 'approved': return { state: 'approved', approval: a };
    case 'denied': return { state: 'denied', approval: a };
    case 'expired': return { state: 'expired', approval: a };
    case 'withdrawn': return { state: 'withdrawn', approval: a };
    case 'pending': return { state: 'unavailable', error: `approval ${a.id} is still pending` };
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
