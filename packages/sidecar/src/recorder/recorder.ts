// The session recorder: queues sealed records in memory, delivers them to POST /v1/records in
// batches, and spools to disk whenever the control plane cannot take them. Two promises hold
// everything together: record() never waits on the network or the disk, and no record is
// dropped — a record leaves the recorder only when the control plane acknowledged it or when
// it sits in the spool (rejected/ included).
//
// Order: everything in the spool is older than everything in the memory queue, because a
// spill always moves the whole memory queue to the end of the spool, and delivery drains the
// spool first. Per-session order on the wire follows, which the server's chain check needs.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { isChaperoneError } from '@chaperone/core/errors';
import type { RecordsResult } from '@chaperone/core/api';
import type { SessionStartEvent } from '@chaperone/core/records/types';
import { CP_ERR_REJECTED, CP_ERR_UNAUTHORIZED } from '../control-plane-client.js';
import type { SidecarMetrics } from '../metrics.js';
import { SessionRecorder } from './session-recorder.js';
import type { PendingRecord } from './session-recorder.js';
import { Spool } from './spool.js';
import type { SpoolSegment } from './spool.js';

/** Where batches go: ControlPlaneClient.sendRecords fits. */
export interface RecordsSink {
  sendRecords(grant: string, batchJson: string, signal?: AbortSignal): Promise<RecordsResult>;
}

export interface RecorderLimits {
  maxBatchRecords: number;
  maxBatchBytes: number;
  flushIntervalMs: number;
  /** Records held in memory before they are spilled to the spool. */
  maxQueue: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  segmentBytes: number;
}

export const DEFAULT_LIMITS: RecorderLimits = {
  // Bigger batches: fewer requests (JSON, HTTP, a store transaction) per record on both sides;
  // 4 MiB stays well under the control plane's 8 MiB body limit.
  maxBatchRecords: 2_000,
  maxBatchBytes: 4 * 1024 * 1024,
  flushIntervalMs: 250,
  maxQueue: 10_000,
  backoffBaseMs: 100,
  backoffMaxMs: 5_000,
  segmentBytes: 4 * 1024 * 1024,
};

export interface RecorderOptions {
  sink: RecordsSink;
  /** The current bearer grant; called for every batch so renewal is transparent. */
  grant: () => string;
  /** Called on 401 to get a fresh grant (re-exchange) before the batch is tried again. */
  refreshGrant?: () => Promise<void>;
  spoolDir: string;
  metrics?: SidecarMetrics;
  logger?: Logger;
  limits?: Partial<RecorderLimits>;
}

type SendOutcome =
  | { kind: 'ok'; result: RecordsResult }
  | { kind: 'rejected'; status: unknown; serverCode: unknown }
  | { kind: 'unauthorized' }
  | { kind: 'unreachable'; message: string };

type Step = 'progress' | 'idle' | 'failed';

/** Records sealed per background slice (~5 µs each): well under a millisecond of event loop. */
const SEAL_SLICE = 64;

export class Recorder {
  private readonly opts: RecorderOptions;
  private readonly limits: RecorderLimits;
  private readonly spool: Spool;
  private readonly log: Logger;
  /** Recorded, not yet delivered or spooled; sealed lazily, front to back (session-recorder.ts). */
  private readonly queue: PendingRecord[] = [];
  /** Bumped by every spill; a batch sent from memory is dropped from the queue only if unchanged. */
  private generation = 0;
  /** Queue index up to which records are known sealed; a hint only (line() is idempotent). */
  private sealCursor = 0;
  private sealScheduled = false;
  private sending = false;
  private current: { segment: SpoolSegment; index: number } | undefined;
  private failures = 0;
  private stopping = false;
  private closed = false;
  private readonly inflight = new AbortController();
  private wake: (() => void) | undefined;
  private flushWaiters: (() => void)[] = [];
  private loopDone: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;
  private sentCount = 0;
  private rejectedCount = 0;

  private constructor(opts: RecorderOptions, spool: Spool) {
    this.opts = opts;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.spool = spool;
    this.log = opts.logger ?? pino({ level: 'silent' });
    opts.metrics?.bindRecorder({
      queued: () => this.queue.length,
      spooled: () => this.spool.pending,
      oldestUndeliveredMs: () => this.oldestUndeliveredMs(),
    });
  }

  /** Opens the spool (picking up what a previous run left) and starts delivering. */
  static async open(opts: RecorderOptions): Promise<Recorder> {
    const limits = { ...DEFAULT_LIMITS, ...opts.limits };
    const spool = await Spool.open(opts.spoolDir, { segmentBytes: limits.segmentBytes });
    const recorder = new Recorder(opts, spool);
    if (spool.pending > 0) recorder.log.info({ records: spool.pending, dir: opts.spoolDir }, 'delivering records spooled by an earlier run');
    recorder.loopDone = recorder.loop();
    return recorder;
  }

  openSession(start: SessionStartEvent, id: string = randomUUID()): SessionRecorder {
    return new SessionRecorder(id, start, (r) => this.enqueue(r));
  }

  stats(): { queued: number; spooled: number; sent: number; rejected: number } {
    return { queued: this.queue.length, spooled: this.spool.pending, sent: this.sentCount, rejected: this.rejectedCount };
  }

  /** Waits until every record so far is acknowledged; false when `timeoutMs` passed first. */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.drained()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.flushWaiters = this.flushWaiters.filter((w) => w !== waiter);
        resolve(ok);
      };
      const waiter = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.flushWaiters.push(waiter);
      this.wake?.();
    });
  }

  /** Delivers what it can within `timeoutMs`, then spools the rest and stops. */
  close(timeoutMs = 5_000): Promise<void> {
    this.closing ??= this.shutdown(timeoutMs);
    return this.closing;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    await this.flush(timeoutMs);
    this.stopping = true;
    this.inflight.abort();
    this.wake?.();
    await this.loopDone;
    await this.spill();
    await this.spool.close();
    this.closed = true;
    const left = this.spool.pending;
    if (left > 0) this.log.warn({ records: left, dir: this.spool.dir }, 'recorder closed with records in the spool; the next start delivers them');
  }

  private enqueue(record: PendingRecord): void {
    if (this.closed) {
      // Nothing runs after close any more: write it down now rather than lose it.
      this.spool.appendSync([record.line()]);
      return;
    }
    this.queue.push(record);
    if (!this.sealScheduled) { this.sealScheduled = true; setImmediate(this.sealSome); }
    const n = this.queue.length;
    if (n > this.limits.maxQueue) void this.spill();
    else if (n === this.limits.maxBatchRecords && this.failures === 0) this.wake?.();
  }

  private drained(): boolean {
    return this.queue.length === 0 && this.spool.pending === 0 && !this.sending;
  }

  private oldestUndeliveredMs(): number | undefined {
    const spooled = this.spool.oldestTimeMs();
    if (spooled !== undefined) return spooled;
    const first = this.queue[0];
    return first ? first.timeMs : undefined;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      let step: Step;
      try {
        step = await this.step();
      } catch (err) {
        // A disk error (spool full, permissions): keep the records in memory and try again.
        this.log.error({ err }, 'record delivery step failed');
        step = 'failed';
      }
      if (this.drained()) for (const w of [...this.flushWaiters]) w();
      if (this.stopping) break;
      if (step === 'failed') {
        this.failures++;
        await this.backoff();
      } else if (step === 'idle' || (this.queue.length < this.limits.maxBatchRecords && this.flushWaiters.length === 0 && this.spool.pending === 0)) {
        await this.sleep(this.limits.flushIntervalMs);
      }
    }
  }

  private async step(): Promise<Step> {
    if (this.spool.pending > 0) return this.stepFromSpool();
    if (this.queue.length > 0) return this.stepFromMemory();
    return 'idle';
  }

  private async stepFromSpool(): Promise<Step> {
    if (!this.current) {
      const segment = await this.spool.next();
      if (!segment) return 'idle';
      this.current = { segment, index: 0 };
    }
    const { segment, index } = this.current;
    const lines = this.takeLines(segment.lines.length, index, (i) => segment.lines[i] ?? '');
    const outcome = lines.length > 0 ? await this.send(lines) : { kind: 'ok' as const, result: { accepted: 0, duplicates: 0, broken: [] } };
    switch (outcome.kind) {
      case 'ok':
        this.countSent(lines.length);
        this.current.index += lines.length;
        if (this.current.index >= segment.lines.length) {
          this.current = undefined;
          if (segment.invalid > 0) {
            const file = await this.spool.reject(segment);
            this.log.error({ file, invalidLines: segment.invalid }, 'spool segment had unreadable lines; kept in rejected/');
          } else {
            await this.spool.remove(segment);
          }
        }
        return 'progress';
      case 'rejected': {
        this.current = undefined;
        const file = await this.spool.reject(segment);
        this.countRejected(segment.lines.length - index, outcome, file, lines);
        return 'progress';
      }
      case 'unauthorized':
      case 'unreachable':
        return 'failed';
    }
  }

  private async stepFromMemory(): Promise<Step> {
    const generation = this.generation;
    const queue = this.queue;
    const lines = this.takeLines(queue.length, 0, (i) => queue[i]!.line());
    const outcome = await this.send(lines);
    const unchanged = generation === this.generation;
    switch (outcome.kind) {
      case 'ok':
        // If a spill moved these to the spool meanwhile, they go again from there: the server
        // counts them as duplicates, and they count as sent then.
        if (unchanged) {
          this.dropFront(lines.length);
          this.countSent(lines.length);
        }
        return 'progress';
      case 'rejected': {
        if (unchanged) this.dropFront(lines.length);
        const file = unchanged ? await this.spool.rejectLines(lines) : '(spooled meanwhile)';
        this.countRejected(lines.length, outcome, file, lines);
        return 'progress';
      }
      case 'unauthorized':
      case 'unreachable':
        return 'failed';
    }
  }

  /**
   * The lines of the next batch from `index`: at most maxBatchRecords and maxBatchBytes (but
   * always one, however big). `lineAt` seals memory entries on first use.
   */
  private takeLines(length: number, index: number, lineAt: (i: number) => string): string[] {
    const out: string[] = [];
    let bytes = 16;
    for (let i = index; i < length && out.length < this.limits.maxBatchRecords; i++) {
      const line = lineAt(i);
      bytes += line.length + 1;
      if (out.length > 0 && bytes > this.limits.maxBatchBytes) break;
      out.push(line);
    }
    return out;
  }

  private async send(lines: readonly string[]): Promise<SendOutcome> {
    this.sending = true;
    try {
      for (let attempt = 0; ; attempt++) {
        const outcome = await this.sendOnce(lines);
        if (outcome.kind !== 'unauthorized' || attempt > 0 || !this.opts.refreshGrant) {
          if (outcome.kind === 'ok') this.failures = 0;
          return outcome;
        }
        try {
          await this.opts.refreshGrant();
        } catch (err) {
          this.log.warn({ err }, 'grant refresh after 401 failed');
          return outcome;
        }
      }
    } finally {
      this.sending = false;
    }
  }

  private async sendOnce(lines: readonly string[]): Promise<SendOutcome> {
    const body = `{"records":[${lines.join(',')}]}`;
    try {
      const result = await this.opts.sink.sendRecords(this.opts.grant(), body, this.inflight.signal);
      if (result.broken.length > 0) this.log.warn({ broken: result.broken }, 'control plane reports broken session chains');
      return { kind: 'ok', result };
    } catch (err) {
      if (isChaperoneError(err, CP_ERR_UNAUTHORIZED)) return { kind: 'unauthorized' };
      if (isChaperoneError(err, CP_ERR_REJECTED)) return { kind: 'rejected', status: err.details?.status, serverCode: err.details?.serverCode };
      const message = err instanceof Error ? err.message : String(err);
      if (this.failures === 0) this.log.warn({ err: message }, 'control plane unreachable; spooling session records');
      return { kind: 'unreachable', message };
    }
  }

  /** Moves the whole memory queue to the end of the spool. */
  private async spill(): Promise<void> {
    if (this.queue.length === 0) return;
    const entries = this.queue.splice(0);
    this.sealCursor = 0;
    this.generation++;
    const lines = entries.map((e) => e.line());
    try {
      await this.spool.append(lines);
    } catch (err) {
      // The disk refused: keep them in memory, ahead of anything newer.
      this.queue.unshift(...entries);
      this.log.error({ err, records: entries.length }, 'could not spool session records; keeping them in memory');
    }
  }

  /** Waits out the backoff, spooling whatever arrives meanwhile so a crash loses nothing. */
  private async backoff(): Promise<void> {
    const ceiling = Math.min(this.limits.backoffMaxMs, this.limits.backoffBaseMs * 2 ** Math.min(this.failures - 1, 20));
    let remaining = ceiling / 2 + Math.random() * (ceiling / 2);
    await this.spill();
    while (remaining > 0 && !this.stopping) {
      const slice = Math.min(remaining, this.limits.flushIntervalMs);
      await this.sleep(slice, false);
      remaining -= slice;
      await this.spill();
    }
  }

  /** Sleeps `ms`, or less when woken (a full batch, a flush, close) if `wakeable`. */
  private sleep(ms: number, wakeable = true): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wake === wake) this.wake = undefined;
        resolve();
      };
      // Close must always end a sleep; other wake-ups only a wakeable one.
      const wake = wakeable ? done : () => { if (this.stopping) done(); };
      const timer = setTimeout(done, ms);
      this.wake = wake;
    });
  }

  /**
   * Seals queued records a slice at a time in the check phase, between I/O callbacks: the cost
   * stays off the forwarding path and a spill or a batch rarely has to seal many at once.
   */
  private readonly sealSome = (): void => {
    const end = Math.min(this.queue.length, this.sealCursor + SEAL_SLICE);
    try {
      for (let i = this.sealCursor; i < end; i++) this.queue[i]!.line();
    } catch (err) {
      // Left to the delivery loop, which reports a failing step; never crash the proxy here.
      this.log.error({ err }, 'sealing a record failed');
    }
    this.sealCursor = end;
    this.sealScheduled = end < this.queue.length;
    if (this.sealScheduled) setImmediate(this.sealSome);
  };

  private dropFront(n: number): void {
    this.queue.splice(0, n);
    this.sealCursor = Math.max(0, this.sealCursor - n);
  }

  private countSent(n: number): void {
    this.sentCount += n;
    this.opts.metrics?.recordsSent.inc(n);
  }

  private countRejected(n: number, outcome: { status: unknown; serverCode: unknown }, file: string, lines: readonly string[]): void {
    this.rejectedCount += n;
    this.opts.metrics?.recordsRejected.inc(n);
    // Sessions and sequence numbers only: statement texts stay out of logs.
    const sample = lines.slice(0, 20).map((l) => /^\{"session":"([^"]*)","seq":(\d+)/.exec(l)).filter((m) => m !== null).map((m) => `${m[1]}#${m[2]}`);
    this.log.error({ status: outcome.status, serverCode: outcome.serverCode, records: n, file, sample }, 'control plane refused session records; kept in the spool rejected/ folder');
  }
}
