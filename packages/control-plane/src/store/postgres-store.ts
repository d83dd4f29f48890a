// The Store on PostgreSQL through postgres.js tagged templates: plain SQL, one place.
import postgres from 'postgres';
import type { JSONValue, Sql } from 'postgres';
import type { SessionSummary } from '@chaperone/core/api';
import type { Identity, SessionRecord } from '@chaperone/core/records/types';
import { PostgresApprovalStore } from '../approvals/postgres-approval-store.js';
import { cpError } from '../errors.js';
import { latestVersion, migrate, schemaVersion } from './migrations.js';
import { lockSessions, PostgresBatchTx } from './batch-tx.js';
import { fromRecordRow, fromRunRow, toSummary, type RecordDbRow, type RecordRunDbRow, type SessionDbRow } from './rows.js';
import type { BatchTx, KeyPurpose, SessionQuery, Store, StoredKey } from './store.js';

export interface PostgresStoreOptions {
  /** Connection pool size. */
  max?: number;
  /** Seconds to wait for a connection before failing (readiness must not hang). */
  connectTimeout?: number;
  /** Sees every statement sent (postgres.js `debug`); tests count round trips with it. */
  onQuery?: (query: string) => void;
}

export class PostgresStore implements Store {
  readonly sql: Sql;
  readonly approvals: PostgresApprovalStore;

  private constructor(sql: Sql) {
    this.sql = sql;
    this.approvals = new PostgresApprovalStore(sql);
  }

  /** Connects and applies pending migrations. */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const sql = postgres(url, {
      max: options.max ?? 10,
      connect_timeout: options.connectTimeout ?? 5,
      onnotice: () => undefined,
      ...(options.onQuery ? { debug: (_connection: number, query: string) => options.onQuery?.(query) } : {}),
    });
    try {
      await migrate(sql);
    } catch (err) {
      await sql.end({ timeout: 1 });
      throw cpError('STORE_ERR_UNAVAILABLE', `cannot migrate the store: ${(err as Error).message}`, undefined, err);
    }
    return new PostgresStore(sql);
  }

  async withSessions<T>(owner: Identity, sessions: readonly { id: string; startedAt: Date }[], fn: (tx: BatchTx) => Promise<T>): Promise<T> {
    return this.sql.begin(async (tx) => {
      const rows = await lockSessions(tx, owner, sessions);
      for (const s of sessions) {
        if (!rows.has(s.id)) throw cpError('STORE_ERR_UNAVAILABLE', `session ${s.id} vanished inside its transaction`);
      }
      return fn(new PostgresBatchTx(tx, rows));
    }) as Promise<T>;
  }

  async listSessions(query: SessionQuery): Promise<SessionSummary[]> {
    const rows = await this.sql<SessionDbRow[]>`
      SELECT * FROM sessions
      WHERE (${query.connection ?? null}::text IS NULL OR connection = ${query.connection ?? null})
        AND (${query.since ?? null}::timestamptz IS NULL OR started_at >= ${query.since ?? null})
      ORDER BY started_at DESC, id DESC
      LIMIT ${query.limit}`;
    return rows.map((r) => toSummary(r));
  }

  async getSession(id: string): Promise<SessionSummary | undefined> {
    const [row] = await this.sql<SessionDbRow[]>`SELECT * FROM sessions WHERE id = ${id}`;
    return row ? toSummary(row) : undefined;
  }

  /** The session's records by seq: its runs expanded, and its rows of the old records table. */
  async listRecords(sessionId: string): Promise<SessionRecord[]> {
    const [runs, rows] = await Promise.all([
      this.sql<RecordRunDbRow[]>`SELECT first_seq, records FROM record_runs WHERE session_id = ${sessionId} ORDER BY first_seq`,
      this.sql<RecordDbRow[]>`SELECT * FROM records WHERE session_id = ${sessionId} ORDER BY seq`,
    ]);
    const fromRuns = runs.flatMap(fromRunRow);
    const fromRows = rows.map(fromRecordRow);
    if (fromRows.length === 0) return fromRuns;
    if (fromRuns.length === 0) return fromRows;
    // Both sorted and never overlapping: merge.
    const out: SessionRecord[] = [];
    let i = 0;
    let j = 0;
    while (i < fromRuns.length || j < fromRows.length) {
      const a = fromRuns[i];
      const b = fromRows[j];
      if (a && (!b || a.seq < b.seq)) { out.push(a); i++; } else { out.push(b!); j++; }
    }
    return out;
  }

  async signingKeys(purpose: KeyPurpose): Promise<StoredKey[]> {
    const rows = await this.sql<{ kid: string; private_jwk: Record<string, unknown>; created_at: Date }[]>`
      SELECT kid, private_jwk, created_at FROM signing_keys WHERE purpose = ${purpose} ORDER BY created_at, kid`;
    return rows.map((r) => ({ kid: r.kid, privateJwk: r.private_jwk, createdAt: r.created_at }));
  }

  async addSigningKey(purpose: KeyPurpose, kid: string, privateJwk: Record<string, unknown>): Promise<void> {
    await this.sql`
      INSERT INTO signing_keys (kid, purpose, private_jwk)
      VALUES (${kid}, ${purpose}, ${this.sql.json(privateJwk as JSONValue)})
      ON CONFLICT (kid) DO NOTHING`;
  }

  async ready(): Promise<{ schemaVersion: number }> {
    let version: number;
    try {
      version = await schemaVersion(this.sql);
    } catch (err) {
      throw cpError('STORE_ERR_UNAVAILABLE', `store unreachable: ${(err as Error).message}`, undefined, err);
    }
    if (version < latestVersion()) {
      throw cpError('STORE_ERR_UNAVAILABLE', `store schema is at version ${version}, expected ${latestVersion()}`);
    }
    return { schemaVersion: version };
  }

  async close(): Promise<void> {
    await this.sql.end({ timeout: 5 });
  }
}
