// Server errors and notices can carry values too: `invalid input syntax for type integer:
// "ann@example.com"`, `Key (email)=(ann@example.com) already exists`, a RAISE of a column's value.
// On a connection with mask rules these fields are scrubbed before the agent sees them: the known
// value-carrying shapes with column rules, RAISE output whole, and detectors over every text field.
import { decodeErrorFields } from './codec.js';
import { encodeErrorResponse } from './encode.js';
import type { DetectFn, MaskTally } from './mask-rows.js';

const TOKEN = '[MASKED]';
/** `…: "value"` closing a message (invalid input syntax, invalid input value for enum, out of range…). */
const TRAILING_VALUE = /: "(?:[^"]|"")*"(?=\s*$)/;
/** `Key (cols)=(values)`, `Failing row contains (values)`. */
const KEY_VALUES = /=\((?:[^()]|\([^()]*\))*\)|contains \((?:[^()]|\([^()]*\))*\)/g;
/** The fields that hold text a value can be in: message, detail, hint, context (where). */
const TEXT_FIELDS = ['M', 'D', 'H', 'W'] as const;
/** A double-quoted piece of a message: an identifier the agent wrote, or a value (`relation "<value>"` from ::regclass). */
const QUOTED = /"((?:[^"]|"")*)"/g;
/** The JSON parser's context quotes the input it failed on: `JSON data, line 1: <value>...`. */
const JSON_CONTEXT = /(JSON data, line \d+: ).*/g;
/** XML errors (SQLSTATE 2200M/N/S/T) carry the input, unquoted, in their detail. */
const XML_ERROR = /^2200[MNST]$/;
/**
 * The name of the Bind that stands in for a refused message (session.ts sendSentinel): the server
 * quotes it in its 26000 error, and the session swaps that error for the refusal only if it can
 * read the name. It is the sidecar's own random name, never a value.
 */
const SENTINEL = /^chaperone_denied_[0-9a-f]{12}_\d+$/;

/**
 * The ErrorResponse/NoticeResponse `frame` scrubbed, or null when nothing changed (or it is
 * malformed: then it is passed as the server sent it; the session decodes it the same way).
 */
export function scrubServerMessage(frame: Buffer, columnRules: boolean, detect: DetectFn | undefined, tally: MaskTally, statement?: string): Buffer | null {
  const fields = decodeErrorFields(frame);
  if (!fields) return null;
  let changed = false;
  if (columnRules) {
    // A RAISE prints whatever the function put in it: its message and detail are withheld whole.
    const raised = (fields.W ?? '').includes('at RAISE');
    for (const k of TEXT_FIELDS) {
      const v = fields[k];
      if (v === undefined) continue;
      let next = raised && (k === 'M' || k === 'D' || k === 'H') ? TOKEN : v.replace(TRAILING_VALUE, `: "${TOKEN}"`);
      if (k === 'D') next = next.replace(KEY_VALUES, (m) => (m.startsWith('=') ? `=(${TOKEN})` : `contains (${TOKEN})`));
      next = withoutForeignQuotes(next, statement);
      if (k === 'W') next = next.replace(JSON_CONTEXT, `$1${TOKEN}`);
      if (k === 'D' && XML_ERROR.test(fields.C ?? '')) next = TOKEN;
      if (next !== v) { fields[k] = next; changed = true; }
    }
  }
  if (detect) {
    for (const k of TEXT_FIELDS) {
      const v = fields[k];
      if (v === undefined) continue;
      const found = detect(v);
      if (found === undefined) continue;
      for (const h of found.hits) tally.detector(h.rule, h.detector);
      fields[k] = found.text;
      changed = true;
    }
  }
  return changed ? encodeErrorResponse(fields, frame[0]) : null;
}

/**
 * Quoted pieces the statement does not contain are masked: casts such as `::regclass`,
 * `::regtype` or `::json` make the server quote a column's value as if it were a name (`schema
 * "ann@example" does not exist`, `syntax error at or near "123"`, `found "-45"`), so only what the
 * agent wrote itself may come back quoted. Without the statement, every quoted piece is masked.
 */
function withoutForeignQuotes(text: string, statement: string | undefined): string {
  const lower = statement?.toLowerCase();
  return text.replace(QUOTED, (m, inner: string) => {
    if (inner === TOKEN || inner === '' || SENTINEL.test(inner)) return m;
    const name = inner.replaceAll('""', '"').toLowerCase();
    return lower !== undefined && lower.includes(name) ? m : `"${TOKEN}"`;
  });
}
