// Rewrites one DataRow for masking: the values of masked columns replaced (text or binary format,
// the row's lengths recomputed, NULL stays NULL), then detectors over every text value. Pure: the
// plan says what each column gets; a row with nothing to change is reported unchanged (no copy).

/** How one result column's values are replaced. */
export interface ColumnMask {
  /** Mask rule name, for the per-rule counts. */
  readonly rule: string;
  /** The masked text of a value; null means SQL NULL (strategy `null`). */
  text(value: string): string | null;
}

/** A detector hit tallied by (rule, detector). */
export interface DetectorCount { rule: string; detector: string }

/** Detector pass over one text value: the masked text and what was hit, or undefined (unchanged). */
export type DetectFn = (value: string) => { text: string; hits: readonly DetectorCount[] } | undefined;

/** How a column's values are encoded (RowDescription's format code and type OID). */
export const Enc = {
  /** Text format. */
  Text: 0,
  /** Text format of a json/jsonb column: a masked value is sent as a JSON string. */
  TextJson: 1,
  /** Binary format of a text-like type (text, varchar, bpchar, name, unknown): the bytes are UTF-8 text. */
  BinText: 2,
  /** Binary jsonb: a version byte (1), then JSON text. */
  BinJsonb: 3,
  /** Binary json: JSON text. */
  BinJson: 4,
  /** Any other binary type: no text form to put a token in, so a masked value becomes NULL. */
  BinOther: 5,
} as const;
export type Enc = typeof Enc[keyof typeof Enc];

/** Type OIDs whose binary form is their UTF-8 text (pg_type.typsend textsend/varcharsend/...). */
const BINARY_TEXT_TYPES = new Set([25, 1043, 1042, 19, 705]);
const JSON_OID = 114;
const JSONB_OID = 3802;

export function encodingOf(typeOid: number, format: number): Enc {
  if (format === 0) return typeOid === JSON_OID || typeOid === JSONB_OID ? Enc.TextJson : Enc.Text;
  if (BINARY_TEXT_TYPES.has(typeOid)) return Enc.BinText;
  if (typeOid === JSONB_OID) return Enc.BinJsonb;
  if (typeOid === JSON_OID) return Enc.BinJson;
  return Enc.BinOther;
}

export interface RowPlan {
  /** Per result column: its mask, or undefined. */
  readonly columns: readonly (ColumnMask | undefined)[];
  /** Per result column: its encoding. */
  readonly enc: readonly Enc[];
  readonly detect: DetectFn | undefined;
}

/** Where masked-value counts go (per rule, and per detector for detector rules). */
export interface MaskTally {
  column(rule: string): void;
  detector(rule: string, detector: string): void;
}

/** Values shorter than this cannot hold anything a detector finds (the shortest is an e-mail, a@b.co). */
const MIN_DETECTABLE = 6;

interface Edit { start: number; end: number; value: Buffer | null }

/**
 * The DataRow `buf[start..end)` with masks applied: a new message, or null when nothing changed.
 * Returns undefined for a malformed row (column lengths beyond the message): the caller fails closed.
 */
export function rewriteDataRow(buf: Buffer, start: number, end: number, plan: RowPlan, tally: MaskTally): Buffer | null | undefined {
  if (end - start < 7) return undefined;
  const n = buf.readInt16BE(start + 5);
  let pos = start + 7;
  let edits: Edit[] | null = null;
  const detect = plan.detect;
  for (let i = 0; i < n; i++) {
    if (pos + 4 > end) return undefined;
    const len = buf.readInt32BE(pos);
    pos += 4;
    if (len < 0) continue; // NULL stays NULL
    const vs = pos;
    pos += len;
    if (pos > end) return undefined;
    const mask = plan.columns[i];
    const enc = plan.enc[i] ?? Enc.BinOther;
    if (mask !== undefined) {
      tally.column(mask.rule);
      (edits ??= []).push({ start: vs - 4, end: pos, value: maskedBytes(buf, vs, pos, enc, mask) });
      continue;
    }
    if (detect === undefined || enc === Enc.BinOther || len < MIN_DETECTABLE) continue;
    const skip = enc === Enc.BinJsonb ? 1 : 0;
    const found = detect(buf.toString('utf8', vs + skip, pos));
    if (found === undefined) continue;
    for (const h of found.hits) tally.detector(h.rule, h.detector);
    (edits ??= []).push({ start: vs - 4, end: pos, value: encodeValue(found.text, enc) });
  }
  if (pos !== end) return undefined;
  if (edits === null) return null;
  return splice(buf, start, end, edits);
}

function maskedBytes(buf: Buffer, vs: number, ve: number, enc: Enc, mask: ColumnMask): Buffer | null {
  if (enc === Enc.BinOther) return null;
  const skip = enc === Enc.BinJsonb ? 1 : 0;
  const masked = mask.text(buf.toString('utf8', vs + skip, ve));
  if (masked === null) return null;
  return encodeValue(enc === Enc.TextJson || enc === Enc.BinJson || enc === Enc.BinJsonb ? JSON.stringify(masked) : masked, enc);
}

/**
 * A text in a column's encoding. Detector output on a json value is still valid JSON when the
 * masked span sat inside a JSON string (tokens hold no quotes or backslashes).
 */
function encodeValue(text: string, enc: Enc): Buffer {
  if (enc !== Enc.BinJsonb) return Buffer.from(text, 'utf8');
  const b = Buffer.allocUnsafe(1 + Buffer.byteLength(text));
  b[0] = 1;
  b.write(text, 1, 'utf8');
  return b;
}

/** Builds the new DataRow: the unchanged stretches copied, each edit's length word and bytes written. */
function splice(buf: Buffer, start: number, end: number, edits: readonly Edit[]): Buffer {
  let size = end - start;
  for (const e of edits) size += 4 + (e.value ? e.value.length : 0) - (e.end - e.start);
  const out = Buffer.allocUnsafe(size);
  let w = buf.copy(out, 0, start, edits[0]?.start ?? end);
  for (let k = 0; k < edits.length; k++) {
    const e = edits[k] as Edit;
    if (e.value === null) { out.writeInt32BE(-1, w); w += 4; } else { out.writeInt32BE(e.value.length, w); w += 4; w += e.value.copy(out, w); }
    w += buf.copy(out, w, e.end, edits[k + 1]?.start ?? end);
  }
  out.writeInt32BE(size - 1, 1);
  return out;
}
