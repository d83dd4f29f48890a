// One session's side of the recorder. record() only stamps the event with its sequence number
// and time and queues it: cheap enough for a proxy's forwarding path. Sealing into the session's
// hash chain (sha256 over canonical JSON) happens later, when the recorder's delivery loop or a
// spill first needs the record's line, and always in sequence order (sealing a record seals every
// earlier unsealed record of the session first), so the chain is the same as if sealed at once.
import { GENESIS_HASH } from '@chaperone/core/records/chain';
import type { RecordEvent, SessionEndEvent, SessionStartEvent } from '@chaperone/core/records/types';
import { sealLine } from './record-line.js';

/** A recorded event waiting in the recorder's queue; `line()` seals it (once). */
export class PendingRecord {
  private sealed: string | undefined;
  constructor(
    private readonly owner: SessionRecorder,
    readonly seq: number,
    /** Epoch ms when the event was recorded: the record's `time`. */
    readonly timeMs: number,
    readonly event: RecordEvent,
  ) {}

  /** The sealed record as one JSON line (a SessionRecord). */
  line(): string {
    if (this.sealed === undefined) this.owner.sealThrough(this);
    return this.sealed as string;
  }

  /** Called by the owner, in sequence order. */
  setLine(line: string): void {
    this.sealed = line;
  }
}

export class SessionRecorder {
  readonly id: string;
  private seq = 0;
  private prevHash = GENESIS_HASH;
  private ended = false;
  /** Recorded, not yet sealed, oldest first. */
  private unsealed: PendingRecord[] = [];
  private readonly enqueue: (record: PendingRecord) => void;

  /** Records `start` as seq 0. Built by Recorder.openSession. */
  constructor(id: string, start: SessionStartEvent, enqueue: (record: PendingRecord) => void) {
    this.id = id;
    this.enqueue = enqueue;
    this.record(start);
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Queues one event as the next record of the chain; never waits, never hashes. */
  record(event: RecordEvent): void {
    const pending = new PendingRecord(this, this.seq++, Date.now(), event);
    this.unsealed.push(pending);
    this.enqueue(pending);
  }

  /** Records the end of the session; a second call is ignored, so every chain has one end. */
  end(event: SessionEndEvent): void {
    if (this.ended) return;
    this.ended = true;
    this.record(event);
  }

  /** Seals this session's records in sequence order up to and including `target`. */
  sealThrough(target: PendingRecord): void {
    while (this.unsealed.length > 0) {
      const next = this.unsealed.shift() as PendingRecord;
      const sealed = sealLine(this.id, next.seq, next.timeMs, this.prevHash, next.event);
      this.prevHash = sealed.hash;
      next.setLine(sealed.line);
      if (next === target) return;
    }
  }
}
