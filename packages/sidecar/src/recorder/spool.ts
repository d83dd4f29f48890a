// The recorder's on-disk spool: append-only JSON-lines segments, read back oldest first.
// Segment names carry a zero-padded counter (seg-000000000001.jsonl), so name order is
// write order, across restarts too. A segment is deleted only once every record in it was
// acknowledged; refused segments move to rejected/ and stay there for an operator.
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

const SEGMENT_RE = /^seg-(\d{12})\.jsonl$/;

/**
 * A segment read back: its bytes and where its valid lines are. Kept as one Buffer (outside V8's
 * heap) rather than a string per line, so draining a big spool costs the garbage collector little.
 */
export class SpoolSegment {
  constructor(
    readonly name: string,
    private readonly data: Buffer,
    /** Start and end (exclusive) of each valid line, in write order. */
    private readonly bounds: readonly number[],
    /** Lines that are not JSON objects: a write torn by a crash, or damage on disk. */
    readonly invalid: number,
  ) {}

  /** Valid record lines, each one JSON-encoded SessionRecord. */
  get count(): number {
    return this.bounds.length / 2;
  }

  line(i: number): string {
    return this.data.toString('utf8', this.bounds[2 * i], this.bounds[2 * i + 1]);
  }

  lineBytes(i: number): number {
    return this.bounds[2 * i + 1]! - this.bounds[2 * i]!;
  }

  /** Lines [from, to) as a POST /v1/records body. */
  body(from: number, to: number): Buffer {
    let size = BODY_OPEN.length + BODY_CLOSE.length + Math.max(0, to - from - 1);
    for (let i = from; i < to; i++) size += this.lineBytes(i);
    const out = Buffer.allocUnsafe(size);
    let at = BODY_OPEN.copy(out, 0);
    for (let i = from; i < to; i++) {
      if (i > from) out[at++] = COMMA;
      at += this.data.copy(out, at, this.bounds[2 * i], this.bounds[2 * i + 1]);
    }
    BODY_CLOSE.copy(out, at);
    return out;
  }
}

const BODY_OPEN = Buffer.from('{"records":[');
const BODY_CLOSE = Buffer.from(']}');
const COMMA = 0x2c;
const NEWLINE = 0x0a;
/** Spooled lines checked per event-loop turn when a segment is read back. */
const CHECK_SLICE = 500;

interface SegmentInfo {
  name: string;
  count: number;
  /** Epoch ms of the segment's first record, for the delivery-lag gauge. */
  firstTimeMs: number | undefined;
}

interface ActiveSegment {
  info: SegmentInfo;
  handle: FileHandle;
  bytes: number;
}

export class Spool {
  readonly dir: string;
  readonly rejectedDir: string;
  private readonly segmentBytes: number;
  private readonly segments: SegmentInfo[];
  private nextIndex: number;
  private active: ActiveSegment | undefined;
  private pendingRecords: number;
  /** Disk operations run one after another, in call order. */
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, segmentBytes: number, segments: SegmentInfo[], nextIndex: number) {
    this.dir = dir;
    this.rejectedDir = join(dir, 'rejected');
    this.segmentBytes = segmentBytes;
    this.segments = segments;
    this.nextIndex = nextIndex;
    this.pendingRecords = segments.reduce((n, s) => n + s.count, 0);
  }

  /** Opens (creating) the spool directory and finds segments a previous run left behind. */
  static async open(dir: string, opts: { segmentBytes?: number } = {}): Promise<Spool> {
    await mkdir(join(dir, 'rejected'), { recursive: true });
    const names = (await readdir(dir)).filter((n) => SEGMENT_RE.test(n)).sort();
    const segments: SegmentInfo[] = [];
    for (const name of names) {
      const text = await readFile(join(dir, name), 'utf8');
      const lines = splitLines(text);
      if (lines.length === 0) continue;
      segments.push({ name, count: lines.length, firstTimeMs: timeOf(lines[0]) });
    }
    const last = names.at(-1);
    const nextIndex = last ? Number(SEGMENT_RE.exec(last)?.[1]) + 1 : 1;
    return new Spool(dir, opts.segmentBytes ?? 4 * 1024 * 1024, segments, nextIndex);
  }

  /** Records on disk (or being written) and not yet acknowledged. */
  get pending(): number {
    return this.pendingRecords;
  }

  oldestTimeMs(): number | undefined {
    return this.segments[0]?.firstTimeMs;
  }

  /**
   * Appends record lines at the end of the spool. `pending` counts them at once, so a reader
   * that looks after this call (and waits on the same queue) sees them before anything newer.
   */
  append(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return Promise.resolve();
    return this.appendBytes(Buffer.from(`${lines.join('\n')}\n`), lines.length);
  }

  /**
   * The same for `count` lines already encoded, each ending with a newline (RecordQueue.spoolBytes).
   * A big spill is cut at line ends into pieces of about segmentBytes, each closing its segment,
   * so reading one back never needs a buffer much bigger than a segment. Pieces are written in
   * order and a failure stops the rest: what is on disk is always a prefix of the lines.
   */
  appendBytes(text: Buffer, count: number): Promise<void> {
    if (count === 0) return Promise.resolve();
    this.pendingRecords += count;
    return this.run(async () => {
      let left = count;
      try {
        for (let start = 0; start < text.length && left > 0;) {
          let end = text.length;
          if (end - start > this.segmentBytes) {
            const nl = text.indexOf(NEWLINE, start + this.segmentBytes - 1);
            if (nl >= 0) end = nl + 1;
          }
          const piece = text.subarray(start, end);
          let lines = 0;
          for (let i = piece.indexOf(NEWLINE); i >= 0; i = piece.indexOf(NEWLINE, i + 1)) lines++;
          lines = end === text.length ? left : Math.min(lines, left);
          const active = await this.activeSegment(() => firstLine(piece));
          await active.handle.write(piece);
          active.bytes += piece.length;
          active.info.count += lines;
          left -= lines;
          if (active.bytes >= this.segmentBytes) await this.rotate();
          start = end;
        }
      } catch (err) {
        this.pendingRecords -= left;
        throw err;
      }
    });
  }

  /** The oldest segment, whole; closes it first when it is the one being written. */
  next(): Promise<SpoolSegment | undefined> {
    return this.run(async () => {
      const info = this.segments[0];
      if (!info) return undefined;
      if (this.active?.info === info) await this.rotate();
      const data = await readFile(join(this.dir, info.name));
      const bounds: number[] = [];
      let invalid = 0;
      for (let s = 0, sinceYield = 0; s < data.length;) {
        let e = data.indexOf(NEWLINE, s);
        if (e < 0) e = data.length;
        if (e > s) {
          if (isJsonObject(data.toString('utf8', s, e))) bounds.push(s, e);
          else invalid++;
        }
        s = e + 1;
        // Parsing a segment's lines takes tens of milliseconds: let the proxies run in between.
        if (++sinceYield === CHECK_SLICE) { sinceYield = 0; await new Promise<void>((resolve) => setImmediate(resolve)); }
      }
      const segment = new SpoolSegment(info.name, data, bounds, invalid);
      // The count from open() included lines that turn out unusable; correct it now.
      this.pendingRecords += segment.count - info.count;
      info.count = segment.count;
      return segment;
    });
  }

  /** Deletes a segment whose every record the control plane acknowledged. */
  remove(segment: SpoolSegment): Promise<void> {
    return this.run(async () => {
      await rm(join(this.dir, segment.name), { force: true });
      this.forget(segment.name);
    });
  }

  /** Moves a segment the control plane refused into rejected/, where it stays. */
  reject(segment: SpoolSegment): Promise<string> {
    return this.run(async () => {
      const target = join(this.rejectedDir, segment.name);
      await rename(join(this.dir, segment.name), target);
      this.forget(segment.name);
      return target;
    });
  }

  /** Keeps records refused straight from memory in rejected/. */
  rejectLines(lines: readonly string[]): Promise<string> {
    return this.run(async () => {
      const target = join(this.rejectedDir, `mem-${new Date().toISOString().replace(/[:.]/g, '-')}-${this.nextIndex++}.jsonl`);
      const handle = await open(target, 'wx');
      try {
        await handle.write(`${lines.join('\n')}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return target;
    });
  }

  /** Closes (and fsyncs) the segment being written. The spool can be appended to again after. */
  close(): Promise<void> {
    return this.run(() => this.rotate());
  }

  /**
   * Writes lines as a segment of their own, synchronously: only for records that arrive after
   * the recorder was closed, when no event loop turn may be left to write them.
   */
  appendSync(lines: readonly string[]): void {
    if (lines.length === 0) return;
    const name = segmentName(this.nextIndex++);
    const fd = openSync(join(this.dir, name), 'a');
    try {
      writeSync(fd, `${lines.join('\n')}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.segments.push({ name, count: lines.length, firstTimeMs: timeOf(lines[0]) });
    this.pendingRecords += lines.length;
  }

  private run<T>(op: () => Promise<T>): Promise<T> {
    const result = this.chain.then(op, op);
    this.chain = result.catch(() => undefined);
    return result;
  }

  private async activeSegment(firstLine: () => string): Promise<ActiveSegment> {
    if (this.active) return this.active;
    const name = segmentName(this.nextIndex++);
    const handle = await open(join(this.dir, name), 'a');
    const info: SegmentInfo = { name, count: 0, firstTimeMs: timeOf(firstLine()) };
    this.segments.push(info);
    this.active = { info, handle, bytes: 0 };
    return this.active;
  }

  /** fsync and close the segment being written; the next append starts a new one. */
  private async rotate(): Promise<void> {
    const active = this.active;
    if (!active) return;
    this.active = undefined;
    try {
      await active.handle.sync();
    } finally {
      await active.handle.close();
    }
  }

  private forget(name: string): void {
    const i = this.segments.findIndex((s) => s.name === name);
    if (i < 0) return;
    const [info] = this.segments.splice(i, 1);
    this.pendingRecords -= info?.count ?? 0;
  }
}

function firstLine(text: Buffer): string {
  const nl = text.indexOf(NEWLINE);
  return text.toString('utf8', 0, nl < 0 ? text.length : nl);
}

function segmentName(index: number): string {
  return `seg-${String(index).padStart(12, '0')}.jsonl`;
}

function splitLines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

function isJsonObject(line: string): boolean {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

/** The `time` of a record line without parsing the whole record. */
function timeOf(line: string | undefined): number | undefined {
  if (!line) return undefined;
  // The record's own time is the last one in a line (event first, record-queue.ts), the first
  // one in lines spooled by versions that wrote the session first.
  const m = line.startsWith('{"session"') ? /"time":"([^"]+)"/.exec(line) : /"time":"([^"]+)","hash":"[0-9a-f]*"\}$/.exec(line);
  const t = m?.[1] ? Date.parse(m[1]) : NaN;
  return Number.isNaN(t) ? undefined : t;
}
