// Ingestion of session-record batches: idempotent by (session, seq), chain verified against
// what is stored, problems recorded on the session and reported — records are always kept.
import type { RecordsResult } from '@chaperone/core/api';
import { verifyChain } from '@chaperone/core/records/chain';
import type { Identity, SessionRecord, SessionStartEvent } from '@chaperone/core/records/types';
import { cpError } from '../errors.js';
import { sameIdentity } from '../identity/verifier.js';
import type { SessionTx, SessionUpdate, Store } from '../store/store.js';

export type Broken = RecordsResult['broken'][number];

/**
 * Stores a batch sent under `owner`'s grant. Sessions are handled one at a time, each in its own
 * transaction under the session's row lock; a session owned by another identity is refused
 * (RECORDS_ERR_FORBIDDEN) — sessions earlier in the batch stay stored, which is safe because a
 * retried batch only meets duplicates.
 */
export async function ingestBatch(store: Store, owner: Identity, records: readonly SessionRecord[]): Promise<RecordsResult> {
  const bySession = new Map<string, SessionRecord[]>();
  for (const r of records) {
    if (r.event.type === 'session.start' && !wellFormedStart(r.event)) {
      throw cpError('API_ERR_VALIDATION', `record ${r.session}#${r.seq}: session.start needs protocol, connection and identity {namespace, serviceAccount}`);
    }
    if (r.event.type === 'session.start' && !sameIdentity(r.event.identity, owner)) {
      throw cpError('RECORDS_ERR_FORBIDDEN', `session ${r.session} was started by another identity than this grant's`);
    }
    const list = bySession.get(r.session) ?? [];
    list.push(r);
    bySession.set(r.session, list);
  }
  const result: RecordsResult = { accepted: 0, duplicates: 0, broken: [] };
  for (const [id, list] of bySession) {
    list.sort((a, b) => a.seq - b.seq);
    const startedAt = earliest(list);
    const one = await store.withSession(id, { owner, startedAt }, (tx) => ingestSession(tx, owner, list));
    result.accepted += one.accepted;
    result.duplicates += one.duplicates;
    result.broken.push(...one.broken);
  }
  return result;
}

async function ingestSession(tx: SessionTx, owner: Identity, sorted: SessionRecord[]): Promise<RecordsResult> {
  if (!sameIdentity(tx.session.identity, owner)) {
    throw cpError('RECORDS_ERR_FORBIDDEN', `session ${tx.session.id} belongs to another identity than this grant's`);
  }
  const broken: Broken[] = [];
  let duplicates = 0;
  // Duplicates: already stored, or twice in this batch. Same hash is a harmless retry.
  const stored = await tx.recordsAt(sorted.map((r) => r.seq));
  const fresh: SessionRecord[] = [];
  for (const r of sorted) {
    const seen = stored.get(r.seq) ?? fresh.find((f) => f.seq === r.seq);
    if (!seen) fresh.push(r);
    else if (seen.hash === r.hash) duplicates++;
    else broken.push({ session: r.session, seq: r.seq, reason: 'duplicate-hash-mismatch' });
  }
  // Contiguous runs are verified against the stored record just before them, then inserted, so
  // the next run sees them.
  let accepted = 0;
  for (const run of contiguousRuns(fresh)) {
    const first = run[0]!;
    const last = run[run.length - 1]!;
    const previous = first.seq === 0 ? undefined : await tx.recordBefore(first.seq);
    const check = verifyChain(run, previous);
    if (!check.ok) broken.push({ session: first.session, seq: check.seq, reason: check.reason });
    // A run that fills a gap must also link to the record stored after it.
    const next = (await tx.recordsAt([last.seq + 1])).get(last.seq + 1);
    if (next && next.prevHash !== last.hash) broken.push({ session: first.session, seq: next.seq, reason: 'prev-hash-mismatch' });
    for (const r of run) if (await tx.insertRecord(r)) accepted++;
  }
  await tx.update(summarise(fresh, broken));
  return { accepted, duplicates, broken };
}

function summarise(fresh: readonly SessionRecord[], broken: readonly Broken[]): SessionUpdate {
  const change: SessionUpdate = { addRecords: fresh.length, addStatements: 0, addDenied: 0 };
  for (const r of fresh) {
    const e = r.event;
    if (e.type === 'session.start') {
      change.protocol = e.protocol;
      change.connection = e.connection;
      change.startedAt = new Date(r.time);
    } else if (e.type === 'session.end') {
      change.endedAt = new Date(r.time);
    } else if (e.type === 'statement') {
      change.addStatements++;
      if (e.decision?.action === 'deny') change.addDenied++;
    }
  }
  const top = fresh.at(-1);
  if (top) change.head = { seq: top.seq, hash: top.hash };
  const firstBroken = broken[0];
  if (firstBroken) change.chainError = `${firstBroken.reason} at seq ${firstBroken.seq}`;
  return change;
}

/** The JSON schema checks only the event's type; these fields feed the session row. */
function wellFormedStart(e: Partial<SessionStartEvent>): boolean {
  const id = e.identity as Partial<Identity> | undefined;
  return typeof e.protocol === 'string' && typeof e.connection === 'string' && typeof id === 'object' && id !== null
    && typeof id.namespace === 'string' && typeof id.serviceAccount === 'string';
}

function contiguousRuns(sorted: readonly SessionRecord[]): SessionRecord[][] {
  const runs: SessionRecord[][] = [];
  for (const r of sorted) {
    const current = runs.at(-1);
    const tail = current?.at(-1);
    if (current && tail && tail.seq + 1 === r.seq) current.push(r);
    else runs.push([r]);
  }
  return runs;
}

function earliest(records: readonly SessionRecord[]): Date {
  let min = Number.POSITIVE_INFINITY;
  for (const r of records) {
    const t = Date.parse(r.time);
    if (Number.isFinite(t) && t < min) min = t;
  }
  return Number.isFinite(min) ? new Date(min) : new Date();
}
