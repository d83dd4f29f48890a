// Scanning record lines in a POST /v1/records body without building them: where a record ends, and
// whether its text is already the sidecar's line (core's canonical JSON, hash appended last), so
// that text can be hashed and stored as it came instead of being encoded again.
//
// canonicalJson (core/records/canonical.ts) is JSON.stringify with object keys sorted: no
// whitespace, keys in UTF-16 order at every depth, strings escaped only where JSON.stringify
// escapes (`"`, `\`, \b \f \n \r \t, other controls as \u00xx), numbers as String(n). The check
// below accepts a subset of that and answers "unknown" (-1) for the rest (escaped keys, lone
// surrogates, deep nesting): the caller then compares against canonicalRecordJson, so a false
// "no" costs time, never correctness.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
/** Deeper values are left to the comparison with canonicalRecordJson (no deep recursion here). */
const MAX_DEPTH = 32;

/** The record line's keys after the event, in order: canonical (sorted) order, then the hash appended. */
const RECORD_KEYS = [',"prevHash":', ',"seq":', ',"session":', ',"time":', ',"hash":'] as const;

/** Escapes JSON.stringify writes as a short form: \b \f \n \r \t. */
const SHORT_ESCAPE: ReadonlySet<number> = new Set([0x08, 0x0c, 0x0a, 0x0d, 0x09]);

/**
 * Record lines of one body. `text` is decoded UTF-8 (fastify's string body), so it holds no lone
 * surrogate, which JSON.stringify would have escaped; raw control characters in strings make the
 * line invalid JSON, which JSON.parse of the line finds, so neither is looked for here.
 */
export class CanonicalScanner {
  /** The first backslash at or after `searchedFrom` (text length when none): one search per escape, not per string. */
  private backslash = -1;
  private searchedFrom = Number.POSITIVE_INFINITY;
  /** Where the prevHash value's text (inside its quotes) starts in the last line recordEnd took. */
  prevHashAt = -1;

  constructor(private readonly s: string) {}

  /**
   * If the text at `start` is a record line `{"event":E,"prevHash":P,"seq":N,"session":S,"time":T,"hash":H}`
   * whose every value is in canonical form, the index just past its closing brace; otherwise -1.
   * Says nothing about the values' types (the caller validates the parsed record). A line with a
   * `__proto__` or `constructor` key is never canonical here (fastify's parser deals with those).
   */
  recordEnd(start: number): number {
    const s = this.s;
    if (!s.startsWith('{"event":', start)) return -1;
    let i = this.valueEnd(start + 9, 0);
    this.prevHashAt = i + RECORD_KEYS[0].length + 1;
    for (const key of RECORD_KEYS) {
      if (i < 0 || !s.startsWith(key, i)) return -1;
      i = this.valueEnd(i + key.length, 0);
    }
    return i >= 0 && s.charCodeAt(i) === CLOSE_BRACE ? i + 1 : -1;
  }

  private backslashFrom(from: number): number {
    if (from < this.searchedFrom || from > this.backslash) {
      const at = this.s.indexOf('\\', from);
      this.backslash = at < 0 ? this.s.length : at;
      this.searchedFrom = from;
    }
    return this.backslash;
  }

  /** End of the canonical JSON value at `i`, or -1 when it is not one (or not known to be one). */
  private valueEnd(i: number, depth: number): number {
    const s = this.s;
    const c = s.charCodeAt(i);
    if (c === QUOTE) return this.stringEnd(i);
    if (c === OPEN_BRACE) return depth < MAX_DEPTH ? this.objectEnd(i, depth + 1) : -1;
    if (c === OPEN_BRACKET) return depth < MAX_DEPTH ? this.arrayEnd(i, depth + 1) : -1;
    if (c === 0x74) return s.startsWith('true', i) ? i + 4 : -1;
    if (c === 0x66) return s.startsWith('false', i) ? i + 5 : -1;
    if (c === 0x6e) return s.startsWith('null', i) ? i + 4 : -1;
    return canonicalNumberEnd(s, i);
  }

  private objectEnd(i: number, depth: number): number {
    const s = this.s;
    i++;
    if (s.charCodeAt(i) === CLOSE_BRACE) return i + 1;
    let prevKey = -1;
    let prevKeyEnd = -1;
    for (;;) {
      const keyEnd = this.stringEnd(i);
      if (keyEnd < 0) return -1;
      // Raw keys compare like the decoded ones only without escapes; strictly rising also rules out repeats.
      if (this.backslashFrom(i) < keyEnd || isPoisonKey(s, i, keyEnd)) return -1;
      if (prevKey >= 0 && compareRaw(s, prevKey + 1, prevKeyEnd - 1, i + 1, keyEnd - 1) >= 0) return -1;
      prevKey = i;
      prevKeyEnd = keyEnd;
      if (s.charCodeAt(keyEnd) !== COLON) return -1;
      i = this.valueEnd(keyEnd + 1, depth);
      if (i < 0) return -1;
      const c = s.charCodeAt(i);
      if (c === CLOSE_BRACE) return i + 1;
      if (c !== COMMA) return -1;
      i++;
    }
  }

  private arrayEnd(i: number, depth: number): number {
    const s = this.s;
    i++;
    if (s.charCodeAt(i) === CLOSE_BRACKET) return i + 1;
    for (;;) {
      i = this.valueEnd(i, depth);
      if (i < 0) return -1;
      const c = s.charCodeAt(i);
      if (c === CLOSE_BRACKET) return i + 1;
      if (c !== COMMA) return -1;
      i++;
    }
  }

  /** A string as JSON.stringify writes it: escapes only where it escapes, in its forms. */
  private stringEnd(i: number): number {
    const s = this.s;
    if (s.charCodeAt(i) !== QUOTE) return -1;
    let from = i + 1;
    for (;;) {
      const quote = s.indexOf('"', from);
      if (quote < 0) return -1;
      const b = this.backslashFrom(from);
      if (b > quote) return quote + 1;
      const e = s.charCodeAt(b + 1);
      if (e === QUOTE || e === BACKSLASH || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        from = b + 2;
        continue;
      }
      // \u00xx for the other control characters, lowercase hex; \u escapes of lone surrogates are left unknown.
      if (e !== 0x75 || !s.startsWith('00', b + 2)) return -1;
      const hi = s.charCodeAt(b + 4);
      const lo = s.charCodeAt(b + 5);
      const loVal = lo >= 0x30 && lo <= 0x39 ? lo - 0x30 : lo >= 0x61 && lo <= 0x66 ? lo - 0x57 : -1;
      if ((hi !== 0x30 && hi !== 0x31) || loVal < 0 || SHORT_ESCAPE.has((hi - 0x30) * 16 + loVal)) return -1;
      from = b + 6;
    }
  }
}

/** Keys fastify's JSON parser refuses or strips (secure-json-parse). */
function isPoisonKey(s: string, quote: number, end: number): boolean {
  const n = end - quote;
  return (n === 11 && s.startsWith('__proto__', quote + 1)) || (n === 13 && s.startsWith('constructor', quote + 1));
}

/** Compares s[a0, a1) with s[b0, b1) by UTF-16 units, as Array#sort orders keys. */
function compareRaw(s: string, a0: number, a1: number, b0: number, b1: number): number {
  const n = Math.min(a1 - a0, b1 - b0);
  for (let k = 0; k < n; k++) {
    const d = s.charCodeAt(a0 + k) - s.charCodeAt(b0 + k);
    if (d !== 0) return d;
  }
  return (a1 - a0) - (b1 - b0);
}

/** A number as String(n) writes it (the form JSON.stringify uses). */
function canonicalNumberEnd(s: string, i: number): number {
  const start = i;
  const n = s.length;
  let plainInteger = true;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) continue;
    if (c === 0x2d && i === start) continue;
    if (c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d) { plainInteger = false; continue; }
    break;
  }
  if (i === start) return -1;
  const first = s.charCodeAt(start) === 0x2d ? start + 1 : start;
  const digits = i - first;
  // Up to 15 digits an integer is exact and printed as written, unless it has a leading zero or is -0.
  if (plainInteger && digits >= 1 && digits <= 15 && (s.charCodeAt(first) !== 0x30 || (digits === 1 && first === start))) return i;
  const token = s.slice(start, i);
  const value = Number(token);
  return Number.isFinite(value) && String(value) === token ? i : -1;
}

/**
 * End of the JSON object or array at `start` by bracket matching outside strings (not a validity
 * check: JSON.parse of the slice is), or -1 when the text ends first.
 */
export function valueEnd(s: string, start: number): number {
  let depth = 0;
  const n = s.length;
  for (let i = start; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === QUOTE) {
      for (i++; i < n; i++) {
        const d = s.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
      if (i >= n) return -1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (--depth === 0) return i + 1;
      if (depth < 0) return -1;
    }
  }
  return -1;
}
