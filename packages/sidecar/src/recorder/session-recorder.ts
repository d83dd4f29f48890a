// One session's side of the recorder. Recording only numbers the event, encodes it as canonical
// JSON and appends it to the recorder's queue as bytes (record-queue.ts); hashing into the
// session's chain happens later, in queue order, so the chain is the same as if sealed at once.
import { GENESIS_HASH } from '@chaperone/core/records/chain';
import type { RecordEvent, SessionEndEvent, SessionStartEvent } from '@chaperone/core/records/types';
import { canonicalEventJson, statementEventJson } from './record-line.js';
import type { StatementParts, VerdictJson } from './record-line.js';
import type { ChainHead } from './record-queue.js';

/** Where a session's records go (Recorder's queue). */
export type RecordSink = (chain: ChainHead, seq: number, sessionJson: string, timeMs: number, eventJson: string) => void;

export class SessionRecorder {
  readonly id: string;
  private readonly idJson: string;
  private seq = 0;
  private readonly chain: ChainHead = { prevHash: GENESIS_HASH };
  private ended = false;
  private readonly sink: RecordSink;

  /** Records `start` as seq 0. Built by Recorder.openSession. */
  constructor(id: string, start: SessionStartEvent, sink: RecordSink) {
    this.id = id;
    this.idJson = JSON.stringify(id);
    this.sink = sink;
    this.record(start);
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Queues one event as the next record of the chain; never waits, never hashes. */
  record(event: RecordEvent): void {
    this.push(canonicalEventJson(event));
  }

  /**
   * The same for a statement, from its parts and its verdict's JSON (record-line.ts): the hot
   * path of the PostgreSQL proxy builds no event object.
   */
  recordStatement(verdict: VerdictJson, parts: StatementParts): void {
    this.push(statementEventJson(verdict, parts));
  }

  /** Records the end of the session; a second call is ignored, so every chain has one end. */
  end(event: SessionEndEvent): void {
    if (this.ended) return;
    this.ended = true;
    this.record(event);
  }

  private push(eventJson: string): void {
    // The JSON is built before the sequence number is taken: a failed encoding leaves no gap.
    this.sink(this.chain, this.seq++, this.idJson, Date.now(), eventJson);
  }
}
