// Row shapes of the store's tables and their mapping to API shapes.
import type { SessionSummary } from '@chaperone/core/api';
import type { SessionRecord } from '@chaperone/core/records/types';
import type { SessionRow } from './store.js';

export interface SessionDbRow {
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

export interface RecordDbRow {
  session_id: string;
  seq: number;
  time: Date;
  hash: string;
  prev_hash: string;
  event: SessionRecord['event'];
}

/** A row of record_runs (migration 3): `records` is the JSON array of records first_seq..last_seq. */
export interface RecordRunDbRow {
  first_seq: number;
  records: string;
}

/** A records row as the API shows it. */
export function fromRecordRow(r: RecordDbRow): SessionRecord {
  return { session: r.session_id, seq: r.seq, time: r.time.toISOString(), prevHash: r.prev_hash, hash: r.hash, event: r.event };
}

/**
 * A run's records exactly as fromRecordRow would show them had each been a records row: fields
 * in that order, `time` as timestamptz gives it back (normalTime) and event object keys in jsonb
 * order (the CLI prints some objects' entries in their order).
 */
export function fromRunRow(r: RecordRunDbRow): SessionRecord[] {
  const parsed = JSON.parse(r.records) as SessionRecord[];
  return parsed.map((x) => ({
    session: x.session, seq: x.seq, time: normalTime(x.time), prevHash: x.prevHash, hash: x.hash, event: jsonbOrder(x.event),
  }));
}

/** RFC 3339 date-time as ingestion accepts it (records/batch-shape.ts). */
const DATE_TIME = /^(\d{4})-(\d\d)-(\d\d)[t\s](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(z|([+-])(\d\d)(?::?(\d\d))?)$/i;
/** Date#toISOString's form, which a timestamptz round trip keeps as it is. */
const ISO_INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/**
 * The time a timestamptz column would give back for `time`: the same instant, rounded to
 * microseconds by the server, then truncated to milliseconds by Date (postgres.js) and written
 * by toISOString; a leap second (:60) rolls into the next minute as the server does.
 */
export function normalTime(time: string): string {
  if (ISO_INSTANT.test(time) && time.slice(17, 19) !== '60') return time;
  const m = DATE_TIME.exec(time);
  if (!m) return time;
  const micros = m[7] === undefined ? 0 : Math.round(Number(`0.${m[7]}`) * 1e6);
  const sign = m[9] === '-' ? -1 : 1;
  const offsetMinutes = sign * (Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0));
  const d = new Date(0);
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4]), Number(m[5]) - offsetMinutes, Number(m[6]), 0);
  const ms = d.getTime() + Math.floor(micros / 1000);
  return Number.isNaN(ms) ? time : new Date(ms).toISOString();
}

/**
 * `value` with object keys in the order a jsonb column gives them back: shorter keys first, then
 * by their UTF-8 bytes. (Integer-like keys still come first: JavaScript objects order them so.)
 */
export function jsonbOrder<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(jsonbOrder) as T;
  const entries = Object.entries(value as Record<string, unknown>);
  entries.sort(([a], [b]) => jsonbKeyCompare(a, b));
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) out[k] = jsonbOrder(v);
  return out as T;
}

function jsonbKeyCompare(a: string, b: string): number {
  const byLength = Buffer.byteLength(a) - Buffer.byteLength(b);
  if (byLength !== 0 || a === b) return byLength;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export function toSummary(r: SessionDbRow): SessionSummary {
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

export function toSessionRow(r: SessionDbRow): SessionRow {
  return { ...toSummary(r), lastSeq: r.last_seq, lastHash: r.last_hash };
}
