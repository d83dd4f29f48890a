// In-process micro-benchmarks of the per-statement work: the classifier cache hit, the whole
// enforcer, the observer (records + metrics) call the proxy makes, and sealing throughput.
import { parsePolicyText } from '@chaperone/core/policy/load';
import type { AccessPolicyDoc } from '@chaperone/core/policy/types';
import { SqlClassifier } from '@chaperone/core/sql/classifier';
import { loadSqlParser } from '@chaperone/core/sql/classify';
import { redactLiterals } from '@chaperone/core/sql/redact';
import { SidecarMetrics } from '@chaperone/sidecar/metrics';
import { createPgObserver } from '@chaperone/sidecar/pg-observer';
import { RecordQueue } from '@chaperone/sidecar/recorder/record-queue';
import { SessionRecorder } from '@chaperone/sidecar/recorder/session-recorder';
import { buildEnforcer } from '@chaperone/sidecar/sql-enforcement';
import { maskStageExchange } from './mask-exchange.js';
import { BENCH_CONNECTION, BENCH_IDENTITY, benchPolicyYaml } from './stack.js';

export interface MicroResult { name: string; nsPerCall: number; note: string }

/** pgbench -S texts: a new literal each statement, as pgbench sends them in simple mode. */
function pgbenchTexts(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${(i * 7919) % 1_000_000 + 1};`);
}

/** Runs `f` for about `ms` after a warm-up; ns per call. */
function timeIt(f: (i: number) => void, ms = 400): number {
  for (let i = 0; i < 20_000; i++) f(i);
  let calls = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(ms) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let k = 0; k < 1000; k++) f(calls++);
    elapsed = process.hrtime.bigint() - start;
  }
  return Number(elapsed) / calls;
}

export async function runMicro(): Promise<MicroResult[]> {
  await loadSqlParser();
  const texts = pgbenchTexts(4096);
  const mask = texts.length - 1;
  const policies = parsePolicyText(benchPolicyYaml({ host: '127.0.0.1', port: 5432, database: 'app' }), 'bench.yaml')
    .filter((d): d is AccessPolicyDoc => d.kind === 'AccessPolicy');
  const out: MicroResult[] = [];

  const classifier = new SqlClassifier();
  classifier.classify(texts[0] as string);
  out.push({ name: 'SqlClassifier.classify (cache hit)', nsPerCall: timeIt((i) => classifier.classify(texts[i & mask] as string)), note: 'new literal per call' });
  const prepared = new SqlClassifier();
  out.push({ name: 'SqlClassifier.classify ($1 text)', nsPerCall: timeIt(() => prepared.classify('SELECT abalance FROM pgbench_accounts WHERE aid = $1;')), note: '-M extended/prepared' });

  const enforce = buildEnforcer(policies, BENCH_CONNECTION, new SqlClassifier());
  out.push({ name: 'enforce (classify + decide)', nsPerCall: timeIt((i) => enforce(texts[i & mask] as string)), note: 'verdict cached by shape' });

  // The observer as the proxy calls it, over a real SessionRecorder and real metrics; records
  // go to a byte queue (unsealed: the recorder's delivery loop seals them, apart) that is
  // replaced when full.
  let queue = new RecordQueue();
  const metrics = new SidecarMetrics({ processMetrics: false });
  const observer = createPgObserver({
    connection: BENCH_CONNECTION, identity: { namespace: BENCH_IDENTITY.namespace, serviceAccount: BENCH_IDENTITY.serviceAccount },
    recorder: { openSession: (start, id) => new SessionRecorder(id ?? 's', start, (...r) => { queue.append(...r); if (queue.length > 10_000) queue = new RecordQueue(); }) },
    metrics, redact: redactLiterals,
  });
  observer.sessionStarted({ id: 'bench-session', client: { user: 'agent', database: 'app' } });
  const verdict = enforce(texts[0] as string);
  const observe = (i: number): void => observer.statement({
    session: 'bench-session', text: texts[i & mask] as string, flow: 'simple', verdict, durationMs: 0.05, rows: 1, tag: 'SELECT 1',
  });
  out.push({ name: 'observer.statement (record + metrics)', nsPerCall: timeIt(observe), note: 'on the forwarding path' });
  queue = new RecordQueue();

  // What sealing costs wherever it runs: the hash chain over canonical JSON.
  const sealed = new RecordQueue();
  const sealer = new SessionRecorder('seal-session', { type: 'session.start', protocol: 'postgres', connection: BENCH_CONNECTION, identity: { namespace: 'bench', serviceAccount: 'agent' }, client: {} }, (...r) => sealed.append(...r));
  const sealCost = timeIt((i) => {
    sealer.record({ type: 'statement', text: texts[i & mask] as string, flow: 'simple', kinds: ['select'], tables: ['pgbench_accounts'], decision: { action: 'allow', policy: 'bench-agents', rule: 'default' }, durationMs: 0.05, rows: 1, tag: 'SELECT 1' });
    sealed.sealSome(1);
    if (sealed.length >= 2_000) sealed.dropFront(sealed.length);
  });
  out.push({ name: 'record + seal into the line (delivery loop)', nsPerCall: sealCost, note: `${Math.round(1e9 / sealCost)} records/s per core` });
  out.push({ name: 'masking stage, pgbench -S exchange', nsPerCall: timeIt(maskStageExchange(texts)), note: 'mask rule on another table' });
  return out;
}
