// One session's side of the recorder: seals each event into the session's hash chain and
// hands it on. Synchronous and cheap, so a proxy can call it on its hot path.
import { GENESIS_HASH, sealRecord } from '@chaperone/core/records/chain';
import type { RecordEvent, SessionEndEvent, SessionRecord, SessionStartEvent } from '@chaperone/core/records/types';

export class SessionRecorder {
  readonly id: string;
  private seq = 0;
  private prevHash = GENESIS_HASH;
  private ended = false;
  private readonly enqueue: (record: SessionRecord) => void;

  /** Records `start` as seq 0. Built by Recorder.openSession. */
  constructor(id: string, start: SessionStartEvent, enqueue: (record: SessionRecord) => void) {
    this.id = id;
    this.enqueue = enqueue;
    this.record(start);
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Seals one event as the next record of the chain and queues it; never waits. */
  record(event: RecordEvent): void {
    const sealed = sealRecord(this.id, this.seq, this.prevHash, event);
    this.seq++;
    this.prevHash = sealed.hash;
    this.enqueue(sealed);
  }

  /** Records the end of the session; a second call is ignored, so every chain has one end. */
  end(event: SessionEndEvent): void {
    if (this.ended) return;
    this.ended = true;
    this.record(event);
  }
}
