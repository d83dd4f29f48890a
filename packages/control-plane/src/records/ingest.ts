// Ingestion of session-record batches: idempotent by (session, seq), chain verified against
// what is stored, problems recorded on the session and reported — records are always kept.
import type { RecordsResult } from '@chaperone/core/api';
import { hashCanonical, verifyChain, type ChainCheck } from '@chaperone/core/records/chain';
import type { Identity, SessionRecord } from '@chaperone/core/records/types';
import { cpError } from '../errors.js';
import { sameIdentity } from '../identity/verifier.js';
import type { BatchTx, EncodedRecord, RecordKey, SessionRow, SessionUpdate, Store, StoredLink } from '../store/store.js';
import { isIsoInstant } from './batch-shape.js';
import { toIngestRecord, type IngestRecord } from './ingest-record.js';

export type Broken = RecordsResult['broken'][number];

/**
 * Stores a batch sent under `owner`'s grant, all sessions in one transaction under their row
 * locks, in a handful of statements whatever the batch size: lock the sessions, insert every
 * record (ON CONFLICT DO NOTHING), look up the stored neighbours the chain checks cannot take
 * from the batch or the session row (none when a batch continues where the last one ended),
 * update each session once. A session owned by another identity refuses the whole batch
 * (RECORDS_ERR_FORBIDDEN) and nothing of it is stored.
 */
export async function ingestRecords(store: Store, owner: Identity, records: readonly IngestRecord[]): Promise<RecordsResult> {
  const bySession = new Map<string, IngestRecord[]>();
  for (const r of records) {
    if (r.event.type === 'malformed-start') {
      throw cpError('API_ERR_VALIDATION', `record ${r.session}#${r.seq}: session.start needs protocol, connection and identity {namespace, serviceAccount}`);
    }
    if (r.event.type === 'session.start' && !sameIdentity(r.event.identity, owner)) {
      throw cpError('RECORDS_ERR_FORBIDDEN', `session ${r.session} was started by another identity than this grant's`);
    }
    const list = bySession.get(r.session);
    if (list) list.push(r);
    else bySession.set(r.session, [r]);
  }
  // Stable sort: repeats of a seq keep their batch order, the first one is the candidate.
  for (const list of bySession.values()) list.sort((a, b) => a.seq - b.seq);
  const init = [...bySession].map(([id, list]) => ({ id, startedAt: earliest(list) }));
  if (init.length === 0) return { accepted: 0, duplicates: 0, broken: [] };
  return store.withSessions(owner, init, (tx) => ingestLocked(tx, owner, bySession));
}

/** ingestRecords for whole records, each encoded here (tests, benchmarks, any caller without a body). */
export async function ingestBatch(store: Store, owner: Identity, records: readonly SessionRecord[]): Promise<RecordsResult> {
  return ingestRecords(store, owner, records.map((r) => toIngestRecord(r)));
}

async function ingestLocked(tx: BatchTx, owner: Identity, bySession: ReadonlyMap<string, IngestRecord[]>): Promise<RecordsResult> {
  const plans: SessionPlan[] = [];
  for (const [id, sorted] of bySession) {
    const row = tx.sessions.get(id);
    if (!row) throw cpError('STORE_ERR_UNAVAILABLE', `session ${id} is not locked by its batch`);
    if (!sameIdentity(row.identity, owner)) {
      throw cpError('RECORDS_ERR_FORBIDDEN', `session ${id} belongs to another identity than this grant's`);
    }
    plans.push({ row, sorted, candidates: firstOfEachSeq(sorted) });
  }
  // Each record arrives with its stored JSON (and is its own EncodedRecord); its hash is checked
  // over the canonical JSON inside it.
  const encoded: EncodedRecord[] = [];
  for (const p of plans) for (const r of p.candidates) encoded.push(r);
  const inserted = await tx.insertRecords(encoded);
  const probes = new Probes();
  const checks = plans.map((p) => planChecks(p, inserted.get(p.row.id) ?? new Set(), probes));
  const stored = await tx.floorRecords(probes.keys);
  const result: RecordsResult = { accepted: 0, duplicates: 0, broken: [] };
  const changes = new Map<string, SessionUpdate>();
  for (const c of checks) {
    const broken = runChecks(c, stored, result);
    result.accepted += c.fresh.length;
    result.broken.push(...broken);
    if (c.fresh.length > 0 || broken.length > 0) changes.set(c.session, summarise(c.fresh, broken));
  }
  await tx.updateSessions(changes);
  return result;
}

interface SessionPlan {
  row: SessionRow;
  /** The session's records in the batch, by seq. */
  sorted: readonly IngestRecord[];
  /** The first record of each seq, what the batch inserts. */
  candidates: IngestRecord[];
}

/** Stored-record lookups gathered from all sessions, answered by one floorRecords call. */
class Probes {
  readonly keys: RecordKey[] = [];
  /** The index of the answer to "stored record of `session` with the greatest seq <= `seq`". */
  add(session: string, seq: number): number {
    return this.keys.push({ session, seq }) - 1;
  }
}

/** Where a run's neighbour comes from: nowhere, the batch or session row, or a probe's answer. */
type Neighbour = { from: 'none' } | { from: 'known'; link: Pick<SessionRecord, 'seq' | 'hash'> } | { from: 'probe'; index: number };

interface SessionChecks {
  session: string;
  sorted: readonly IngestRecord[];
  fresh: IngestRecord[];
  /** Candidates already stored, with the probe that reads the stored one. */
  conflicts: Map<number, number>;
  runs: { records: IngestRecord[]; previous: Neighbour; next: Neighbour }[];
}

/**
 * Decides what each check compares against. The session row's head (lastSeq/lastHash) is the
 * stored record with the greatest seq, so nothing is stored above it: a run starting past it
 * links to it or to the batch's run before, and has no stored successor. Only runs that fill
 * gaps (and stored duplicates) need the database.
 */
function planChecks(plan: SessionPlan, inserted: ReadonlySet<number>, probes: Probes): SessionChecks {
  const id = plan.row.id;
  const top = plan.row.lastSeq ?? -1;
  const head = plan.row.lastSeq === null || plan.row.lastHash === null ? undefined : { seq: plan.row.lastSeq, hash: plan.row.lastHash };
  const fresh: IngestRecord[] = [];
  const conflicts = new Map<number, number>();
  for (const r of plan.candidates) {
    if (inserted.has(r.seq)) fresh.push(r);
    else conflicts.set(r.seq, probes.add(id, r.seq));
  }
  const runs: SessionChecks['runs'] = [];
  let before: IngestRecord | undefined;
  for (const run of contiguousRuns(fresh)) {
    const first = run[0]!;
    const last = run[run.length - 1]!;
    let previous: Neighbour = { from: 'none' };
    if (first.seq > 0 && first.seq <= top) previous = { from: 'probe', index: probes.add(id, first.seq - 1) };
    else if (first.seq > 0) {
      const link = before && (!head || before.seq > head.seq) ? before : head;
      if (link) previous = { from: 'known', link };
    }
    const next: Neighbour = last.seq + 1 <= top ? { from: 'probe', index: probes.add(id, last.seq + 1) } : { from: 'none' };
    runs.push({ records: run, previous, next });
    before = last;
  }
  return { session: id, sorted: plan.sorted, fresh, conflicts, runs };
}

/** Duplicates first (counted into `totals`), then each run's chain, as broken entries in order. */
function runChecks(c: SessionChecks, stored: readonly (StoredLink | undefined)[], totals: RecordsResult): Broken[] {
  const broken: Broken[] = [];
  // Duplicates: already stored, or twice in this batch. Same hash is a harmless retry.
  let candidate: IngestRecord | undefined;
  for (const r of c.sorted) {
    const isCandidate = candidate?.seq !== r.seq;
    if (isCandidate) candidate = r;
    const probe = c.conflicts.get(r.seq);
    const storedHash = probe === undefined ? undefined : stored[probe]?.hash;
    const reference = probe !== undefined ? storedHash : isCandidate ? undefined : candidate?.hash;
    if (probe === undefined && isCandidate) continue;
    if (reference === r.hash) totals.duplicates++;
    else broken.push({ session: r.session, seq: r.seq, reason: 'duplicate-hash-mismatch' });
  }
  for (const run of c.runs) {
    const first = run.records[0]!;
    const last = run.records[run.records.length - 1]!;
    const check = verifyRun(run.records, resolve(run.previous, stored));
    if (!check.ok) broken.push({ session: c.session, seq: check.seq, reason: check.reason });
    // A run that fills a gap must also link to the record stored after it.
    const after = run.next.from === 'probe' ? stored[run.next.index] : undefined;
    if (after && after.seq === last.seq + 1 && after.prevHash !== last.hash) {
      broken.push({ session: first.session, seq: after.seq, reason: 'prev-hash-mismatch' });
    }
  }
  return broken;
}

function resolve(n: Neighbour, stored: readonly (StoredLink | undefined)[]): Pick<SessionRecord, 'seq' | 'hash'> | undefined {
  switch (n.from) {
    case 'none': return undefined;
    case 'known': return n.link;
    case 'probe': return stored[n.index];
  }
}

/** core's verifyChain over ingestion records: each hash checked over the canonical JSON inside the stored one. */
function verifyRun(records: readonly IngestRecord[], previous: Pick<SessionRecord, 'seq' | 'hash'> | undefined): ChainCheck {
  return verifyChain(records, previous, (r) => hashCanonical(r.canonical()));
}

function firstOfEachSeq(sorted: readonly IngestRecord[]): IngestRecord[] {
  const out: IngestRecord[] = [];
  for (const r of sorted) if (out.at(-1)?.seq !== r.seq) out.push(r);
  return out;
}

function summarise(fresh: readonly IngestRecord[], broken: readonly Broken[]): SessionUpdate {
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
      if (e.denied) change.addDenied++;
    }
  }
  const top = fresh.at(-1);
  if (top) change.head = { seq: top.seq, hash: top.hash };
  const firstBroken = broken[0];
  if (firstBroken) change.chainError = `${firstBroken.reason} at seq ${firstBroken.seq}`;
  return change;
}

function contiguousRuns(sorted: readonly IngestRecord[]): IngestRecord[][] {
  const runs: IngestRecord[][] = [];
  for (const r of sorted) {
    const current = runs.at(-1);
    const tail = current?.at(-1);
    if (current && tail && tail.seq + 1 === r.seq) current.push(r);
    else runs.push([r]);
  }
  return runs;
}

function earliest(records: readonly IngestRecord[]): Date {
  let min = Number.POSITIVE_INFINITY;
  // The sidecar's times (Date#toISOString, four-digit years) sort as text: one Date.parse, not one a record.
  let minIso: string | undefined;
  for (const r of records) {
    if (isIsoInstant(r.time)) {
      if (minIso === undefined || r.time < minIso) minIso = r.time;
      continue;
    }
    const t = Date.parse(r.time);
    if (Number.isFinite(t) && t < min) min = t;
  }
  if (minIso !== undefined) min = Math.min(min, Date.parse(minIso));
  return Number.isFinite(min) ? new Date(min) : new Date();
}
