// The Store on PostgreSQL through postgres.js tagged templates: plain SQL, one place.
import postgres from 'postgres';
import type { JSONValue, Sql, TransactionSql } from 'postgres';
import type { SessionSummary } from '@chaperone/core/api';
import type { Identity, SessionRecord } from '@chaperone/core/records/types';
import { cpError } from '../errors.js';
import { latestVersion, migrate, schemaVersion } from './migrations.js';
import type { KeyPurpose, SessionQuery, SessionRow, SessionTx, SessionUpdate, Store, StoredKey } from './store.js';

interface SessionDbRow {
  id: string;
  protocol: string;
  connection: string;
  namespace: string;
  service_account: string;
  started_at: Date;
  ended_at: Date | null;
  record_count: number;
  statements: number;
  denied: number;
  chain_ok: boolean;
  chain_error: string | null;
  last_seq: number | null;
  last_hash: string | null;
}

interface RecordDbRow {
  session_id: string;
  seq: number;
  time: Date;
  hash: string;
  prev_hash: string;
  event: SessionRecord['event'];
}

export interface PostgresStoreOptions {
  /** Connection pool size. */
  max?: number;
  /** Seconds to wait for a connection before failing (readiness must not hang). */
  connectTimeout?: number;
}

export class PostgresStore implements Store {
  readonly sql: Sql;

  private constructor(sql: Sql) {
    this.sql = sql;
  }

  /** Connects and applies pending migrations. */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const sql = postgres(url, {
      max: options.max ?? 10,
      connect_timeout: options.connectTimeout ?? 5,
      onnotice: () => undefined,
    });
    try {
      await migrate(sql);
    } catch (err) {
      await sql.end({ timeout: 1 });
      throw cpError('STORE_ERR_UNAVAILABLE', `cannot migrate the store: ${(err as Error).message}`, undefined, err);
    }
    return new PostgresStore(sql);
  }

  async withSession<T>(id: string, init: { owner: Identity; startedAt: Date }, fn: (tx: SessionTx) => Promise<T>): Promise<T> {
    return this.sql.begin(async (tx) => {
      await tx`
        INSERT INTO sessions (id, namespace, service_account, started_at)
        VALUES (${id}, ${init.owner.namespace}, ${init.owner.serviceAccount}, ${init.startedAt})
        ON CONFLICT (id) DO NOTHING`;
      const [row] = await tx<SessionDbRow[]>`SELECT * FROM sessions WHERE id = ${id} FOR UPDATE`;
      if (!row) throw cpError('STORE_ERR_UNAVAILABLE', `session ${id} vanished inside its transaction`);
      return fn(new PostgresSessionTx(tx, toSessionRow(row)));
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

  async listRecords(sessionId: string): Promise<SessionRecord[]> {
    const rows = await this.sql<RecordDbRow[]>`
      SELECT * FROM records WHERE session_id = ${sessionId} ORDER BY seq`;
    return rows.map((r) => ({
      session: r.session_id, seq: r.seq, time: r.time.toISOString(), prevHash: r.prev_hash, hash: r.hash, event: r.event,
    }));
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

class PostgresSessionTx implements SessionTx {
  constructor(private readonly tx: TransactionSql, readonly session: SessionRow) {}

  async recordsAt(seqs: readonly number[]): Promise<Map<number, Pick<SessionRecord, 'seq' | 'hash' | 'prevHash'>>> {
    const out = new Map<number, Pick<SessionRecord, 'seq' | 'hash' | 'prevHash'>>();
    if (seqs.length === 0) return out;
    const rows = await this.tx<{ seq: number; hash: string; prev_hash: string }[]>`
      SELECT seq, hash, prev_hash FROM records WHERE session_id = ${this.session.id} AND seq IN ${this.tx([...seqs])}`;
    for (const r of rows) out.set(r.seq, { seq: r.seq, hash: r.hash, prevHash: r.prev_hash });
    return out;
  }

  async recordBefore(seq: number): Promise<Pick<SessionRecord, 'seq' | 'hash'> | undefined> {
    const [row] = await this.tx<{ seq: number; hash: string }[]>`
      SELECT seq, hash FROM records WHERE session_id = ${this.session.id} AND seq < ${seq}
      ORDER BY seq DESC LIMIT 1`;
    return row;
  }

  async insertRecord(r: SessionRecord): Promise<boolean> {
    const rows = await this.tx`
      INSERT INTO records (session_id, seq, time, hash, prev_hash, event)
      VALUES (${r.session}, ${r.seq}, ${r.time}, ${r.hash}, ${r.prevHash}, ${this.tx.json(r.event as unknown as JSONValue)})
      ON CONFLICT (session_id, seq) DO NOTHING
      RETURNING seq`;
    return rows.length === 1;
  }

  async update(c: SessionUpdate): Promise<void> {
    await this.tx`
      UPDATE sessions SET
        protocol     = COALESCE(${c.protocol ?? null}::text, protocol),
        connection   = COALESCE(${c.connection ?? null}::text, connection),
        started_at   = COALESCE(${c.startedAt ?? null}::timestamptz, started_at),
        ended_at     = COALESCE(${c.endedAt ?? null}::timestamptz, ended_at),
        record_count = record_count + ${c.addRecords},
        statements   = statements + ${c.addStatements},
        denied       = denied + ${c.addDenied},
        chain_ok     = chain_ok AND ${c.chainError === undefined},
        chain_error  = COALESCE(chain_error, ${c.chainError ?? null}::text),
        last_seq     = CASE WHEN ${c.head?.seq ?? null}::int > COALESCE(last_seq, -1) THEN ${c.head?.seq ?? null}::int ELSE last_seq END,
        last_hash    = CASE WHEN ${c.head?.seq ?? null}::int > COALESCE(last_seq, -1) THEN ${c.head?.hash ?? null}::text ELSE last_hash END
      WHERE id = ${this.session.id}`;
  }
}

function toSummary(r: SessionDbRow): SessionSummary {
  return {
    id: r.id,
    protocol: r.protocol,
    connection: r.connection,
    identity: { namespace: r.namespace, serviceAccount: r.service_account },
    startedAt: r.started_at.toISOString(),
    endedAt: r.ended_at ? r.ended_at.toISOString() : null,
    records: r.record_count,
    statements: r.statements,
    denied: r.denied,
    chainOk: r.chain_ok,
    chainError: r.chain_error,
  };
}

function toSessionRow(r: SessionDbRow): SessionRow {
  return { ...toSummary(r), lastSeq: r.last_seq, lastHash: r.last_hash };
}
