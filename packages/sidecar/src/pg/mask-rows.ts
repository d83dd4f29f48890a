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
  /**
   * Text format of a type whose text the server writes in a fixed shape no detector can match
   * (booleans, small integers, floats, dates and times, intervals, uuids): detectors skip it.
   */
  TextFixed: 6,
} as const;
export type Enc = typeof Enc[keyof typeof Enc];

/** Type OIDs whose binary form is their UTF-8 text (pg_type.typsend textsend/varcharsend/...). */
const BINARY_TEXT_TYPES = new Set([25, 1043, 1042, 19, 705]);
const JSON_OID = 114;
const JSONB_OID = 3802;

/**
 * bool, int2, int4, oid, float4, float8, date, time, timestamp, timestamptz, interval, timetz, uuid.
 * Not int8 or numeric: a card number fits in them.
 */
const FIXED_TEXT_TYPES = new Set([16, 21, 23, 26, 700, 701, 1082, 1083, 1114, 1184, 1186, 1266, 2950]);

export function encodingOf(typeOid: number, format: number): Enc {
  if (format === 0) return typeOid === JSON_OID || typeOid === JSONB_OID ? Enc.TextJson : FIXED_TEXT_TYPES.has(typeOid) ? Enc.TextFixed : Enc.Text;
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
  column(rule: string, n?: number): void;
  detector(rule: string, detector: string): void;
}

/** Values shorter than this cannot hold anything a detector finds (the shortest is an e-mail, a@b.co). */
const MIN_DETECTABLE = 6;

/** What rewriteDataRow does with one column's values (compiled once per plan). */
const Op = { None: 0, Null: 1, Fixed: 2, Partial: 3, Text: 4 } as const;

/** A plan compiled for the row loop: per column an op, its constant bytes, and counts not yet tallied. */
class Compiled {
  readonly op: Uint8Array;
  readonly fixed: (Buffer | undefined)[];
  readonly keep: Int32Array;
  readonly counts: Int32Array;
  any = false;
  constructor(readonly plan: RowPlan) {
    const n = Math.max(plan.columns.length, plan.enc.length);
    this.op = new Uint8Array(n);
    this.fixed = new Array<Buffer | undefined>(n);
    this.keep = new Int32Array(n);
    this.counts = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const mask = plan.columns[i];
      if (mask === undefined) continue;
      const enc = plan.enc[i] ?? Enc.BinOther;
      if (enc === Enc.BinOther || mask.constant === null) { this.op[i] = Op.Null; continue; }
      if (mask.constant !== undefined) {
        const text = isJson(enc) ? JSON.stringify(mask.constant) : mask.constant;
        this.fixed[i] = enc === Enc.BinJsonb ? Buffer.concat([Buffer.from([1]), Buffer.from(text)]) : Buffer.from(text);
        this.op[i] = Op.Fixed;
        continue;
      }
      if (mask.partialKeep !== undefined && (enc === Enc.Text || enc === Enc.BinText || enc === Enc.TextFixed)) {
        this.op[i] = Op.Partial;
        this.keep[i] = Math.floor(mask.partialKeep);
        continue;
      }
      this.op[i] = Op.Text;
    }
  }
}

function isJson(enc: Enc): boolean {
  return enc === Enc.TextJson || enc === Enc.BinJson || enc === Enc.BinJsonb;
}

/**
 * Where rewritten rows are written: consecutive rows land next to each other in one slab, so a
 * chunk of rewritten rows goes to the agent as one buffer, without a Buffer per row or value.
 * It also keeps the current plan compiled, and per-column counts of masked values until
 * flushCounts() hands them to the tally (one tally call per column and batch, not per value).
 */
export class RowWriter {
  private slab: Buffer;
  /** Start of the bytes written since the last take(). */
  private start = 0;
  pos = 0;
  /** Per-row scratch (reused), one entry per edited value: its range and replacement. */
  eStart: Int32Array = new Int32Array(16);
  eEnd: Int32Array = new Int32Array(16);
  /** Replacement size; -1 is NULL. */
  eSize: Int32Array = new Int32Array(16);
  /** ≥ 0: the original ASCII bytes with all but the last `visible` turned to `*`. */
  eVisible: Int32Array = new Int32Array(16);
  /** The replacement's bytes (a constant), or null: then eText (after a jsonb version byte when ePrefix). */
  eBytes: (Buffer | null)[] = [];
  eText: string[] = [];
  ePrefix: Uint8Array = new Uint8Array(16);
  editCount = 0;
  private compiled: Compiled | null = null;
  private tally: MaskTally | null = null;

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

  /** The compiled form of `plan` (the last one is kept; a new plan first flushes the old counts). */
  compile(plan: RowPlan, tally: MaskTally): Compiled {
    const c = this.compiled;
    if (c !== null && c.plan === plan && this.tally === tally) return c;
    this.flushCounts();
    this.tally = tally;
    return (this.compiled = new Compiled(plan));
  }

  /** Hands the counts of masked values kept since the last call to the tally. */
  flushCounts(): void {
    const c = this.compiled;
    if (c === null || !c.any || this.tally === null) return;
    c.any = false;
    const cols = c.plan.columns;
    for (let i = 0; i < c.counts.length; i++) {
      const n = c.counts[i] as number;
      if (n === 0) continue;
      c.counts[i] = 0;
      const mask = cols[i];
      if (mask !== undefined) this.tally.column(mask.rule, n);
    }
  }

  /** A new edit slot (index); the arrays grow as needed. */
  edit(): number {
    const k = this.editCount++;
    if (k >= this.eStart.length) this.grow();
    this.eVisible[k] = -1;
    this.ePrefix[k] = 0;
    this.eBytes[k] = null;
    return k;
  }

  private grow(): void {
    const n = this.eStart.length * 2;
    const g32 = (a: Int32Array): Int32Array => { const b = new Int32Array(n); b.set(a); return b; };
    this.eStart = g32(this.eStart); this.eEnd = g32(this.eEnd); this.eSize = g32(this.eSize); this.eVisible = g32(this.eVisible);
    const p = new Uint8Array(n); p.set(this.ePrefix); this.ePrefix = p;
  }
}

const STAR = 0x2a;

/**
 * Node's Buffer methods under toString/write (present on every Buffer since Node 0.x): called
 * directly they skip the encoding look-up and argument checks, a third of a short value's decode.
 */
interface FastBuffer { utf8Slice(start: number, end: number): string; utf8Write(text: string, offset: number): number }

function utf8(b: Buffer, start: number, end: number): string {
  return (b as unknown as FastBuffer).utf8Slice(start, end);
}

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
 * beyond the message): the caller fails closed. Column-rule counts are kept in the writer until
 * w.flushCounts(); detector counts go to the tally at once.
 */
export function rewriteDataRow(buf: Buffer, start: number, end: number, plan: RowPlan, tally: MaskTally, w: RowWriter, out: Buffer[]): boolean | undefined {
  if (end - start < 7) return undefined;
  const c = w.compile(plan, tally);
  const ops = c.op;
  const nOps = ops.length;
  const n = (buf[start + 5] as number) << 8 | (buf[start + 6] as number);
  let pos = start + 7;
  w.editCount = 0;
  const detect = plan.detect;
  for (let i = 0; i < n; i++) {
    if (pos + 4 > end) return undefined;
    const len = int32(buf, pos);
    pos += 4;
    if (len < 0) continue; // NULL stays NULL
    const vs = pos;
    pos += len;
    if (pos > end) return undefined;
    const op = i < nOps ? ops[i] as number : Op.None;
    if (op !== Op.None) {
      c.counts[i] = (c.counts[i] as number) + 1;
      c.any = true;
      const k = w.edit();
      w.eStart[k] = vs - 4; w.eEnd[k] = pos;
      if (op === Op.Fixed) {
        const fixed = c.fixed[i] as Buffer;
        w.eBytes[k] = fixed; w.eSize[k] = fixed.length;
        continue;
      }
      if (op === Op.Null) { w.eSize[k] = -1; continue; }
      if (op === Op.Partial && isAscii(buf, vs, pos)) {
        const keep = c.keep[i] as number;
        w.eVisible[k] = Math.max(0, Math.min(keep, len >> 1));
        w.eSize[k] = len;
        continue;
      }
      const enc = plan.enc[i] ?? Enc.BinOther;
      const prefix = enc === Enc.BinJsonb ? 1 : 0;
      w.ePrefix[k] = prefix;
      const masked = (plan.columns[i] as ColumnMask).text(utf8(buf, vs + prefix, pos));
      if (masked === null) { w.eSize[k] = -1; continue; }
      const text = isJson(enc) ? JSON.stringify(masked) : masked;
      w.eText[k] = text;
      w.eSize[k] = Buffer.byteLength(text) + prefix;
      continue;
    }
    if (detect === undefined || len < MIN_DETECTABLE) continue;
    const enc = plan.enc[i] ?? Enc.BinOther;
    if (enc === Enc.BinOther || enc === Enc.TextFixed) continue;
    const skip = enc === Enc.BinJsonb ? 1 : 0;
    const found = detect(utf8(buf, vs + skip, pos));
    if (found === undefined) continue;
    for (const h of found.hits) tally.detector(h.rule, h.detector);
    const k = w.edit();
    w.eStart[k] = vs - 4; w.eEnd[k] = pos; w.ePrefix[k] = skip;
    w.eText[k] = found.text;
    w.eSize[k] = Buffer.byteLength(found.text) + skip;
  }
  if (pos !== end) return undefined;
  const edits = w.editCount;
  if (edits === 0) return false;
  const eStart = w.eStart; const eEnd = w.eEnd; const eSize = w.eSize;
  let size = end - start;
  for (let k = 0; k < edits; k++) size += 4 + Math.max(0, eSize[k] as number) - ((eEnd[k] as number) - (eStart[k] as number));
  const slab = w.reserve(size, out);
  const base = w.pos;
  let at = copyBytes(buf, start, eStart[0] as number, slab, base);
  for (let k = 0; k < edits; k++) {
    const sz = eSize[k] as number;
    const e = eEnd[k] as number;
    putInt32(slab, at, sz); at += 4;
    if (sz > 0) {
      const bytes = w.eBytes[k];
      const visible = w.eVisible[k] as number;
      if (bytes !== null && bytes !== undefined) at = copyBytes(bytes, 0, bytes.length, slab, at);
      else if (visible >= 0) {
        const stars = sz - visible;
        for (let j = 0; j < stars; j++) slab[at + j] = STAR;
        at = copyBytes(buf, e - visible, e, slab, at + stars);
      } else { if (w.ePrefix[k] === 1) slab[at++] = 1; at += (slab as unknown as FastBuffer).utf8Write(w.eText[k] as string, at); }
    }
    at = copyBytes(buf, e, k + 1 < edits ? eStart[k + 1] as number : end, slab, at);
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
