// The storage contract of just-in-time approvals; PostgresApprovalStore is the implementation.
import type { Approval, ApprovalState, ApprovalTransition } from '@chaperone/core/api';

/** An approval as first stored: pending, with its one history entry. */
export type NewApproval = Omit<Approval, 'state' | 'decidedAt' | 'decidedBy' | 'reason' | 'url'>;

/** A move out of `pending`; `decidedBy` only for approve and deny. */
export interface Transition {
  to: Exclude<ApprovalState, 'pending'>;
  entry: ApprovalTransition;
  decidedBy?: string;
}

export type TransitionResult =
  | { ok: true; approval: Approval }
  /** Not pending any more (or, for anything but `expired`, past its expiry): the row as it is. */
  | { ok: false; approval: Approval | undefined };

export interface ApprovalQuery {
  state?: ApprovalState;
  limit: number;
}

export interface ApprovalStore {
  /**
   * Stores a new pending approval. With `maxPendingPerSession`, refused (APPROVALS_ERR_TOO_MANY_PENDING)
   * when the same identity's session already has that many pending and not yet due, atomically
   * with the insert.
   */
  insertApproval(approval: NewApproval, maxPendingPerSession?: number): Promise<Approval>;
  getApproval(id: string): Promise<Approval | undefined>;
  /**
   * Moves a pending approval to `t.to` atomically, appending `t.entry` to its history. Refused
   * unless the row is pending; decisions and withdrawals are also refused once `now` is at or
   * past its expiry (it must be expired instead).
   */
  transitionApproval(id: string, t: Transition, now: Date): Promise<TransitionResult>;
  /** Expires every pending approval due at `now`, returning those it expired. */
  expireDueApprovals(now: Date): Promise<Approval[]>;
  /** Newest first. */
  listApprovals(query: ApprovalQuery): Promise<Approval[]>;
  /** Approvals created after the cursor (oldest first), and the cursor to continue from. */
  approvalsAfter(cursor: bigint, limit: number): Promise<{ approvals: Approval[]; cursor: bigint }>;
  /** The newest cursor, for a watcher starting now. */
  latestApprovalCursor(): Promise<bigint>;
  countPendingApprovals(): Promise<number>;
}
