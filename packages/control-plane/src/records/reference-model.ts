// Test oracle: the ingestion semantics written plainly, one record and one session at a time
// over in-memory maps (what the control plane did before batching). ingest.test.ts checks
// that ingestBatch against PostgreSQL gives the same answers and leaves the same state.
import type { RecordsResult } from '@chaperone/core/api';
import { verifyChain } from '@chaperone/core/records/chain';
import type { SessionRecord } from '@chaperone/core/records/types';

export interface ModelSession {
  records: Map<number, SessionRecord>;
  count: number;
  chainError: string | null;
}

export class ReferenceModel {
  readonly sessions = new Map<string, ModelSession>();

  ingest(batch: readonly SessionRecord[]): RecordsResult {
    const bySession = new Map<string, SessionRecord[]>();
    for (const r of batch) bySession.set(r.session, [...(bySession.get(r.session) ?? []), r]);
    const result: RecordsResult = { accepted: 0, duplicates: 0, broken: [] };
    for (const [id, list] of bySession) {
      list.sort((a, b) => a.seq - b.seq);
      const s = this.sessions.get(id) ?? { records: new Map(), count: 0, chainError: null };
      this.sessions.set(id, s);
      const broken: RecordsResult['broken'] = [];
      const fresh: SessionRecord[] = [];
      for (const r of list) {
        const seen = s.records.get(r.seq) ?? fresh.find((f) => f.seq === r.seq);
        if (!seen) fresh.push(r);
        else if (seen.hash === r.hash) result.duplicates++;
        else broken.push({ session: id, seq: r.seq, reason: 'duplicate-hash-mismatch' });
      }
      for (const run of runsOf(fresh)) {
        const first = run[0]!;
        const last = run[run.length - 1]!;
        const below = [...s.records.keys()].filter((q) => q < first.seq);
        const previous = first.seq === 0 || below.length === 0 ? undefined : s.records.get(Math.max(...below));
        const check = verifyChain(run, previous);
        if (!check.ok) broken.push({ session: id, seq: check.seq, reason: check.reason });
        const next = s.records.get(last.seq + 1);
        if (next && next.prevHash !== last.hash) broken.push({ session: id, seq: next.seq, reason: 'prev-hash-mismatch' });
        for (const r of run) s.records.set(r.seq, r);
      }
      result.accepted += fresh.length;
      s.count += fresh.length;
      if (broken[0] && s.chainError === null) s.chainError = `${broken[0].reason} at seq ${broken[0].seq}`;
      result.broken.push(...broken);
    }
    return result;
  }
}

function runsOf(sorted: readonly SessionRecord[]): SessionRecord[][] {
  const runs: SessionRecord[][] = [];
  for (const r of sorted) {
    const tail = runs.at(-1);
    if (tail && tail[tail.length - 1]!.seq + 1 === r.seq) tail.push(r);
    else runs.push([r]);
  }
  return runs;
}
