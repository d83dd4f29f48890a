// Rewrites one DataRow for masking: the values of masked columns replaced (text or binary format,
// the row's lengths recomputed, NULL stays NULL), then detectors over every text value. Pure: the
// plan says what each column gets; a row with nothing to change is reported unchanged (no copy).

/** How one result column's values are replaced. */
export interface ColumnMask {
  /** Mask rule name, for the per-rule counts. */
  readonly rule: string;
  /** The masked text of a value; null means SQL NULL (strategy `null`). */
  text(value: string): string | null;
  /** Set when every value masks to the same text (redact) or to NULL (null): no value is decoded. */
  readonly constant?: string | null;
  /**
   * Set for `partial` (core/mask maskPartial: all but the last `keep` characters, at most half,
   * become `*`): an ASCII value is masked in its bytes, same length, without decoding.
   */
  readonly partialKeep?: number;
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

/**
 * Where rewritten rows are written: consecutive rows land next to each other in one slab, so a
 * chunk of rewritten rows goes to the agent as one buffer, without a Buffer per row or value.
 */
export class RowWriter {
  private slab: Buffer;
  /** Start of the bytes written since the last take(). */
  private start = 0;
  pos = 0;
  /** Per-row scratch (reused): the edited values' ranges and replacements. */
  readonly edits: Edit[] = [];
  editCount = 0;
  /** Value-independent masks' bytes per encoding (redact's token, as text or JSON). */
  readonly constants = new Map<ColumnMask, (Buffer | undefined)[]>();

  constructor(private readonly slabSize = 64 * 1024) {
    this.slab = Buffer.allocUnsafe(slabSize);
  }

  /** Room for `n` more bytes; what was written before moves out first when the slab is full. */
  reserve(n: number, out: Buffer[]): Buffer {
    if (this.pos + n > this.slab.length) {
      this.take(out);
      // The old slab now belongs to the writes it was handed to: a new one, never reused.
      this.slab = Buffer.allocUnsafe(Math.max(this.slabSize, n));
      this.start = 0;
      this.pos = 0;
    }
    return this.slab;
  }

  /** Appends the bytes written since the last take() to `out`. */
  take(out: Buffer[]): void {
    if (this.pos > this.start) out.push(this.slab.subarray(this.start, this.pos));
    this.start = this.pos;
  }

  get pending(): boolean { return this.pos > this.start; }

  edit(): Edit {
    let e = this.edits[this.editCount];
    if (e === undefined) { e = { start: 0, end: 0, bytes: null, text: '', size: 0, prefix: false, visible: -1 }; this.edits.push(e); }
    e.visible = -1;
    this.editCount++;
    return e;
  }
}

/**
 * One replaced value: `bytes` (a constant); or, when `visible` ≥ 0, the original ASCII bytes with
 * all but the last `visible` turned to `*`; else `text` (UTF-8, after a jsonb version byte when
 * `prefix`). size -1 is NULL.
 */
interface Edit { start: number; end: number; bytes: Buffer | null; text: string; size: number; prefix: boolean; visible: number }

const STAR = 0x2a;

function int32(b: Buffer, at: number): number {
  return ((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number);
}

function putInt32(b: Buffer, at: number, v: number): void {
  b[at] = v >>> 24; b[at + 1] = (v >>> 16) & 0xff; b[at + 2] = (v >>> 8) & 0xff; b[at + 3] = v & 0xff;
}

function isAscii(b: Buffer, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if ((b[k] as number) >= 0x80) return false;
  return true;
}

/**
 * Rewrites the DataRow `buf[start..end)` into `w` with masks applied: true when it did (the row
 * is in the writer), false when nothing changed, undefined for a malformed row (column lengths
 * beyond the message): the caller fails closed.
 */
export function rewriteDataRow(buf: Buffer, start: number, end: number, plan: RowPlan, tally: MaskTally, w: RowWriter, out: Buffer[]): boolean | undefined {
  if (end - start < 7) return undefined;
  const n = buf.readInt16BE(start + 5);
  let pos = start + 7;
  w.editCount = 0;
  const detect = plan.detect;
  const columns = plan.columns;
  for (let i = 0; i < n; i++) {
    if (pos + 4 > end) return undefined;
    const len = int32(buf, pos);
    pos += 4;
    if (len < 0) continue; // NULL stays NULL
    const vs = pos;
    pos += len;
    if (pos > end) return undefined;
    const mask = columns[i];
    const enc = plan.enc[i] ?? Enc.BinOther;
    if (mask !== undefined) {
      tally.column(mask.rule);
      const e = w.edit();
      e.start = vs - 4; e.end = pos; e.prefix = enc === Enc.BinJsonb; e.bytes = null;
      if (enc === Enc.BinOther) { e.size = -1; continue; }
      const fixed = constantBytes(mask, enc, w);
      if (fixed !== undefined) {
        if (fixed === null) e.size = -1; else { e.bytes = fixed; e.size = fixed.length; }
        continue;
      }
      const keep = mask.partialKeep;
      if (keep !== undefined && (enc === Enc.Text || enc === Enc.BinText) && isAscii(buf, vs, pos)) {
        e.visible = Math.max(0, Math.min(Math.floor(keep), len >> 1));
        e.size = len;
        continue;
      }
      const masked = mask.text(buf.toString('utf8', vs + (e.prefix ? 1 : 0), pos));
      if (masked === null) { e.size = -1; continue; }
      e.text = enc === Enc.TextJson || enc === Enc.BinJson || enc === Enc.BinJsonb ? JSON.stringify(masked) : masked;
      e.size = Buffer.byteLength(e.text) + (e.prefix ? 1 : 0);
      continue;
    }
    if (detect === undefined || enc === Enc.BinOther || len < MIN_DETECTABLE) continue;
    const skip = enc === Enc.BinJsonb ? 1 : 0;
    const found = detect(buf.toString('utf8', vs + skip, pos));
    if (found === undefined) continue;
    for (const h of found.hits) tally.detector(h.rule, h.detector);
    const e = w.edit();
    e.start = vs - 4; e.end = pos; e.prefix = skip === 1; e.bytes = null;
    e.text = found.text;
    e.size = Buffer.byteLength(found.text) + skip;
  }
  if (pos !== end) return undefined;
  if (w.editCount === 0) return false;
  let size = end - start;
  for (let k = 0; k < w.editCount; k++) { const e = w.edits[k] as Edit; size += 4 + Math.max(0, e.size) - (e.end - e.start); }
  const slab = w.reserve(size, out);
  const base = w.pos;
  let at = copyBytes(buf, start, (w.edits[0] as Edit).start, slab, base);
  for (let k = 0; k < w.editCount; k++) {
    const e = w.edits[k] as Edit;
    putInt32(slab, at, e.size); at += 4;
    if (e.size > 0) {
      if (e.bytes !== null) at = copyBytes(e.bytes, 0, e.bytes.length, slab, at);
      else if (e.visible >= 0) {
        const stars = e.size - e.visible;
        slab.fill(STAR, at, at + stars);
        at = copyBytes(buf, e.end - e.visible, e.end, slab, at + stars);
      } else { if (e.prefix) slab[at++] = 1; at += slab.write(e.text, at, 'utf8'); }
    }
    at = copyBytes(buf, e.end, k + 1 < w.editCount ? (w.edits[k + 1] as Edit).start : end, slab, at);
  }
  putInt32(slab, base + 1, size - 1);
  w.pos = at;
  return true;
}

/** Copies `src[from..to)` to `dst` at `at`; returns the end. Short runs by hand (Buffer#copy costs more per call). */
function copyBytes(src: Buffer, from: number, to: number, dst: Buffer, at: number): number {
  const n = to - from;
  if (n > 48) return at + src.copy(dst, at, from, to);
  for (let k = 0; k < n; k++) dst[at + k] = src[from + k] as number;
  return at + n;
}

/** A mask's value-independent output in an encoding (cached on the mask): bytes, null for NULL, undefined when it depends on the value. */
function constantBytes(mask: ColumnMask, enc: Enc, w: RowWriter): Buffer | null | undefined {
  if (mask.constant === undefined) return undefined;
  if (mask.constant === null) return null;
  let cache = w.constants.get(mask);
  if (cache === undefined) { cache = []; w.constants.set(mask, cache); }
  let b = cache[enc];
  if (b === undefined) {
    const text = enc === Enc.TextJson || enc === Enc.BinJson || enc === Enc.BinJsonb ? JSON.stringify(mask.constant) : mask.constant;
    b = enc === Enc.BinJsonb ? Buffer.concat([Buffer.from([1]), Buffer.from(text)]) : Buffer.from(text);
    cache[enc] = b;
  }
  return b;
}
