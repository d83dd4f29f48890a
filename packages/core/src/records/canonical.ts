// Canonical JSON of session records: the bytes both ends hash. canonicalJson is the definition;
// canonicalEventJson and canonicalRecordJson give exactly its bytes, only cheaper for the common
// shapes (statement events are by far the most frequent records), for any input, trusted or not.
const str = JSON.stringify;

/** JSON with object keys sorted at every depth, so both ends hash the same bytes. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

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

/** canonicalJson of a list of strings; null when it holds anything else. */
export function stringArrayJson(a: readonly unknown[]): string | null {
  let out = '[';
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (typeof v !== 'string') return null;
    out += i === 0 ? str(v) : `,${str(v)}`;
  }
  return `${out}]`;
}

type Loose = Record<string, unknown>;

/**
 * canonicalJson(e) for the usual statement event; null when it has another shape. Every field
 * is type-checked, as events parsed from a request body may hold anything: a value the fast
 * encoder would write differently (an object, a function) sends the event down the generic path.
 */
function canonicalStatement(e: Loose): string | null {
  if (!onlyKeys(e, STATEMENT_KEYS)) return null;
  const d = e.decision as Loose | null | undefined;
  if (typeof d !== 'object' || d === null || Array.isArray(d) || !onlyKeys(d, DECISION_KEYS)) return null;
  if (typeof e.text !== 'string' || typeof e.flow !== 'string' || typeof d.action !== 'string' || typeof d.policy !== 'string' || typeof d.rule !== 'string') return null;
  if (d.message !== undefined && typeof d.message !== 'string') return null;
  if (!Array.isArray(e.kinds) || !Array.isArray(e.tables)) return null;
  if (e.durationMs !== undefined && typeof e.durationMs !== 'number') return null;
  if (e.rows !== undefined && typeof e.rows !== 'number') return null;
  if (e.tag !== undefined && typeof e.tag !== 'string') return null;
  const kinds = stringArrayJson(e.kinds);
  const tables = stringArrayJson(e.tables);
  if (kinds === null || tables === null) return null;
  let out = `{"decision":{"action":${str(d.action)}`;
  if (d.message !== undefined) out += `,"message":${str(d.message)}`;
  out += `,"policy":${str(d.policy)},"rule":${str(d.rule)}}`;
  if (e.durationMs !== undefined) out += `,"durationMs":${str(e.durationMs)}`;
  if (e.error !== undefined) {
    const err = e.error;
    if (typeof err !== 'object' || err === null || Array.isArray(err) || !onlyKeys(err, ERROR_KEYS)) return null;
    out += `,"error":${canonicalJson(err)}`;
  }
  out += `,"flow":${str(e.flow)},"kinds":${kinds}`;
  if (e.rows !== undefined) out += `,"rows":${str(e.rows)}`;
  out += `,"tables":${tables}`;
  if (e.tag !== undefined) out += `,"tag":${str(e.tag)}`;
  out += `,"text":${str(e.text)},"type":"statement"}`;
  return out;
}

/** canonicalJson(event), with a fast path for statement events. */
export function canonicalEventJson(event: unknown): string {
  if (typeof event === 'object' && event !== null && (event as Loose).type === 'statement') {
    const fast = canonicalStatement(event as Loose);
    if (fast !== null) return fast;
  }
  return canonicalJson(event);
}

/** What a record's hash covers: every field but the hash. */
export interface UnsealedFields {
  session?: unknown;
  seq?: unknown;
  time?: unknown;
  prevHash?: unknown;
  event?: unknown;
}

/** canonicalJson({ session, seq, time, prevHash, event }) of a record, without the intermediate object. */
export function canonicalRecordJson(r: UnsealedFields): string {
  const { session, seq, time, prevHash, event } = r;
  if (typeof session !== 'string' || typeof seq !== 'number' || typeof time !== 'string' || typeof prevHash !== 'string' || event === undefined) {
    return canonicalJson({ session, seq, time, prevHash, event });
  }
  return `{"event":${canonicalEventJson(event)},"prevHash":${str(prevHash)},"seq":${str(seq)},"session":${str(session)},"time":${str(time)}}`;
}
