// The canonical JSON of record events, computed once for both the hash and the line (see
// record-queue.ts): exactly core's canonicalJson, only cheaper for statement events, by far the
// most frequent, which have fixed-shape encoders (from an event object, or straight from the
// proxy's parts with the verdict's pieces encoded once per verdict).
import { canonicalJson } from '@chaperone/core/records/chain';
import type { RecordEvent, StatementEvent } from '@chaperone/core/records/types';

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

/** The parts of a statement event that depend only on the policy verdict, as canonical JSON pieces. */
export interface VerdictJson {
  /** `{"decision":{...}`: the event's opening brace and its first key. */
  decision: string;
  /** `,"kinds":[...]` */
  kinds: string;
  /** `,"tables":[...]` */
  tables: string;
}

/** What the PostgreSQL proxy knows about a finished statement (its verdict as VerdictJson). */
export interface StatementParts {
  text: string;
  flow: 'simple' | 'extended';
  durationMs?: number | undefined;
  rows?: number | undefined;
  tag?: string | undefined;
  error?: { code: string; message: string } | undefined;
}

/**
 * The VerdictJson of a statement event's decision, kinds and tables; null when they do not fit
 * the statement shape (the caller then builds an event object and takes the generic path).
 */
export function verdictJson(decision: StatementEvent['decision'], kinds: readonly unknown[], tables: readonly unknown[]): VerdictJson | null {
  const k = stringArray(kinds);
  const t = stringArray(tables);
  if (k === null || t === null) return null;
  if (typeof decision.action !== 'string' || typeof decision.policy !== 'string' || typeof decision.rule !== 'string') return null;
  if (decision.message !== undefined && typeof decision.message !== 'string') return null;
  let d = `{"decision":{"action":${str(decision.action)}`;
  if (decision.message !== undefined) d += `,"message":${str(decision.message)}`;
  d += `,"policy":${str(decision.policy)},"rule":${str(decision.rule)}}`;
  return { decision: d, kinds: `,"kinds":${k}`, tables: `,"tables":${t}` };
}

/** A number as JSON.stringify writes it. */
function num(n: number): string {
  return Number.isFinite(n) ? `${n}` : 'null';
}

/**
 * canonicalJson of the statement event `{type:'statement', ...s, decision, kinds, tables}`,
 * built straight from the parts: no event object, strings escaped by JSON.stringify only.
 */
export function statementEventJson(v: VerdictJson, s: StatementParts): string {
  let out = v.decision;
  if (s.durationMs !== undefined) out += `,"durationMs":${num(s.durationMs)}`;
  const e = s.error;
  if (e !== undefined) {
    out += typeof e.code === 'string' && typeof e.message === 'string' && onlyKeys(e, ERROR_KEYS)
      ? `,"error":{"code":${str(e.code)},"message":${str(e.message)}}`
      : `,"error":${canonicalJson(e)}`;
  }
  out += s.flow === 'simple' ? ',"flow":"simple"' : s.flow === 'extended' ? ',"flow":"extended"' : `,"flow":${str(s.flow)}`;
  out += v.kinds;
  if (s.rows !== undefined) out += `,"rows":${num(s.rows)}`;
  out += v.tables;
  if (s.tag !== undefined) out += `,"tag":${str(s.tag)}`;
  return `${out},"text":${str(s.text)},"type":"statement"}`;
}
