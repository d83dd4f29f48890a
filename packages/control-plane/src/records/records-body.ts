// POST /v1/records bodies as the sidecar writes them (sidecar/src/recorder/record-queue.ts):
// `{"records":[line,line,...]}`, no whitespace, each line a record's canonical JSON with the hash
// appended. Each record is parsed on its own, validated exactly as records/batch-shape.ts does,
// and reduced to an IngestRecord at once, so no parsed event outlives the parse; a line already in
// canonical form is stored and hashed as it came. Anything else is left to the caller's generic
// path (whole-body JSON.parse, then batch-shape), which gives every other body today's answers.
import { canonicalRecordJson } from '@chaperone/core/records/canonical';
import type { SessionRecord } from '@chaperone/core/records/types';
import { recordProblem } from './batch-shape.js';
import { CanonicalScanner, valueEnd } from './canonical-scan.js';
import { IngestRecord, prevHashAt, storedJson, summariseEvent } from './ingest-record.js';

const BODY_OPEN = '{"records":[';
const BODY_CLOSE = ']}';
const OPEN_BRACE = 0x7b;
const COMMA = 0x2c;

/**
 * A line that may spell a `__proto__` or `constructor` key, literally or with \u escapes of
 * printable characters (which JSON.stringify never writes): fastify's parser (secure-json-parse)
 * refuses or strips such keys, so bodies holding one take its path. Canonical lines are checked
 * key by key by the scanner instead.
 */
function mayPoison(line: string): boolean {
  return line.includes('__proto__') || line.includes('constructor') || /\\u00[2-7]/.test(line);
}

/** Why a body was left to the generic path. */
export type Unscanned = 'shape' | 'suspect' | 'json' | 'too-many' | 'invalid';

export type ScannedBody = { ok: true; records: IngestRecord[] } | { ok: false; why: Unscanned };

/**
 * The records of a valid sidecar-shaped body of at most `maxRecords` records. Every body this
 * refuses (`ok: false`) must go through the generic path, which answers it exactly as before:
 * invalid JSON, a validation error, or the same records.
 */
export function scanRecordsBody(text: string, maxRecords: number): ScannedBody {
  if (!text.startsWith(BODY_OPEN) || !text.endsWith(BODY_CLOSE)) return { ok: false, why: 'shape' };
  const records: IngestRecord[] = [];
  const last = text.length - BODY_CLOSE.length;
  let i = BODY_OPEN.length;
  if (i === last) return { ok: true, records };
  // One string per session id, however many of its records the batch holds.
  const sessions = new Map<string, string>();
  const scanner = new CanonicalScanner(text);
  for (;;) {
    if (text.charCodeAt(i) !== OPEN_BRACE) return { ok: false, why: 'shape' };
    let end = scanner.recordEnd(i);
    const canonical = end > 0;
    if (!canonical) end = valueEnd(text, i);
    if (end < 0 || end > last) return { ok: false, why: 'shape' };
    if (records.length === maxRecords) return { ok: false, why: 'too-many' };
    const line = text.slice(i, end);
    if (!canonical && mayPoison(line)) return { ok: false, why: 'suspect' };
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return { ok: false, why: 'json' };
    }
    if (recordProblem(parsed) !== null) return { ok: false, why: 'invalid' };
    const r = parsed as SessionRecord;
    let session = sessions.get(r.session);
    if (session === undefined) sessions.set(r.session, session = r.session);
    // Not known to be canonical: encoded again, as every record was before (other key order, extra keys, escapes).
    const json = canonical ? line : storedJson(canonicalRecordJson(r), r.hash);
    const prevAt = canonical ? scanner.prevHashAt - i : prevHashAt(json);
    records.push(new IngestRecord(session, r.seq, r.time, json, prevAt, summariseEvent(r.event as unknown as Record<string, unknown>)));
    if (end === last) return { ok: true, records };
    if (text.charCodeAt(end) !== COMMA) return { ok: false, why: 'shape' };
    i = end + 1;
  }
}
