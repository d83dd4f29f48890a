// The validator of POST /v1/records bodies: exactly the route's JSON schema (recordSchema), at a
// fraction of Ajv's per-record cost (its date-time format and hash patterns cost microseconds a
// record, and batches hold thousands). Unlike fastify's Ajv it never coerces types or strips
// properties: a string seq or an extra top-level key is refused, not silently changed.

/** Days per month; February in a leap year is checked apart (RFC 3339 appendix C). */
const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits(s: string, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** `YYYY-MM-DDTHH:MM:SS.mmmZ` (Date#toISOString) naming a real instant: the sidecar's form of date-time. */
export function isIsoInstant(s: string): boolean {
  if (s.length !== 24 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58
    || s.charCodeAt(16) !== 58 || s.charCodeAt(19) !== 46 || s.charCodeAt(23) !== 90) return false;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS[month]!)) return false;
  const hour = digits(s, 11, 2);
  const min = digits(s, 14, 2);
  const sec = digits(s, 17, 2);
  return hour >= 0 && hour <= 23 && min >= 0 && min <= 59 && sec >= 0 && sec <= 59 && digits(s, 20, 3) >= 0;
}

/**
 * JSON Schema's format date-time (RFC 3339 section 5.6), as ajv-formats checks it: a valid
 * calendar date, a time with a leap second only at 23:59:60 UTC, and a time zone.
 */
const DATE_TIME = /^(\d{4})-(\d\d)-(\d\d)[t\s](\d\d):(\d\d):(\d\d)(?:\.\d+)?(z|([+-])(\d\d)(?::?(\d\d))?)$/i;

export function isDateTime(s: string): boolean {
  if (isIsoInstant(s)) return true;
  const m = DATE_TIME.exec(s);
  if (!m) return false;
  const year = +m[1]!;
  const month = +m[2]!;
  const day = +m[3]!;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (month < 1 || month > 12 || day < 1 || day > (month === 2 && leap ? 29 : DAYS[month]!)) return false;
  const hr = +m[4]!;
  const min = +m[5]!;
  const sec = +m[6]!;
  const sign = m[8] === '-' ? -1 : 1;
  const tzH = +(m[9] ?? 0);
  const tzM = +(m[10] ?? 0);
  if (tzH > 23 || tzM > 59) return false;
  if (hr <= 23 && min <= 59 && sec < 60) return true;
  // A leap second: 23:59:60 in UTC.
  const utcMin = min - tzM * sign;
  const utcHr = hr - tzH * sign - (utcMin < 0 ? 1 : 0);
  return (utcHr === 23 || utcHr === -1) && (utcMin === 59 || utcMin === -1) && sec < 61;
}

/** 1 for every UTF-16 unit but 0-9 a-f: a branch-free scan (a per-char test loop costs twice as much). */
const NOT_HEX = new Uint8Array(65536).fill(1);
for (const c of '0123456789abcdef') NOT_HEX[c.charCodeAt(0)] = 0;

/** 64 lowercase hex digits: the schema's hash pattern. */
export function isHexHash(s: unknown): boolean {
  if (typeof s !== 'string' || s.length !== 64) return false;
  let bad = 0;
  for (let i = 0; i < 64; i++) bad |= NOT_HEX[s.charCodeAt(i)]!;
  return bad === 0;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Why one record does not fit recordSchema, as a JSON pointer below the record and a message; null when it fits. */
export function recordProblem(r: unknown): [string, string] | null {
  if (!isPlainObject(r)) return ['', 'must be object'];
  const { session, seq, time, event } = r;
  if (typeof session !== 'string') return ['/session', 'must be string'];
  // maxLength counts code points; a UTF-16 length within 1..200 needs no counting.
  if (session.length === 0) return ['/session', 'must NOT have fewer than 1 characters'];
  if (session.length > 200 && [...session].length > 200) return ['/session', 'must NOT have more than 200 characters'];
  if (typeof seq !== 'number' || !Number.isInteger(seq)) return ['/seq', 'must be integer'];
  if (seq < 0) return ['/seq', 'must be >= 0'];
  if (seq > 2147483647) return ['/seq', 'must be <= 2147483647'];
  if (typeof time !== 'string') return ['/time', 'must be string'];
  if (!isDateTime(time)) return ['/time', 'must match format "date-time"'];
  if (!isHexHash(r.prevHash)) return hashProblem('prevHash', r.prevHash);
  if (!isHexHash(r.hash)) return hashProblem('hash', r.hash);
  if (!isPlainObject(event)) return ['/event', 'must be object'];
  if (event.type === undefined) return ['/event', 'must have required property \'type\''];
  if (typeof event.type !== 'string') return ['/event/type', 'must be string'];
  return null;
}

function hashProblem(key: string, value: unknown): [string, string] {
  return [`/${key}`, typeof value === 'string' ? 'must match pattern "^[0-9a-f]{64}$"' : 'must be string'];
}

/** A validation failure in the shape fastify reports (instancePath below the body, Ajv's wording). */
export interface BodyProblem { instancePath: string; message: string }

/** Why `body` is not `{ records: [...] }` of at most `maxRecords` records (recordSchema); null when it is. */
export function recordsBodyProblem(body: unknown, maxRecords: number): BodyProblem | null {
  if (!isPlainObject(body)) return { instancePath: '', message: 'must be object' };
  for (const k in body) if (k !== 'records') return { instancePath: '', message: 'must NOT have additional properties' };
  const records = body.records;
  if (records === undefined) return { instancePath: '', message: 'must have required property \'records\'' };
  if (!Array.isArray(records)) return { instancePath: '/records', message: 'must be array' };
  if (records.length > maxRecords) return { instancePath: '/records', message: `must NOT have more than ${maxRecords} items` };
  for (let i = 0; i < records.length; i++) {
    const p = recordProblem(records[i]);
    if (p) return { instancePath: `/records/${i}${p[0]}`, message: p[1] };
  }
  return null;
}
