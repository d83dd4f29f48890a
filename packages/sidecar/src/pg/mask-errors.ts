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

/**
 * The ErrorResponse/NoticeResponse `frame` scrubbed, or null when nothing changed (or it is
 * malformed: then it is passed as the server sent it; the session decodes it the same way).
 */
export function scrubServerMessage(frame: Buffer, columnRules: boolean, detect: DetectFn | undefined, tally: MaskTally): Buffer | null {
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
