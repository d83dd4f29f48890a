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
  /** Values masked in this statement's results, by mask rule name. Never the values. */
  masked?: Record<string, number>;
  /** The approval this statement waited for (ApprovalEvent has the detail). */
  approval?: string;
}

export interface SessionEndEvent {
  type: 'session.end';
  /** `client` (agent closed), `upstream` (server closed or failed), `error`, `shutdown`. */
  reason: string;
  statements: number;
  durationMs: number;
}

/** A held operation's approval changed state (requested, then one of the final states). */
export interface ApprovalEvent {
  type: 'approval';
  id: string;
  state: 'pending' | 'approved' | 'denied' | 'expired' | 'withdrawn';
  rule: { policy: string; rule: string };
  /** Who decided, for approved and denied. */
  by?: string;
  reason?: string;
  /** From the request to this state. */
  waitedMs?: number;
}

/** One SSH exec request, or a Kubernetes pods/exec command. */
export interface CommandEvent {
  type: 'command';
  /** The command line as the agent sent it (argv joined with spaces for Kubernetes exec). */
  command: string;
  /** Program names of every simple command the shell parser found, in order. */
  programs: string[];
  decision: { action: DecisionAction; policy: string; rule: string; message?: string };
  /** The SSH channel or exec stream it ran on, to tie terminal records to it. */
  channel?: number;
  exitStatus?: number;
  signal?: string;
  durationMs?: number;
  approval?: string;
}

/** An interactive terminal opened (PTY): the asciicast v2 header of its recording. */
export interface TerminalStartEvent {
  type: 'terminal.start';
  channel: number;
  width: number;
  height: number;
  /** TERM and other environment asciicast carries. */
  env?: Record<string, string>;
  /** Set when the terminal runs one command (exec with a PTY) instead of a login shell. */
  command?: string;
}

/**
 * Terminal traffic as asciicast v2 events: [seconds since terminal.start, code, data], code
 * `o` output, `i` input, `r` resize (`COLSxROWS`). Batched: one record per flush.
 */
export interface TerminalEvent {
  type: 'terminal';
  channel: number;
  events: [number, 'o' | 'i' | 'r', string][];
}

/** A file transfer (SFTP or scp). */
export interface FileTransferEvent {
  type: 'file';
  protocol: 'sftp' | 'scp';
  direction: 'upload' | 'download';
  path: string;
  bytes: number;
  /** sha256 hex of the bytes transferred. */
  sha256: string;
  decision: { action: DecisionAction; policy: string; rule: string; message?: string };
}

/** A forwarding or other SSH channel request and what policy said. */
export interface ChannelEvent {
  type: 'channel';
  kind: 'port-forward' | 'agent-forward' | 'x11' | 'subsystem' | 'other';
  /** e.g. `127.0.0.1:5432` for a forward, the subsystem name. */
  detail: string;
  decision: { action: DecisionAction; policy: string; rule: string; message?: string };
}

/** One Kubernetes API request through the sidecar. */
export interface KubernetesRequestEvent {
  type: 'kubernetes.request';
  verb: string;
  /** Empty for non-resource requests (`/version`, `/apis`…). */
  group: string;
  version: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** The request path (query string dropped: it may hold field values). */
  path: string;
  decision: { action: DecisionAction; policy: string; rule: string; message?: string };
  status: number;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  masked?: Record<string, number>;
  approval?: string;
}

export type RecordEvent =
  | SessionStartEvent | StatementEvent | SessionEndEvent | ApprovalEvent | CommandEvent
  | TerminalStartEvent | TerminalEvent | FileTransferEvent | ChannelEvent | KubernetesRequestEvent;

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
