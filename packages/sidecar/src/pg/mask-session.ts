// Masking wired into one proxy and its sessions: the proxy's Masking (its rules, catalog and
// planner) and, per session, the MaskStream between the upstream socket and the session's
// BackendStream, with the per-statement counts that go into records and the metric tallies.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { Catalog } from './catalog.js';
import type { CatalogSource } from './catalog.js';
import { MaskPlanner } from './mask-plan.js';
import type { MaskPolicy } from './mask-plan.js';
import { MaskStream } from './mask-stream.js';
import type { MaskTally } from './mask-rows.js';
import type { LineageSource } from './mask-lineage.js';
import type { ProtocolError } from './messages.js';

/** Metric tallies of masked values by rule and detector (`""` for column rules). */
export interface MaskCounters { add(rule: string, detector: string, n: number): void }

/** One proxy's masking: present only when its connection has mask rules. */
export interface Masking {
  readonly policy: MaskPolicy;
  readonly planner: MaskPlanner;
  readonly catalog: Catalog;
  readonly counters: MaskCounters | undefined;
}

export function createMasking(policy: MaskPolicy, catalog: Catalog, lineage: LineageSource, counters?: MaskCounters): Masking {
  return { policy, catalog, counters, planner: new MaskPlanner(policy, catalog, lineage.forCatalog(catalog)) };
}

export function createCatalog(source: () => CatalogSource, ttlMs?: number): Catalog {
  return new Catalog(source, ttlMs);
}

/**
 * Counts per statement, by rule and detector (`""` for column rules), taken at each statement's
 * end: the record gets the per-rule sums and the metric tallies get the per-detector numbers
 * then, so a masked value costs one map update.
 */
class SessionTally implements MaskTally {
  /** Per rule: column-rule count, and detector counts by detector. */
  private readonly cells = new Map<string, { n: number; byDetector: Map<string, number> | null }>();
  private any = false;
  constructor(private readonly counters: MaskCounters | undefined) {}
  column(rule: string, n = 1): void { this.cell(rule).n += n; }
  detector(rule: string, detector: string): void {
    const c = this.cell(rule);
    const m = (c.byDetector ??= new Map());
    m.set(detector, (m.get(detector) ?? 0) + 1);
  }
  private cell(rule: string): { n: number; byDetector: Map<string, number> | null } {
    let c = this.cells.get(rule);
    if (c === undefined) { c = { n: 0, byDetector: null }; this.cells.set(rule, c); }
    this.any = true;
    return c;
  }
  take(): Record<string, number> | undefined {
    if (!this.any) return undefined;
    this.any = false;
    const out: Record<string, number> = {};
    for (const [rule, c] of this.cells) {
      let sum = c.n;
      if (c.n > 0) this.counters?.add(rule, '', c.n);
      if (c.byDetector) for (const [detector, n] of c.byDetector) { sum += n; this.counters?.add(rule, detector, n); }
      c.n = 0; c.byDetector = null;
      if (sum > 0) out[rule] = sum;
    }
    return out;
  }
}

export interface SessionMaskingIo {
  /** The session's BackendStream push into its toClient list. */
  deliver(buf: Buffer): ProtocolError | null;
  /** The session's flush of what is queued for both sockets. */
  flush(): void;
  upstream: Socket;
  client: Socket;
  /** A protocol error found while delivering held messages after a catalog wait. */
  failed(error: ProtocolError): void;
  logger: Logger | undefined;
}

/** One session's masking stage; the session calls push/frontend/takeCounts, nothing more. */
export class SessionMasking {
  private readonly stream: MaskStream;
  private readonly tally: SessionTally;
  private deliverError: ProtocolError | null = null;
  private async = false;

  /** `masking` gives the proxy's current rules (a policy update reaches live sessions). */
  constructor(masking: () => Masking, private readonly io: SessionMaskingIo) {
    const first = masking();
    this.tally = new SessionTally(first.counters);
    this.stream = new MaskStream({
      deliver: (buf) => {
        const e = io.deliver(buf);
        if (e) this.deliverError ??= e;
      },
      pause: () => { io.upstream.pause(); },
      resume: () => {
        io.flush();
        if (this.async && this.deliverError) { io.failed(this.deliverError); return; }
        if (io.client.writableLength > 0) io.client.once('drain', () => io.upstream.resume());
        else io.upstream.resume();
      },
      maskFailed: (err) => io.logger?.warn({ err }, 'masking failed (catalog look-up or a mask); result refused'),
    }, () => masking().planner, first.catalog, this.tally);
  }

  /** Upstream bytes → masked bytes into the session's BackendStream. */
  push(chunk: Buffer): ProtocolError | null {
    this.async = false;
    const e = this.stream.push(chunk);
    this.async = true;
    return e ?? this.deliverError;
  }

  /** A frontend frame as it goes upstream. */
  frontend(frame: Buffer): void { this.stream.frontend(frame); }

  /** Values masked since the last call, by rule (for the statement that just ended). */
  takeCounts(): Record<string, number> | undefined { return this.tally.take(); }
}
