// The canonical JSON of record events, computed once for both the hash and the line (see
// record-queue.ts): exactly core's canonicalJson, only cheaper for statement events, by far the
// most frequent: core's canonicalEventJson for event objects, and here an encoder straight from
// the proxy's parts with the verdict's pieces encoded once per verdict.
import { canonicalJson } from '@chaperone/core/records/chain';
import { canonicalEventJson, stringArrayJson } from '@chaperone/core/records/canonical';
import type { StatementEvent } from '@chaperone/core/records/types';

export { canonicalEventJson };

const str = JSON.stringify;
const ERROR_KEYS: ReadonlySet<string> = new Set(['code', 'message']);

function onlyKeys(o: object, allowed: ReadonlySet<string>): boolean {
  for (const k in o) if (!allowed.has(k)) return false;
  return true;
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
  const k = stringArrayJson(kinds);
  const t = stringArrayJson(tables);
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
