// The session records the hand-run ingestion benchmarks (ingest-bench.ts, http-ingest-bench.ts)
// send: sessions of pgbench -S statements, interleaved as a sidecar's flushes carry them.
import { randomUUID } from 'node:crypto';
import { GENESIS_HASH, sealRecord } from '@chaperone/core/records/chain';
import type { RecordEvent, SessionRecord } from '@chaperone/core/records/types';

export const BENCH_IDENTITY = { namespace: 'agents', serviceAccount: 'bench-bot' };

/** `records` records of `sessions` sessions, round robin in slices of four: every batch holds a run of each session. */
export function workload(records: number, sessions: number): SessionRecord[] {
  const chains: SessionRecord[][] = [];
  const perSession = Math.ceil(records / sessions);
  const start = Date.now();
  for (let s = 0; s < sessions; s++) {
    const id = randomUUID();
    const chain: SessionRecord[] = [];
    let prev = GENESIS_HASH;
    for (let seq = 0; seq < perSession; seq++) {
      const event: RecordEvent = seq === 0
        ? { type: 'session.start', protocol: 'postgres', connection: 'orders-db', identity: BENCH_IDENTITY, client: { user: 'agent', database: 'orders' } }
        : {
          type: 'statement', text: `SELECT abalance FROM pgbench_accounts WHERE aid = ${(seq * 7919) % 100000};`, flow: 'extended',
          kinds: ['select'], tables: ['pgbench_accounts'], decision: { action: 'allow', policy: 'bench', rule: 'bench#0' },
          tag: 'SELECT 1', rows: 1, durationMs: 0.11,
        };
      const r = sealRecord(id, seq, prev, event, new Date(start + seq));
      chain.push(r);
      prev = r.hash;
    }
    chains.push(chain);
  }
  const out: SessionRecord[] = [];
  for (let i = 0; i < perSession; i += 4) for (const c of chains) out.push(...c.slice(i, i + 4));
  return out.slice(0, records);
}
