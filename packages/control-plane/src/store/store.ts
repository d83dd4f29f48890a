// The control plane's storage contract; PostgresStore is the one implementation.
import type { SessionSummary } from '@chaperone/core/api';
import type { Identity, SessionRecord } from '@chaperone/core/records/types';

export type KeyPurpose = 'grant' | 'dev-issuer';

export interface StoredKey {
  kid: string;
  /** The private JWK (it carries the public part too). */
  privateJwk: Record<string, unknown>;
  createdAt: Date;
}

/** A session row: the summary plus the chain head ingestion continues from. */
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

/** Work on one session inside a transaction that holds the session's row lock. */
export interface SessionTx {
  readonly session: SessionRow;
  /** Stored records of this session with the given sequence numbers. */
  recordsAt(seqs: readonly number[]): Promise<Map<number, Pick<SessionRecord, 'seq' | 'hash' | 'prevHash'>>>;
  /** The stored record with the greatest seq below `seq`. */
  recordBefore(seq: number): Promise<Pick<SessionRecord, 'seq' | 'hash'> | undefined>;
  /** Inserts unless (session, seq) exists; true when inserted. */
  insertRecord(record: SessionRecord): Promise<boolean>;
  update(change: SessionUpdate): Promise<void>;
}

export interface Store {
  /** Runs `fn` with the session's row locked, creating the row (owned by `owner`) if new. */
  withSession<T>(id: string, init: { owner: Identity; startedAt: Date }, fn: (tx: SessionTx) => Promise<T>): Promise<T>;
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
