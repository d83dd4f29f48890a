// A record batch's transaction on PostgreSQL: every operation is one statement for the whole
// batch. Bulk inputs travel as a single jsonb parameter expanded by jsonb_to_recordset, or as
// parallel arrays beside one text of records' JSON joined, so the client serialises once per
// statement, not once per row or field.
import type { JSONValue, TransactionSql } from 'postgres';
import type { Identity } from '@chaperone/core/records/types';
import type { BatchTx, EncodedRecord, RecordKey, SessionRow, SessionUpdate, StoredLink } from './store.js';
import { insertedSeqs, planRunsInsert } from './record-runs.js';
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

  /** Per session, the greatest seq this transaction inserted (the locked row learns it only at updateSessions). */
  private readonly insertedTop = new Map<string, number>();

  async insertRecords(records: readonly EncodedRecord[]): Promise<Map<string, Set<number>>> {
    if (records.length === 0) return new Map();
    // The locked row's lastSeq is the greatest stored seq: a record above it cannot be stored yet
    // and goes into a run unlooked-up. A session not locked here is looked up record by record.
    const plan = planRunsInsert(records, (session) => {
      const row = this.sessions.get(session);
      if (!row) return Number.MAX_SAFE_INTEGER;
      return Math.max(row.lastSeq ?? -1, this.insertedTop.get(session) ?? -1);
    });
    const { runs, below } = plan;
    // One statement. The records at or below the stored top are kept when neither the old table
    // nor the run with the greatest first_seq <= seq holds them (runs never overlap), then grouped
    // into runs (seq - row_number() is constant along a contiguous stretch). They cannot touch the
    // other runs: the record at the top itself is stored, between the two.
    const rows = await this.tx<{ session_id: string; first_seq: number; last_seq: number }[]>`
      INSERT INTO record_runs (session_id, first_seq, last_seq, records)
      WITH below AS (
        SELECT b.session, b.seq, b.json
        FROM unnest(${below.sessions}::text[], ${below.seqs}::integer[], string_to_array(${below.texts}::text, E'\n'))
          AS b(session, seq, json)
      ), missing AS (
        SELECT b.*, b.seq - row_number() OVER (PARTITION BY b.session ORDER BY b.seq) AS stretch
        FROM below b
        WHERE NOT EXISTS (SELECT 1 FROM records o WHERE o.session_id = b.session AND o.seq = b.seq)
          AND NOT EXISTS (
            SELECT 1 FROM (
              SELECT r.last_seq FROM record_runs r
              WHERE r.session_id = b.session AND r.first_seq <= b.seq
              ORDER BY r.first_seq DESC LIMIT 1) r
            WHERE r.last_seq >= b.seq)
      )
      SELECT m.session, min(m.seq), max(m.seq), '[' || string_agg(m.json, ',' ORDER BY m.seq) || ']'
      FROM missing m GROUP BY m.session, m.stretch
      UNION ALL
      SELECT * FROM unnest(${runs.sessions}::text[], ${runs.firsts}::integer[], ${runs.lasts}::integer[],
        string_to_array(${runs.texts}::text, E'\n'))
      RETURNING session_id, first_seq, last_seq`;
    const inserted = insertedSeqs(rows);
    for (const r of rows) this.insertedTop.set(r.session_id, Math.max(r.last_seq, this.insertedTop.get(r.session_id) ?? -1));
    return inserted;
  }

  async floorRecords(probes: readonly RecordKey[]): Promise<(StoredLink | undefined)[]> {
    const out: (StoredLink | undefined)[] = probes.map(() => undefined);
    if (probes.length === 0) return out;
    const numbered = probes.map((p, i) => ({ session: p.session, seq: p.seq, i }));
    // Per probe, the greater of two candidates: the old table's floor row, and in the run with the
    // greatest first_seq <= seq the record at seq (when the run reaches it) or else its last one.
    // Parsing a run's text as json per probe is slow, but probes are rare (gap fills, duplicates).
    const rows = await this.tx<{ i: number; seq: number; hash: string; prev_hash: string }[]>`
      SELECT p.i, f.seq, f.hash, f.prev_hash
      FROM jsonb_to_recordset(${this.tx.json(numbered)}::jsonb) AS p(session text, seq integer, i integer)
      CROSS JOIN LATERAL (
        SELECT * FROM (
          SELECT o.seq, o.hash, o.prev_hash FROM records o
          WHERE o.session_id = p.session AND o.seq <= p.seq
          ORDER BY o.seq DESC LIMIT 1) old
        UNION ALL
        SELECT e.seq, e.record ->> 'hash', e.record ->> 'prevHash' FROM (
          SELECT r.first_seq, r.last_seq, r.records FROM record_runs r
          WHERE r.session_id = p.session AND r.first_seq <= p.seq
          ORDER BY r.first_seq DESC LIMIT 1) run
        CROSS JOIN LATERAL (
          SELECT least(run.last_seq, p.seq) AS seq,
            run.records::json -> (least(run.last_seq, p.seq) - run.first_seq) AS record) e
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
