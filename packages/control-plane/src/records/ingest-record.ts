// What ingestion keeps of a session record once its body is parsed: the chain fields, a summary
// of its event and its stored JSON. Batches wait on the store's transaction for milliseconds, so
// whatever a record holds across those awaits is promoted to V8's old space and freed only by a
// full collection; parsed events are therefore dropped at once and the hashes read from the JSON.
import { canonicalRecordJson } from '@chaperone/core/records/canonical';
import type { Identity, SessionRecord } from '@chaperone/core/records/types';
import type { RecordKey } from '../store/store.js';

/** `,"hash":"<64 hex>"}`: what follows a record's canonical JSON (minus its `}`) in its stored form. */
export const HASH_TAIL_LENGTH = 9 + 64 + 2;

/** What ingestion needs of an event: the session row's fields, counters and the ownership check. */
export type EventSummary =
  | { type: 'session.start'; protocol: string; connection: string; identity: Identity }
  /** A session.start without protocol, connection or identity {namespace, serviceAccount} strings. */
  | { type: 'malformed-start' }
  | { type: 'session.end' }
  | { type: 'statement'; denied: boolean }
  | { type: 'other' };

// Shared by every record of their kind: a summary is never changed, and statements are most records.
const ALLOWED: EventSummary = Object.freeze({ type: 'statement', denied: false });
const DENIED: EventSummary = Object.freeze({ type: 'statement', denied: true });
const END: EventSummary = Object.freeze({ type: 'session.end' });
const OTHER: EventSummary = Object.freeze({ type: 'other' });
const MALFORMED_START: EventSummary = Object.freeze({ type: 'malformed-start' });

/** The summary of an event that passed the body's validation (an object with a string type). */
export function summariseEvent(event: Readonly<Record<string, unknown>>): EventSummary {
  switch (event.type) {
    case 'statement': {
      const d = event.decision;
      return typeof d === 'object' && d !== null && (d as { action?: unknown }).action === 'deny' ? DENIED : ALLOWED;
    }
    case 'session.end': return END;
    case 'session.start': {
      const { protocol, connection } = event;
      const id = event.identity as { namespace?: unknown; serviceAccount?: unknown } | null | undefined;
      if (typeof protocol !== 'string' || typeof connection !== 'string' || typeof id !== 'object' || id === null
        || typeof id.namespace !== 'string' || typeof id.serviceAccount !== 'string') return MALFORMED_START;
      return { type: 'session.start', protocol, connection, identity: { namespace: id.namespace, serviceAccount: id.serviceAccount } };
    }
    default: return OTHER;
  }
}

export class IngestRecord {
  /**
   * `json` is the record's stored form: its canonical JSON (core/records/canonical.ts) with the
   * hash appended as the last key, the sidecar's line format. Its hash and prevHash are read
   * from it when needed rather than held as strings of their own; `prevAt` is where the
   * prevHash's 64 hex digits start in it.
   */
  constructor(
    readonly session: string,
    readonly seq: number,
    readonly time: string,
    readonly json: string,
    private readonly prevAt: number,
    readonly event: EventSummary,
  ) {}

  /** The record is its own EncodedRecord (store/store.ts) for the insert: no wrapper object per record. */
  get record(): RecordKey {
    return this;
  }

  /** The hash the record claims (validated as 64 lowercase hex before construction). */
  get hash(): string {
    const n = this.json.length;
    return this.json.slice(n - 66, n - 2);
  }

  get prevHash(): string {
    return this.json.slice(this.prevAt, this.prevAt + 64);
  }

  /** The bytes the record's hash covers: its canonical JSON. */
  canonical(): string {
    return `${this.json.slice(0, -HASH_TAIL_LENGTH)}}`;
  }
}

/** The stored form of a record from its canonical JSON and hash. */
export function storedJson(canonical: string, hash: string): string {
  return `${canonical.slice(0, -1)},"hash":"${hash}"}`;
}

/** A record's ingestion form, its JSON encoded here (records not sent in canonical form, tests, benchmarks). */
export function toIngestRecord(r: Readonly<SessionRecord>, session: string = r.session): IngestRecord {
  const json = storedJson(canonicalRecordJson(r), r.hash);
  return new IngestRecord(session, r.seq, r.time, json, prevHashAt(json), summariseEvent(r.event as unknown as Record<string, unknown>));
}

/**
 * Where the prevHash's digits start in a stored JSON. The top-level key is the last one in the
 * text: later keys (seq, session, time, hash) cannot hold it unescaped, earlier ones are inside the event.
 */
export function prevHashAt(json: string): number {
  return json.lastIndexOf('"prevHash":"') + 12;
}
