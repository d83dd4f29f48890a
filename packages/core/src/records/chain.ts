// Hash chaining of session records: canonical JSON, sealing and verification.
import { hash } from 'node:crypto';
import { canonicalRecordJson } from './canonical.js';
import type { RecordEvent, SessionRecord } from './types.js';

export { canonicalJson } from './canonical.js';

export const GENESIS_HASH = '0'.repeat(64);

/** sha256 (hex) over the canonical JSON of every field but the hash. */
export function hashRecord(record: Omit<SessionRecord, 'hash'>): string {
  return hashCanonical(canonicalRecordJson(record));
}

/** A record's hash from its canonicalRecordJson, for callers that keep that text for more. */
export function hashCanonical(json: string): string {
  return hash('sha256', json, 'hex');
}

/** Builds the next record of a session's chain. */
export function sealRecord(session: string, seq: number, prevHash: string, event: RecordEvent, time = new Date()): SessionRecord {
  const unsealed = { session, seq, time: time.toISOString(), prevHash, event };
  return { ...unsealed, hash: hashRecord(unsealed) };
}

export type ChainCheck =
  | { ok: true }
  | { ok: false; seq: number; reason: 'hash-mismatch' | 'prev-hash-mismatch' | 'gap' };

/** What the chain checks read of a record: ingestion keeps records in other shapes than SessionRecord. */
export type ChainLink = Pick<SessionRecord, 'seq' | 'prevHash' | 'hash'>;

/**
 * Verifies consecutive records of one session. `previous` is the last stored record before
 * `records[0]` (undefined when records[0] must be seq 0). `hashOf` is hashRecord, or the same
 * computed from canonical JSON the caller already holds.
 */
export function verifyChain(records: readonly SessionRecord[], previous?: Pick<SessionRecord, 'seq' | 'hash'>): ChainCheck;
export function verifyChain<R extends ChainLink>(records: readonly R[], previous: Pick<SessionRecord, 'seq' | 'hash'> | undefined, hashOf: (r: R) => string): ChainCheck;
export function verifyChain(
  records: readonly ChainLink[], previous?: Pick<SessionRecord, 'seq' | 'hash'>, hashOf: (r: ChainLink) => string = (r) => hashRecord(r as SessionRecord),
): ChainCheck {
  let expectedSeq = previous ? previous.seq + 1 : 0;
  let expectedPrev = previous ? previous.hash : GENESIS_HASH;
  for (const r of records) {
    if (r.seq !== expectedSeq) return { ok: false, seq: expectedSeq, reason: 'gap' };
    const hash = r.hash;
    if (r.prevHash !== expectedPrev) return { ok: false, seq: r.seq, reason: 'prev-hash-mismatch' };
    if (hashOf(r) !== hash) return { ok: false, seq: r.seq, reason: 'hash-mismatch' };
    expectedSeq = r.seq + 1;
    expectedPrev = hash;
  }
  return { ok: true };
}
