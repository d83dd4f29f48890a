// The session recorder: queues sealed records in memory, delivers them to POST /v1/records in
// batches, and spools to disk whenever the control plane cannot take them. Two promises hold
// everything together: record() never waits on the network or the disk, and no record is
// dropped — a record leaves the recorder only when the control plane acknowledged it or when
// it sits in the spool (rejected/ included).
//
// Order: everything in the spool is older than everything in the memory queue, because a
// spill always moves the whole memory queue to the end of the spool (one spill at a time, and
// no batch goes out from memory meanwhile), and delivery drains the spool first. Per-session
// order on the wire follows, which the server's chain check needs.
//
// The memory queue holds records as bytes, not objects (record-queue.ts), sealed into their
// session's hash chain in small background slices between I/O callbacks.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { isChaperoneError } from '@chaperone/core/errors';
import type { RecordsResult } from '@chaperone/core/api';
import type { SessionStartEvent } from '@chaperone/core/records/types';
import { CP_ERR_REJECTED, CP_ERR_UNAUTHORIZED } from '../control-plane-client.js';
import type { SidecarMetrics } from '../metrics.js';
import { RecordQueue } from './record-queue.js';
import type { ChainHead } from './record-queue.js';
import { SessionRecorder } from './session-recorder.js';
import { Spool } from './spool.js';
import type { SpoolSegment } from './spool.js';

/** Where batches go: ControlPlaneClient.sendRecords fits. */
export interface RecordsSink {
  /** `batchJson`: a RecordsBatch as JSON text, or as its UTF-8 bytes. */
  sendRecords(grant: string, batchJson: string | Uint8Array, signal?: AbortSignal): Promise<RecordsResult>;
}

export interface RecorderLimits {
  maxBatchRecords: number;
  maxBatchBytes: number;
  flushIntervalMs: number;
  /** Records held in memory before they are spilled to the spool. */
  maxQueue: number;
  /** Bytes of queue memory (its chunks) held before the queue is spilled to the spool. */
  maxQueueBytes: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  segmentBytes: number;
}

export const DEFAULT_LIMITS: RecorderLimits = {
  // Bigger batches: fewer requests (JSON, HTTP, a store transaction) per record on both sides;
  // 4 MiB stays well under the control plane's 8 MiB body limit.
  // A backlog goes in bigger batches (the control plane takes up to 10 000 per request); below
  // this the loop sends whatever a flush interval gathered.
  maxBatchRecords: 5_000,
  maxBatchBytes: 4 * 1024 * 1024,
  flushIntervalMs: 250,
  // Memory, not a record count, bounds the queue: a burst of 16 busy sessions (~40 000 records of
  // pgbench statements, several seconds of a slow control plane) stays off the disk, within the
  // sidecar's memory budget.
  maxQueue: 100_000,
  maxQueueBytes: 16 * 1024 * 1024,
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

/** Records sealed per background slice (~1 µs each): well under a millisecond of event loop. */
const SEAL_SLICE = 64;
/**
 * How long a record may wait unsealed when fewer than SEAL_SLICE are: sealing then runs once per
 * window, not once per statement (a setImmediate per statement costs an event-loop turn and an
 * epoll_wait each at one client). take() and lines() seal whatever is still unsealed anyway.
 */
const SEAL_DELAY_MS = 20;

/** Records of a refused batch named in the log (sessions and sequence numbers). */
const REJECTED_SAMPLE = 20;

/** Sequence number and session at the end of a record line (record-queue.ts). */
const SESSION_SEQ = /"seq":(\d+),"session":"((?:[^"\\]|\\.)*)","time":"[^"]*","hash":"[0-9a-f]{64}"\}$/;

export class Recorder {
  private readonly opts: RecorderOptions;
  private readonly limits: RecorderLimits;
  private readonly spool: Spool;
  private readonly log: Logger;
  /** Recorded, not yet delivered or spooled; sealed lazily, front to back. */
  private readonly queue = new RecordQueue();
  /** Bumped by every spill; a batch sent from memory is dropped from the queue only if unchanged. */
  private generation = 0;
  /** The spill in progress: while it runs no batch leaves from memory and no other spill starts. */
  private spilling: Promise<void> | undefined;
  /** A slice is queued with setImmediate (a full slice is waiting). */
  private sealScheduled = false;
  /** The SEAL_DELAY_MS timer for a partial slice. */
  private sealTimer: NodeJS.Timeout | undefined;
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
    return new SessionRecorder(id, start, this.enqueue);
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
    clearTimeout(this.sealTimer);
    this.sealTimer = undefined;
    // Recorded while the spool closed: written now, like anything recorded after close.
    if (this.queue.length > 0) this.spoolSync();
    const left = this.spool.pending;
    if (left > 0) this.log.warn({ records: left, dir: this.spool.dir }, 'recorder closed with records in the spool; the next start delivers them');
  }

  private readonly enqueue = (chain: ChainHead, seq: number, sessionJson: string, timeMs: number, eventJson: string): void => {
    this.queue.append(chain, seq, sessionJson, timeMs, eventJson);
    if (this.closed) {
      // Nothing runs after close any more: write it down now rather than lose it.
      this.spoolSync();
      return;
    }
    this.scheduleSeal();
    const n = this.queue.length;
    if (this.overfull()) { if (!this.spilling) void this.spillOverflow(); }
    else if (n === this.limits.maxBatchRecords && this.failures === 0) this.wake?.();
  };

  private spoolSync(): void {
    const n = this.queue.length;
    this.spool.appendSync(this.queue.lines(n));
    this.queue.dropFront(n);
  }

  private drained(): boolean {
    return this.queue.length === 0 && this.spool.pending === 0 && !this.sending;
  }

  private oldestUndeliveredMs(): number | undefined {
    const spooled = this.spool.oldestTimeMs();
    if (spooled !== undefined) return spooled;
    return this.queue.oldestTimeMs();
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
    // A spill owns the memory queue until it is done (and then the spool holds the records).
    while (this.spilling) await this.spilling;
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
    const n = this.takeLines(segment, index);
    const outcome = n > 0 ? await this.send(segment.body(index, index + n)) : { kind: 'ok' as const, result: { accepted: 0, duplicates: 0, broken: [] } };
    switch (outcome.kind) {
      case 'ok':
        this.countSent(n);
        this.current.index += n;
        if (this.current.index >= segment.count) {
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
        const sample: string[] = [];
        for (let i = index; i < index + n && sample.length < REJECTED_SAMPLE; i++) sample.push(segment.line(i));
        this.countRejected(segment.count - index, outcome, file, sample);
        return 'progress';
      }
      case 'unauthorized':
      case 'unreachable':
        return 'failed';
    }
  }

  private async stepFromMemory(): Promise<Step> {
    const generation = this.generation;
    const batch = this.queue.take(this.limits.maxBatchRecords, this.limits.maxBatchBytes);
    const outcome = await this.send(batch.body);
    const unchanged = generation === this.generation;
    switch (outcome.kind) {
      case 'ok':
        // If a spill moved these to the spool meanwhile, they go again from there: the server
        // counts them as duplicates, and they count as sent then.
        if (unchanged) {
          this.queue.dropFront(batch.count);
          this.countSent(batch.count);
        }
        return 'progress';
      case 'rejected': {
        // Lines only on this rare path; the batch went out as one body.
        const lines = unchanged ? this.queue.lines(batch.count) : [];
        if (unchanged) this.queue.dropFront(batch.count);
        const file = unchanged ? await this.spool.rejectLines(lines) : '(spooled meanwhile)';
        this.countRejected(batch.count, outcome, file, lines);
        return 'progress';
      }
      case 'unauthorized':
      case 'unreachable':
        return 'failed';
    }
  }

  /**
   * How many spooled lines from `index` make the next batch: at most maxBatchRecords and
   * maxBatchBytes (but always one, however big).
   */
  private takeLines(segment: SpoolSegment, index: number): number {
    let n = 0;
    let bytes = 16;
    for (let i = index; i < segment.count && n < this.limits.maxBatchRecords; i++) {
      bytes += segment.lineBytes(i) + 1;
      if (n > 0 && bytes > this.limits.maxBatchBytes) break;
      n++;
    }
    return n;
  }

  private async send(body: string | Uint8Array): Promise<SendOutcome> {
    this.sending = true;
    try {
      for (let attempt = 0; ; attempt++) {
        const outcome = await this.sendOnce(body);
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

  private async sendOnce(body: string | Uint8Array): Promise<SendOutcome> {
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

  private overfull(): boolean {
    return this.queue.length > this.limits.maxQueue || this.queue.heldBytes > this.limits.maxQueueBytes;
  }

  /** Spills until the memory queue is within its bounds again (records keep coming meanwhile). */
  private async spillOverflow(): Promise<void> {
    while (await this.spill() && this.overfull());
  }

  /** Moves the whole memory queue to the end of the spool, after any spill in progress; false if the disk refused. */
  private async spill(): Promise<boolean> {
    while (this.spilling) await this.spilling;
    if (this.queue.length === 0) return true;
    const run = this.spillNow();
    this.spilling = run.then(() => undefined);
    try {
      return await run;
    } finally {
      this.spilling = undefined;
    }
  }

  private async spillNow(): Promise<boolean> {
    const n = this.queue.length;
    // A batch from memory in flight now is not dropped when it returns: its records go again
    // from the spool (the server counts them as duplicates).
    this.generation++;
    let left = n;
    try {
      // About a segment at a time: the copy stays small and the queue's chunks free up as it goes
      // (a spill of the whole queue at once would hold it twice). Front first, so whatever is
      // left in memory after a failure is still newer than everything in the spool.
      while (left > 0) {
        const k = this.queue.frontCount(left, this.limits.segmentBytes);
        await this.spool.appendBytes(this.queue.spoolBytes(k), k);
        this.queue.dropFront(k);
        left -= k;
      }
      return true;
    } catch (err) {
      // The disk refused: they stay in memory, ahead of anything newer.
      this.log.error({ err, records: left }, 'could not spool session records; keeping them in memory');
      return false;
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
  private scheduleSeal(): void {
    if (this.sealScheduled) return;
    if (this.queue.unsealed >= SEAL_SLICE) {
      this.sealScheduled = true;
      clearTimeout(this.sealTimer);
      this.sealTimer = undefined;
      setImmediate(this.sealSome);
    } else if (this.sealTimer === undefined) {
      this.sealTimer = setTimeout(this.sealSome, SEAL_DELAY_MS);
      // The delivery loop keeps the process alive while records wait; this timer need not.
      this.sealTimer.unref();
    }
  }

  private readonly sealSome = (): void => {
    this.sealTimer = undefined;
    let more = false;
    try {
      more = this.queue.sealSome(SEAL_SLICE);
    } catch (err) {
      // Left to the delivery loop, which reports a failing step; never crash the proxy here.
      this.log.error({ err }, 'sealing a record failed');
    }
    this.sealScheduled = more;
    if (more) setImmediate(this.sealSome);
  };

  private countSent(n: number): void {
    this.sentCount += n;
    this.opts.metrics?.recordsSent.inc(n);
  }

  private countRejected(n: number, outcome: { status: unknown; serverCode: unknown }, file: string, lines: readonly string[]): void {
    this.rejectedCount += n;
    this.opts.metrics?.recordsRejected.inc(n);
    // Sessions and sequence numbers only: statement texts stay out of logs.
    const sample = lines.slice(0, REJECTED_SAMPLE).map((l) => SESSION_SEQ.exec(l)).filter((m) => m !== null).map((m) => `${m[2]}#${m[1]}`);
    this.log.error({ status: outcome.status, serverCode: outcome.serverCode, records: n, file, sample }, 'control plane refused session records; kept in the spool rejected/ folder');
  }
}
