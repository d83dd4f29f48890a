// The recorder's memory queue. Each record is written once, as the UTF-8 bytes of its wire line,
// into large reused chunks: a queued record is no JavaScript object at all, so records that wait
// ~250 ms for their batch cost the garbage collector nothing (objects living that long are
// promoted to old space and freed only by full collections, on every core).
//
// A line is the record's canonical JSON (exactly the bytes core's hashRecord hashes) with the
// hash appended as the last key:
//   {"event":EV,"prevHash":"<64 hex>","seq":N,"session":S,"time":"T","hash":"<64 hex>"}
// append() writes the record with a 64-byte hole for prevHash and room for the hash. Sealing goes
// in queue order, which is each session's sequence order: it fills the hole from the session's
// chain head, hashes the bytes up to the closing brace in one call, and writes the hash after.
import { hash as oneShotHash } from 'node:crypto';

/** A session's chain: the hash of its last sealed record (GENESIS_HASH before the first). */
export interface ChainHead { prevHash: string }

const CHUNK_BYTES = 1 << 20;
const HEX = 64;
/** `,"hash":"` + 64 hex + `"}`, written over the record's final `}`. */
const HASH_TAIL = 9 + HEX + 2;
/** Room kept after an unsealed record: the rest of the hash tail, then a comma, so a run of lines is a list body. */
const SLOT_EXTRA = HASH_TAIL - 1 + 1;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
/** Per record in Chunk.meta: start, prevHash offset, end of the unsealed record, time (epoch ms). */
const META = 4;
const SPARE_CHUNKS = 2;
const BODY_OPEN = Buffer.from('{"records":[');
const BODY_CLOSE = Buffer.from(']}');

class Chunk {
  readonly buf: Buffer;
  used = 0;
  count = 0;
  meta = new Float64Array(META * 2048);
  /** Chain head per unsealed record; cleared when sealed. */
  chains: (ChainHead | undefined)[] = [];

  constructor(size: number) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  push(start: number, prevAt: number, end: number, timeMs: number, chain: ChainHead): void {
    let m = this.count * META;
    if (m + META > this.meta.length) {
      const grown = new Float64Array(this.meta.length * 2);
      grown.set(this.meta);
      this.meta = grown;
    }
    this.meta[m++] = start;
    this.meta[m++] = prevAt;
    this.meta[m++] = end;
    this.meta[m] = timeMs;
    this.chains[this.count++] = chain;
    this.used = end + SLOT_EXTRA;
  }

  start(i: number): number { return this.meta[i * META]!; }
  /** End of record i's sealed line (exclusive); its comma follows. */
  lineEnd(i: number): number { return this.meta[i * META + 2]! + HASH_TAIL - 1; }
  timeMs(i: number): number { return this.meta[i * META + 3]!; }

  reset(): void {
    this.used = 0;
    this.count = 0;
    this.chains.length = 0;
  }
}

/**
 * A batch taken from the front of the queue: `count` records as a POST /v1/records body, UTF-8
 * bytes copied from the chunks (no string: a batch of megabytes would be a large V8 object that
 * only a full collection frees, and decoding it only to encode it again costs two passes).
 */
export interface QueueBatch { count: number; body: Buffer }

export class RecordQueue {
  /** chunks[0] holds the oldest record; the last one is written to. */
  private readonly chunks: Chunk[] = [];
  /** First live record of chunks[0]. */
  private head = 0;
  /** The next record to seal is chunks[sealChunk] record sealIndex; all before it are sealed. */
  private sealChunk = 0;
  private sealIndex = 0;
  private size = 0;
  private unsealedCount = 0;
  private readonly spare: Chunk[] = [];
  /** Bytes of the chunks in use (spares not counted). */
  private held = 0;
  /** toISOString of the last time written: statements arriving in the same millisecond share it. */
  private isoMs = Number.NaN;
  private iso = '';

  get length(): number {
    return this.size;
  }

  get unsealed(): number {
    return this.unsealedCount;
  }

  /** Memory the queued records hold: the chunks they are written in. */
  get heldBytes(): number {
    return this.held;
  }

  /** Queues a record; `sessionJson` is the JSON string of the session id, `eventJson` canonical. */
  append(chain: ChainHead, seq: number, sessionJson: string, timeMs: number, eventJson: string): void {
    if (timeMs !== this.isoMs) {
      this.iso = new Date(timeMs).toISOString();
      this.isoMs = timeMs;
    }
    const head = `{"event":${eventJson},"prevHash":"`;
    const tail = `","seq":${seq},"session":${sessionJson},"time":"${this.iso}"}`;
    // UTF-8 needs at most 3 bytes per UTF-16 unit; cheaper than measuring the exact length.
    const c = this.writable(3 * (head.length + tail.length) + HEX + SLOT_EXTRA);
    const start = c.used;
    const prevAt = start + c.buf.write(head, start);
    const end = prevAt + HEX + c.buf.write(tail, prevAt + HEX);
    c.push(start, prevAt, end, timeMs, chain);
    this.size++;
    this.unsealedCount++;
  }

  /** Seals up to `max` records in queue order; true when unsealed records remain. */
  sealSome(max: number): boolean {
    for (let i = 0; i < max && this.sealOne(); i++);
    return this.unsealedCount > 0;
  }

  /** Epoch ms of the oldest queued record. */
  oldestTimeMs(): number | undefined {
    const c = this.chunks[0];
    return this.size > 0 && c ? c.timeMs(this.head) : undefined;
  }

  /**
   * How many records from the front have at most `maxRecords` and `maxBytes` of lines (each with
   * its separator), but always one however big (none when the queue is empty).
   */
  frontCount(maxRecords: number, maxBytes: number): number {
    let count = 0;
    let bytes = 0;
    outer: for (let k = 0, i = this.head; k < this.chunks.length; k++, i = 0) {
      const c = this.chunks[k]!;
      for (; i < c.count && count < maxRecords; i++) {
        bytes += c.lineEnd(i) - c.start(i) + 1;
        if (count > 0 && bytes > maxBytes) break outer;
        count++;
      }
      if (count >= maxRecords) break;
    }
    return count;
  }

  /**
   * The first records as one request body: at most `maxRecords` and `maxBytes` of lines, but
   * always one however big. Seals them; leaves them queued (dropFront once acknowledged).
   */
  take(maxRecords: number, maxBytes: number): QueueBatch {
    const count = this.frontCount(maxRecords, maxBytes - BODY_OPEN.length - BODY_CLOSE.length);
    this.sealFront(count);
    // The lines of one chunk are contiguous, commas between them included: one copy per chunk.
    const ranges: [Chunk, number, number][] = [];
    let size = BODY_OPEN.length + BODY_CLOSE.length;
    let left = count;
    for (let k = 0, i = this.head; left > 0; k++, i = 0) {
      const c = this.chunks[k]!;
      const last = Math.min(c.count, i + left) - 1;
      if (last < i) continue;
      const start = c.start(i);
      const end = c.lineEnd(last);
      size += end - start + (ranges.length > 0 ? 1 : 0);
      ranges.push([c, start, end]);
      left -= last - i + 1;
    }
    const body = Buffer.allocUnsafe(size);
    let at = BODY_OPEN.copy(body, 0);
    for (const [c, start, end] of ranges) {
      if (at > BODY_OPEN.length) body[at++] = COMMA;
      at += c.buf.copy(body, at, start, end);
    }
    BODY_CLOSE.copy(body, at);
    return { count, body };
  }

  /**
   * The first `n` records as spool text: each line followed by a newline, as bytes copied from
   * the chunks (sealed first). No string per record and none for the whole: a spill of tens of
   * thousands of records would otherwise sit in V8's old and large-object spaces until a full GC.
   */
  spoolBytes(n: number): Buffer {
    this.sealFront(n);
    // Per chunk: its records [first, stop), contiguous through the comma after the last one.
    const ranges: [Chunk, number, number][] = [];
    let size = 0;
    let left = Math.min(n, this.size);
    for (let k = 0, i = this.head; left > 0 && k < this.chunks.length; k++, i = 0) {
      const c = this.chunks[k]!;
      const stop = Math.min(c.count, i + left);
      if (stop <= i) continue;
      size += c.lineEnd(stop - 1) + 1 - c.start(i);
      ranges.push([c, i, stop]);
      left -= stop - i;
    }
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    for (const [c, first, stop] of ranges) {
      const start = c.start(first);
      const base = at - start;
      at += c.buf.copy(out, at, start, c.lineEnd(stop - 1) + 1);
      // Each line's comma becomes its newline.
      for (let j = first; j < stop; j++) out[base + c.lineEnd(j)] = NEWLINE;
    }
    return out;
  }

  /** The first `n` records as separate lines (sealed), for the spool. */
  lines(n: number): string[] {
    this.sealFront(n);
    const out: string[] = [];
    for (let k = 0, i = this.head; out.length < n && k < this.chunks.length; k++, i = 0) {
      const c = this.chunks[k]!;
      for (; i < c.count && out.length < n; i++) out.push(c.buf.toString('utf8', c.start(i), c.lineEnd(i)));
    }
    return out;
  }

  /** Forgets the first `n` records (delivered or spooled). */
  dropFront(n: number): void {
    this.sealFront(n);
    let left = Math.min(n, this.size);
    while (left > 0) {
      const c = this.chunks[0]!;
      const avail = c.count - this.head;
      if (left < avail) {
        this.head += left;
        this.size -= left;
        return;
      }
      left -= avail;
      this.size -= avail;
      this.head = 0;
      if (this.chunks.length === 1) {
        // Everything in it was sealed (sealFront), so the cursor restarts with it.
        c.reset();
        this.sealChunk = 0;
        this.sealIndex = 0;
      } else {
        this.chunks.shift();
        this.held -= c.buf.length;
        if (this.sealChunk > 0) this.sealChunk--;
        else this.sealIndex = 0;
        this.recycle(c);
      }
    }
  }

  /** Seals until the first `n` records are (those before the cursor already are). */
  private sealFront(n: number): void {
    for (let missing = n - this.sealedFromHead(); missing > 0 && this.sealOne(); missing--);
  }

  /** How many records from the front are sealed. */
  private sealedFromHead(): number {
    let n = -this.head;
    for (let k = 0; k < this.sealChunk; k++) n += this.chunks[k]!.count;
    return n + this.sealIndex;
  }

  private sealOne(): boolean {
    let c = this.chunks[this.sealChunk];
    while (c && this.sealIndex >= c.count) {
      if (this.sealChunk + 1 >= this.chunks.length) return false;
      this.sealChunk++;
      this.sealIndex = 0;
      c = this.chunks[this.sealChunk];
    }
    if (!c) return false;
    const i = this.sealIndex;
    const m = i * META;
    const start = c.meta[m]!;
    const prevAt = c.meta[m + 1]!;
    const end = c.meta[m + 2]!;
    const chain = c.chains[i]!;
    const buf = c.buf;
    buf.write(chain.prevHash, prevAt, 'latin1');
    // One-shot crypto.hash: no Hash object, one native call per record.
    const hash = oneShotHash('sha256', buf.subarray(start, end), 'hex');
    buf.write(`,"hash":"${hash}"}`, end - 1, 'latin1');
    buf[end + HASH_TAIL - 1] = COMMA;
    chain.prevHash = hash;
    c.chains[i] = undefined;
    this.sealIndex = i + 1;
    this.unsealedCount--;
    return true;
  }

  /** The chunk to write a record of at most `need` bytes into. */
  private writable(need: number): Chunk {
    const last = this.chunks.at(-1);
    if (last && last.buf.length - last.used >= need) return last;
    const c = need <= CHUNK_BYTES ? (this.spare.pop() ?? new Chunk(CHUNK_BYTES)) : new Chunk(need);
    this.chunks.push(c);
    this.held += c.buf.length;
    return c;
  }

  private recycle(c: Chunk): void {
    c.reset();
    // Oversized chunks (one huge statement) go back to the allocator.
    if (c.buf.length === CHUNK_BYTES && this.spare.length < SPARE_CHUNKS) this.spare.push(c);
  }
}
