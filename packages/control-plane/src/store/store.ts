// The control plane's storage contract; PostgresStore is the one implementation.
import type { SessionSummary } from '@chaperone/core/api';
import type { Identity, SessionRecord } from '@chaperone/core/records/types';
import type { ApprovalStore } from '../approvals/approval-store.js';

/** `mask`: the hash mask strategy's key (mask-key.ts), a symmetric JWK. */
export type KeyPurpose = 'grant' | 'dev-issuer' | 'mask';

export interface StoredKey {
  kid: string;
  /** The private JWK (it carries the public part too). */
  privateJwk: Record<string, unknown>;
  createdAt: Date;
}

/**
 * A session row: the summary plus the chain head ingestion continues from. lastSeq/lastHash are
 * those of the stored record with the greatest seq (ingestion raises them with every insert).
 */
export interface SessionRow extends SessionSummary {
  lastSeq: number | null;
  lastHash: string | null;
}

export interface SessionQuery {
  limit: number;
  connection?: string;
  /** Sessions started at or after this instant. */
  since?: Date;
}

/** Changes to one session row made by an ingestion; counters are increments. */
export interface SessionUpdate {
  protocol?: string;
  connection?: string;
  startedAt?: Date;
  endedAt?: Date;
  addRecords: number;
  addStatements: number;
  addDenied: number;
  /** Set once, never cleared: the first chain problem found. */
  chainError?: string;
  head?: { seq: number; hash: string };
}

/** A record's place in its session. */
export interface RecordKey {
  session: string;
  seq: number;
}

/** A record's place with its JSON text (the SessionRecord fields, any key order), encoded once by ingest. */
export interface EncodedRecord { record: RecordKey; json: string }

/** What chain checks need of a stored record. */
export type StoredLink = Pick<SessionRecord, 'seq' | 'hash' | 'prevHash'>;

/**
 * Work on the sessions of one record batch inside a single transaction that holds all their row
 * locks. Every method is one statement for the whole batch, whatever its size.
 */
export interface BatchTx {
  /** The batch's session rows as locked (latest committed version), by id. */
  readonly sessions: ReadonlyMap<string, SessionRow>;
  /**
   * Inserts each record unless its (session, seq) is stored; returns the seqs inserted, by
   * session. `records` must not repeat a (session, seq).
   */
  insertRecords(records: readonly EncodedRecord[]): Promise<Map<string, Set<number>>>;
  /** For each probe, the stored record of its session with the greatest seq <= probe.seq. */
  floorRecords(probes: readonly RecordKey[]): Promise<(StoredLink | undefined)[]>;
  /** Applies one change per session. */
  updateSessions(changes: ReadonlyMap<string, SessionUpdate>): Promise<void>;
}

export interface Store {
  /** Just-in-time approvals, in the same database. */
  readonly approvals: ApprovalStore;
  /**
   * Runs `fn` in one transaction holding the row locks of `sessions` (taken in id order, so
   * concurrent batches cannot deadlock), creating missing rows owned by `owner`.
   */
  withSessions<T>(owner: Identity, sessions: readonly { id: string; startedAt: Date }[], fn: (tx: BatchTx) => Promise<T>): Promise<T>;
  listSessions(query: SessionQuery): Promise<SessionSummary[]>;
  getSession(id: string): Promise<SessionSummary | undefined>;
  listRecords(sessionId: string): Promise<SessionRecord[]>;
  /** Keys of one purpose, oldest first. */
  signingKeys(purpose: KeyPurpose): Promise<StoredKey[]>;
  /** Adds a key; several replicas may add one concurrently, all are kept. */
  addSigningKey(purpose: KeyPurpose, kid: string, privateJwk: Record<string, unknown>): Promise<void>;
  /** Throws when the database is unreachable or the schema is behind. */
  ready(): Promise<{ schemaVersion: number }>;
  close(): Promise<void>;
}
