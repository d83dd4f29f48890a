// Sealing a record straight into its wire line (one JSON-encoded SessionRecord), computing the
// canonical JSON of the event once for both the hash and the line. The result is exactly what
// core's sealRecord + JSON.stringify would give (same hash, same parsed value), only cheaper:
// statement events, by far the most frequent, have a fixed-shape canonical encoder.
import { hash as oneShotHash } from 'node:crypto';
import { canonicalJson } from '@chaperone/core/records/chain';
import type { RecordEvent, StatementEvent } from '@chaperone/core/records/types';

/** The sealed line and its hash (the next record's prevHash). */
export interface SealedLine { line: string; hash: string }

const str = JSON.stringify;

/**
 * The keys a statement event may carry, in canonical (sorted) order. An event holding anything
 * else goes through the generic canonicalJson, so a new field can never be dropped silently.
 */
const STATEMENT_KEYS: ReadonlySet<string> = new Set(['decision', 'durationMs', 'error', 'flow', 'kinds', 'rows', 'tables', 'tag', 'text', 'type']);
const DECISION_KEYS: ReadonlySet<string> = new Set(['action', 'message', 'policy', 'rule']);
const ERROR_KEYS: ReadonlySet<string> = new Set(['code', 'message']);

function onlyKeys(o: object, allowed: ReadonlySet<string>): boolean {
  for (const k in o) if (!allowed.has(k)) return false;
  return true;
}

function stringArray(a: readonly unknown[]): string | null {
  let out = '[';
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (typeof v !== 'string') return null;
    out += i === 0 ? str(v) : `,${str(v)}`;
  }
  return `${out}]`;
}

/** canonicalJson(e) for the usual statement event; null when it has an unexpected shape. */
function canonicalStatement(e: StatementEvent): string | null {
  if (!onlyKeys(e, STATEMENT_KEYS)) return null;
  const d = e.decision;
  if (typeof d !== 'object' || d === null || !onlyKeys(d, DECISION_KEYS)) return null;
  if (typeof e.text !== 'string' || typeof e.flow !== 'string' || typeof d.action !== 'string' || typeof d.policy !== 'string' || typeof d.rule !== 'string') return null;
  if (!Array.isArray(e.kinds) || !Array.isArray(e.tables)) return null;
  const kinds = stringArray(e.kinds);
  const tables = stringArray(e.tables);
  if (kinds === null || tables === null) return null;
  let out = `{"decision":{"action":${str(d.action)}`;
  if (d.message !== undefined) out += `,"message":${str(d.message)}`;
  out += `,"policy":${str(d.policy)},"rule":${str(d.rule)}}`;
  if (e.durationMs !== undefined) out += `,"durationMs":${str(e.durationMs)}`;
  if (e.error !== undefined) {
    const err = e.error;
    if (typeof err !== 'object' || err === null || !onlyKeys(err, ERROR_KEYS)) return null;
    out += `,"error":${canonicalJson(err)}`;
  }
  out += `,"flow":${str(e.flow)},"kinds":${kinds}`;
  if (e.rows !== undefined) out += `,"rows":${str(e.rows)}`;
  out += `,"tables":${tables}`;
  if (e.tag !== undefined) out += `,"tag":${str(e.tag)}`;
  out += `,"text":${str(e.text)},"type":"statement"}`;
  return out;
}

/** The canonical JSON of an event (core's canonicalJson, with a fast path for statements). */
export function canonicalEventJson(event: RecordEvent): string {
  if (event.type === 'statement') {
    const fast = canonicalStatement(event);
    if (fast !== null) return fast;
  }
  return canonicalJson(event);
}

/**
 * Seals one record: hash = sha256(canonicalJson({session, seq, time, prevHash, event})), as
 * core/records/chain's hashRecord, and the line is the record as JSON.
 */
export function sealLine(session: string, seq: number, timeMs: number, prevHash: string, event: RecordEvent): SealedLine {
  const time = new Date(timeMs).toISOString();
  const ev = canonicalEventJson(event);
  const s = str(session);
  // canonicalJson sorts keys: event < prevHash < seq < session < time.
  // One-shot crypto.hash: no Hash object and one native call instead of three per record.
  const hash = oneShotHash('sha256', `{"event":${ev},"prevHash":${str(prevHash)},"seq":${seq},"session":${s},"time":"${time}"}`, 'hex');
  return { line: `{"session":${s},"seq":${seq},"time":"${time}","prevHash":${str(prevHash)},"hash":"${hash}","event":${ev}}`, hash };
}
