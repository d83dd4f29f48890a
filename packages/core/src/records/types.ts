// Session records: one per event, sequenced and hash-chained so the store can prove that
// nothing was dropped or altered between the sidecar and the database.
import type { DecisionAction } from '../decision.js';
import type { StatementKind } from '../sql/kinds.js';

export type Protocol = 'postgres' | 'ssh' | 'kubernetes';

export interface Identity {
  namespace: string;
  serviceAccount: string;
  /** The pod a pod-bound projected token names (Kubernetes TokenReview or JWKS identities). */
  pod?: { name: string; uid: string };
}

export interface SessionStartEvent {
  type: 'session.start';
  protocol: Protocol;
  connection: string;
  identity: Identity;
  /** What the agent asked for at startup (PostgreSQL: user, database, application_name). */
  client: Record<string, string>;
}

export interface StatementEvent {
  type: 'statement';
  /** The statement text; with literals replaced by $n when a mask rule covers what it touches. */
  text: string;
  /** `simple` or `extended` query protocol. */
  flow: 'simple' | 'extended';
  kinds: StatementKind[];
  tables: string[];
  decision: { action: DecisionAction; policy: string; rule: string; message?: string };
  durationMs?: number;
  rows?: number;
  /** The server's command tag, e.g. `SELECT 3`. */
  tag?: string;
  error?: { code: string; message: string };
}

export interface SessionEndEvent {
  type: 'session.end';
  /** `client` (agent closed), `upstream` (server closed or failed), `error`, `shutdown`. */
  reason: string;
  statements: number;
  durationMs: number;
}

export type RecordEvent = SessionStartEvent | StatementEvent | SessionEndEvent;

export interface SessionRecord {
  session: string;
  /** 0 for the first record of a session, then +1 per record with no gaps. */
  seq: number;
  time: string;
  /** Hash of the previous record of the session; GENESIS_HASH for seq 0. */
  prevHash: string;
  /** sha256 over the canonical JSON of every field above and `event`, hex. */
  hash: string;
  event: RecordEvent;
}
