// A record batch's transaction on PostgreSQL: every operation is one statement for the whole
// batch. Bulk inputs travel as a single jsonb parameter expanded by jsonb_to_recordset, so the
// client serialises once per statement (one native JSON.stringify, or records' JSON joined),
// not once per row or field.
import type { JSONValue, TransactionSql } from 'postgres';
import type { Identity } from '@chaperone/core/records/types';
import type { BatchTx, EncodedRecord, RecordKey, SessionRow, SessionUpdate, StoredLink } from './store.js';
import { toSessionRow, type SessionDbRow } from './rows.js';

/** Creates the missing session rows, locks all of them in id order and reads them back. */
export async function lockSessions(tx: TransactionSql, owner: Identity, sessions: readonly { id: string; startedAt: Date }[]): Promise<Map<string, SessionRow>> {
  const sorted = [...sessions].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const wanted = tx.json(sorted.map((s) => ({ id: s.id, started_at: s.startedAt.toISOString() })));
  // Inserting in id order too: two batches creating the same new sessions wait, not deadlock.
  await tx`
    INSERT INTO sessions (id, namespace, service_account, started_at)
    SELECT w.id, ${owner.namespace}, ${owner.serviceAccount}, w.started_at
    FROM jsonb_to_recordset(${wanted}::jsonb) AS w(id text, started_at timestamptz)
    ORDER BY w.id
    ON CONFLICT (id) DO NOTHING`;
  // FOR UPDATE returns the latest committed version of each row, so last_seq/last_hash are
  // current even when another batch of the same session committed while we waited.
  const rows = await tx<SessionDbRow[]>`
    SELECT * FROM sessions
    WHERE id IN (SELECT w.id FROM jsonb_to_recordset(${wanted}::jsonb) AS w(id text))
    ORDER BY id
    FOR UPDATE`;
  return new Map(rows.map((r) => [r.id, toSessionRow(r)]));
}

export class PostgresBatchTx implements BatchTx {
  constructor(private readonly tx: TransactionSql, readonly sessions: ReadonlyMap<string, SessionRow>) {}

  async insertRecords(records: readonly EncodedRecord[]): Promise<Map<string, Set<number>>> {
    const inserted = new Map<string, Set<number>>();
    if (records.length === 0) return inserted;
    // The records' JSON as ingest encoded it (for their hashes): joined, not serialised again, and
    // sent as text (postgres.js would JSON.stringify a parameter the server types as jsonb).
    let json = '[';
    for (let i = 0; i < records.length; i++) json += i === 0 ? records[i]!.json : `,${records[i]!.json}`;
    json += ']';
    const rows = await this.tx<{ session_id: string; seq: number }[]>`
      INSERT INTO records (session_id, seq, time, hash, prev_hash, event)
      SELECT r.session, r.seq, r.time, r.hash, r."prevHash", r.event
      FROM jsonb_to_recordset(${json}::text::jsonb)
        AS r(session text, seq integer, time timestamptz, hash text, "prevHash" text, event jsonb)
      ON CONFLICT (session_id, seq) DO NOTHING
      RETURNING session_id, seq`;
    for (const r of rows) {
      const set = inserted.get(r.session_id) ?? new Set<number>();
      set.add(r.seq);
      inserted.set(r.session_id, set);
    }
    return inserted;
  }

  async floorRecords(probes: readonly RecordKey[]): Promise<(StoredLink | undefined)[]> {
    const out: (StoredLink | undefined)[] = probes.map(() => undefined);
    if (probes.length === 0) return out;
    const numbered = probes.map((p, i) => ({ session: p.session, seq: p.seq, i }));
    const rows = await this.tx<{ i: number; seq: number; hash: string; prev_hash: string }[]>`
      SELECT p.i, f.seq, f.hash, f.prev_hash
      FROM jsonb_to_recordset(${this.tx.json(numbered)}::jsonb) AS p(session text, seq integer, i integer)
      CROSS JOIN LATERAL (
        SELECT seq, hash, prev_hash FROM records
        WHERE session_id = p.session AND seq <= p.seq
        ORDER BY seq DESC LIMIT 1) f`;
    for (const r of rows) out[r.i] = { seq: r.seq, hash: r.hash, prevHash: r.prev_hash };
    return out;
  }

  async updateSessions(changes: ReadonlyMap<string, SessionUpdate>): Promise<void> {
    if (changes.size === 0) return;
    const rows = this.tx.json([...changes].map(([id, c]) => ({
      id,
      protocol: c.protocol,
      connection: c.connection,
      started_at: c.startedAt?.toISOString(),
      ended_at: c.endedAt?.toISOString(),
      add_records: c.addRecords,
      add_statements: c.addStatements,
      add_denied: c.addDenied,
      chain_error: c.chainError,
      head_seq: c.head?.seq,
      head_hash: c.head?.hash,
    })) as JSONValue);
    // Absent JSON fields come out as NULL, which COALESCE keeps as "no change".
    await this.tx`
      UPDATE sessions s SET
        protocol     = COALESCE(c.protocol, s.protocol),
        connection   = COALESCE(c.connection, s.connection),
        started_at   = COALESCE(c.started_at, s.started_at),
        ended_at     = COALESCE(c.ended_at, s.ended_at),
        record_count = s.record_count + c.add_records,
        statements   = s.statements + c.add_statements,
        denied       = s.denied + c.add_denied,
        chain_ok     = s.chain_ok AND c.chain_error IS NULL,
        chain_error  = COALESCE(s.chain_error, c.chain_error),
        last_seq     = CASE WHEN c.head_seq > COALESCE(s.last_seq, -1) THEN c.head_seq ELSE s.last_seq END,
        last_hash    = CASE WHEN c.head_seq > COALESCE(s.last_seq, -1) THEN c.head_hash ELSE s.last_hash END
      FROM jsonb_to_recordset(${rows}::jsonb) AS c(
        id text, protocol text, connection text, started_at timestamptz, ended_at timestamptz,
        add_records integer, add_statements integer, add_denied integer, chain_error text,
        head_seq integer, head_hash text)
      WHERE s.id = c.id`;
  }
}
