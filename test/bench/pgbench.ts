// `make bench`: pgbench select-only against PostgreSQL directly, through PgBouncer, through a bare
// Node relay (node-relay.ts: what Node itself costs per hop) and through the chaperone sidecar
// (real control plane and sidecar processes) with the bench policy (a mask rule active, on a table
// pgbench never reads) and with the same policy minus the mask rule, interleaved, side by side;
// plus added latency, CPU per transaction of each process involved, sidecar memory, and
// micro-benchmarks of the per-statement work.
// Environment: BENCH_SECONDS (per run, default 10), BENCH_ROUNDS (default 3), BENCH_CPU_PROF=DIR
// (write a CPU profile of the sidecar there).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DATABASE, USERS, freePort, pgbench, startPostgres } from '../harness/postgres.js';
import type { Endpoint, PostgresServer } from '../harness/postgres.js';
import { runMicro } from './micro.js';
import { startPgBouncer } from './pgbouncer.js';
import type { Bouncer } from './pgbouncer.js';
import { clusterCpuMs, cpuMs, metricSum, rssMb, sampleRss, startStack } from './stack.js';
import type { Stack } from './stack.js';
import { fmt, median, parsePgbench, parseTransactionLog, percentile, table } from './stats.js';
import type { PgbenchResult } from './stats.js';

const SECONDS = positiveInt(process.env.BENCH_SECONDS, 10);
const ROUNDS = positiveInt(process.env.BENCH_ROUNDS, 3);
const TARGETS = ['direct', 'pgbouncer', 'node-relay', 'sidecar', 'sidecar-nomask'] as const;
type Target = (typeof TARGETS)[number];
type SidecarTarget = Extract<Target, `sidecar${string}`>;
const SIDECARS: readonly SidecarTarget[] = ['sidecar', 'sidecar-nomask'];
const LABEL: Record<Target, string> = {
  direct: 'direct', pgbouncer: 'pgbouncer', 'node-relay': 'bare Node relay', sidecar: 'sidecar, mask rule', 'sidecar-nomask': 'sidecar, no mask rule',
};
const CLIENTS = [1, 16] as const;
/** How long the idle sidecar is left alone before its idle RSS is read. */
const IDLE_SETTLE_MS = 20_000;

function positiveInt(v: string | undefined, dflt: number): number {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : dflt;
}

const log = (line: string): void => { process.stderr.write(`bench: ${line}\n`); };

interface Run { result: PgbenchResult; latenciesUs: number[] }

async function runPgbench(e: Endpoint, clients: number, seconds: number, logDir?: string): Promise<Run> {
  const args = ['-S', '-n', '-T', String(seconds), '-c', String(clients)];
  if (clients > 1) args.push('-j', '2');
  if (logDir) args.push('-l', '--log-prefix', join(logDir, 'tx'));
  const r = await pgbench(e, args);
  const result = r.code === 0 ? parsePgbench(r.stdout) : null;
  if (!result) throw new Error(`pgbench ${args.join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  const latenciesUs: number[] = [];
  if (logDir) {
    for (const f of readdirSync(logDir)) {
      const path = join(logDir, f);
      for (const v of parseTransactionLog(readFileSync(path, 'utf8'))) latenciesUs.push(v);
      rmSync(path);
    }
  }
  return { result, latenciesUs };
}

interface NodeRelay { port: number; pid: number; stop(): Promise<void> }

/** Starts node-relay.js (beside this file) in front of the upstream; resolves once it listens. */
async function startNodeRelay(upstream: { host: string; port: number }): Promise<NodeRelay> {
  const port = await freePort();
  const script = join(dirname(fileURLToPath(import.meta.url)), 'node-relay.js');
  const child: ChildProcess = spawn(process.execPath, [script, String(port), upstream.host, String(upstream.port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the Node relay did not listen within 10 s: ${stderr}`)), 10_000);
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); if (stderr.includes('listening')) { clearTimeout(timer); resolve(); } });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the Node relay exited (${String(code)}): ${stderr}`)); });
  });
  return { port, pid: child.pid as number, stop: async () => { if (child.exitCode === null) { child.kill(); await exited; } } };
}

/** CPU used during one target's runs, summed over rounds, per clients count. */
interface CpuTally { proxyMs: number; postgresMs: number; controlPlaneMs: number; transactions: number }

async function main(): Promise<void> {
  const began = Date.now();
  let pg: PostgresServer | undefined;
  let bouncer: Bouncer | undefined;
  let relay: NodeRelay | undefined;
  let stack: Stack | undefined;
  const logDir = mkdtempSync(join(tmpdir(), 'chaperone-bench-log-'));
  try {
    log(`${SECONDS} s per run, ${ROUNDS} rounds, ${cpus().length} CPUs shared by pgbench, PostgreSQL and the proxy`);
    pg = await startPostgres();
    const direct: Endpoint = { host: pg.host, port: pg.port, user: USERS.scram.username, password: USERS.scram.password, database: DATABASE };
    log('pgbench -i -s 10 (directly)');
    const init = await pgbench(direct, ['-i', '-s', '10', '-q']);
    if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
    await pg.sql('CREATE DATABASE chaperone_store');

    bouncer = await startPgBouncer({ upstream: { host: pg.host, port: pg.port, database: DATABASE }, user: USERS.scram, maxClients: 16 });
    relay = await startNodeRelay({ host: pg.host, port: pg.port });
    log('starting the control plane and the sidecar (CLI child processes)');
    stack = await startStack({
      pg: { host: pg.host, port: pg.port, database: DATABASE },
      storeUrl: `postgres://postgres@${pg.host}:${pg.port}/chaperone_store`,
      credential: USERS.scram,
    });
    await new Promise((r) => setTimeout(r, 1000));
    const sidecars = { sidecar: stack.sidecar, 'sidecar-nomask': stack.noMask } satisfies Record<SidecarTarget, unknown>;
    const isSidecar = (t: Target): t is SidecarTarget => t === 'sidecar' || t === 'sidecar-nomask';
    log(`sidecar pids: mask rule ${stack.sidecar.pid}, no mask rule ${stack.noMask.pid}`);
    const startRss = rssMb(stack.sidecar.pid);
    // Idle is what a pod that waits for its agent holds: V8 gives back its start-up garbage once the
    // heap has been quiet for some seconds (its memory reducer), so the idle figure is taken after that.
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
    const idleRss = rssMb(stack.sidecar.pid);

    const endpoints: Record<Target, Endpoint> = {
      direct,
      pgbouncer: { host: '127.0.0.1', port: bouncer.port, user: USERS.scram.username, database: DATABASE },
      // Bytes only: the agent's own SCRAM login goes through to PostgreSQL.
      'node-relay': { host: '127.0.0.1', port: relay.port, user: USERS.scram.username, password: USERS.scram.password, database: DATABASE },
      sidecar: { host: '127.0.0.1', port: stack.sidecar.port, user: 'agent', database: DATABASE },
      'sidecar-nomask': { host: '127.0.0.1', port: stack.noMask.port, user: 'agent', database: DATABASE },
    };
    log('warm-up (2 s each)');
    for (const t of TARGETS) await runPgbench(endpoints[t], 4, 2);
    const metricsBefore = await stack.sidecar.metrics();
    const statementsBefore = { sidecar: 0, 'sidecar-nomask': 0 };
    for (const t of SIDECARS) statementsBefore[t] = metricSum(await sidecars[t].metrics(), 'chaperone_sidecar_statements_total');

    const results = new Map<string, PgbenchResult[]>();
    const latencies: Record<Target, number[]> = { direct: [], pgbouncer: [], 'node-relay': [], sidecar: [], 'sidecar-nomask': [] };
    let peakRss = 0;
    let sidecarSeconds = 0;
    const proxyPid: Record<Target, number | undefined> = {
      direct: undefined, pgbouncer: bouncer.pid, 'node-relay': relay.pid, sidecar: stack.sidecar.pid, 'sidecar-nomask': stack.noMask.pid,
    };
    const pgData = join(pg.dir, 'data');
    const cpu = new Map<string, CpuTally>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const clients of CLIENTS) {
        for (const t of TARGETS) {
          log(`round ${round}/${ROUNDS}: ${t}, ${clients} client(s)`);
          const sampler = t === 'sidecar' ? sampleRss(stack.sidecar.pid) : undefined;
          const pid = proxyPid[t];
          const before = { proxy: pid === undefined ? 0 : cpuMs(pid), postgres: clusterCpuMs(pgData), controlPlane: cpuMs(stack.controlPlanePid) };
          const run = await runPgbench(endpoints[t], clients, SECONDS, clients === 1 ? logDir : undefined);
          // Before reading CPU: the last records are delivered and ingested (every 250 ms), and
          // pgbench's backends have exited and been reaped (their time moves to the postmaster's).
          await new Promise((r) => setTimeout(r, 750));
          const tally = cpu.get(`${t}/${clients}`) ?? { proxyMs: 0, postgresMs: 0, controlPlaneMs: 0, transactions: 0 };
          tally.proxyMs += pid === undefined ? 0 : cpuMs(pid) - before.proxy;
          tally.postgresMs += clusterCpuMs(pgData) - before.postgres;
          tally.controlPlaneMs += cpuMs(stack.controlPlanePid) - before.controlPlane;
          tally.transactions += run.result.transactions;
          cpu.set(`${t}/${clients}`, tally);
          if (sampler) { peakRss = Math.max(peakRss, sampler.stop()); sidecarSeconds += SECONDS; }
          const key = `${t}/${clients}`;
          results.set(key, [...(results.get(key) ?? []), run.result]);
          if (clients === 1) for (const v of run.latenciesUs) latencies[t].push(v);
        }
      }
    }
    const metricsAfter = await stack.sidecar.metrics();
    const statementsDuring = { sidecar: 0, 'sidecar-nomask': 0 };
    for (const t of SIDECARS) statementsDuring[t] = metricSum(await sidecars[t].metrics(), 'chaperone_sidecar_statements_total') - statementsBefore[t];
    const drainStart = Date.now();
    let backlog = Infinity;
    while (Date.now() - drainStart < 15_000) {
      const m = await stack.sidecar.metrics();
      backlog = metricSum(m, 'chaperone_sidecar_records_queued') + metricSum(m, 'chaperone_sidecar_records_spooled');
      if (backlog === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const drainMs = Date.now() - drainStart;
    const idleAfterRss = rssMb(stack.sidecar.pid);

    log('micro-benchmarks');
    const micro = await runMicro();

    // ---- report --------------------------------------------------------------------------------
    const med = (t: Target, c: number, f: (r: PgbenchResult) => number): number => median((results.get(`${t}/${c}`) ?? []).map(f));
    const out: string[] = [];
    out.push('', `pgbench -S (select-only), ${SECONDS} s per run, median of ${ROUNDS} interleaved rounds (${TARGETS.map((t) => LABEL[t]).join('; ')})`,
      'The bench policy masks customers.card_number (a table pgbench never reads): "mask rule" is that policy, "no mask rule" the same rules without it.', '');
    const rows: string[][] = [];
    for (const c of CLIENTS) {
      for (const t of TARGETS) {
        const tps = med(t, c, (r) => r.tps);
        rows.push([`${LABEL[t]}, ${c} client${c > 1 ? 's' : ''}`, fmt(tps), fmt(med(t, c, (r) => r.latencyMs), 3),
          fmt(tps / med('direct', c, (r) => r.tps), 2), fmt(tps / med('pgbouncer', c, (r) => r.tps), 2), fmt(tps / med('node-relay', c, (r) => r.tps), 2),
          (results.get(`${t}/${c}`) ?? []).map((r) => fmt(r.tps)).join(' ')]);
      }
    }
    out.push(table(['target', 'TPS', 'avg ms', 'vs direct', 'vs bouncer', 'vs Node relay', 'TPS per round'], rows));

    // Two cores run everything: a transaction's TPS is bounded by all the CPU it costs, wherever.
    const perTx = (ms: number, tx: number): string => (tx > 0 ? fmt((ms * 1000) / tx, 1) : '-');
    const cpuRows: string[][] = [];
    for (const c of CLIENTS) {
      for (const t of TARGETS) {
        const k = cpu.get(`${t}/${c}`);
        if (!k) continue;
        cpuRows.push([`${LABEL[t]}, ${c} client${c > 1 ? 's' : ''}`, t === 'direct' ? '-' : perTx(k.proxyMs, k.transactions), perTx(k.postgresMs, k.transactions),
          isSidecar(t) ? perTx(k.controlPlaneMs, k.transactions) : '-', perTx(k.proxyMs + k.postgresMs + (isSidecar(t) ? k.controlPlaneMs : 0), k.transactions)]);
      }
    }
    out.push('', 'CPU per transaction (user+sys from /proc, summed over the rounds). PostgreSQL is the whole cluster: pgbench\'s backends and,',
      'for the sidecars, the control plane\'s store too (records are stored in the same cluster). pgbench\'s own CPU is not counted.', '');
    out.push(table(['target', 'proxy µs', 'PostgreSQL µs', 'control plane µs', 'sum µs'], cpuRows));

    const sorted = (t: Target): number[] => [...latencies[t]].sort((a, b) => a - b);
    const d = sorted('direct');
    const added = (t: Target): string[] => {
      const s = sorted(t);
      return [LABEL[t], fmt(percentile(s, 50)), fmt(percentile(s, 99)), fmt(percentile(s, 50) - percentile(d, 50)), fmt(percentile(s, 99) - percentile(d, 99)),
        fmt((med(t, 1, (r) => r.latencyMs) - med('direct', 1, (r) => r.latencyMs)) * 1000), String(s.length)];
    };
    out.push('', 'Added latency per statement, 1 client (pgbench -S: one statement per transaction).',
      'Method: pgbench -l per-transaction latencies of all rounds, pooled per target; added = percentile(target) - percentile(direct)',
      '(a difference of percentiles, not a percentile of per-statement differences); average = difference of the median "latency average".', '');
    out.push(table(['target', 'p50 µs', 'p99 µs', 'added p50 µs', 'added p99 µs', 'added avg µs', 'transactions'], [
      ['direct', fmt(percentile(d, 50)), fmt(percentile(d, 99)), '-', '-', '-', String(d.length)],
      added('pgbouncer'), added('node-relay'), added('sidecar'), added('sidecar-nomask'),
    ]));

    const statements = metricSum(metricsAfter, 'chaperone_sidecar_statements_total') - metricSum(metricsBefore, 'chaperone_sidecar_statements_total');
    const sent = metricSum(metricsAfter, 'chaperone_sidecar_records_sent_total') - metricSum(metricsBefore, 'chaperone_sidecar_records_sent_total');
    const sum = (t: Target, f: (k: CpuTally) => number): number => CLIENTS.reduce((a, c) => { const k = cpu.get(`${t}/${c}`); return a + (k ? f(k) : 0); }, 0);
    const perStatement = (t: SidecarTarget): string => {
      const ms = sum(t, (k) => k.proxyMs);
      return `${fmt((ms * 1000) / statementsDuring[t], 1)} µs (${statementsDuring[t]} statements, ${fmt(ms / 10 / sidecarSeconds)} % of a core)`;
    };
    const controlPlaneCpu = sum('sidecar', (k) => k.controlPlaneMs);
    out.push('', 'Sidecar process (the mask-rule sidecar unless the row says otherwise)', '');
    out.push(table(['what', 'value'], [
      ['RSS 1 s after start (VmRSS)', `${fmt(startRss, 1)} MB`],
      [`RSS idle, ${IDLE_SETTLE_MS / 1000 + 1} s after start`, `${fmt(idleRss, 1)} MB`],
      ['RSS peak under load (sampled every 100 ms)', `${fmt(peakRss, 1)} MB`],
      ['RSS idle after the runs', `${fmt(idleAfterRss, 1)} MB`],
      ['statements recorded during the sidecar runs', String(statements)],
      ['sidecar CPU per statement (user+sys, /proc), mask rule', perStatement('sidecar')],
      ['sidecar CPU per statement (user+sys, /proc), no mask rule', perStatement('sidecar-nomask')],
      ['for comparison: PgBouncer CPU per statement', `${perTx(sum('pgbouncer', (k) => k.proxyMs), sum('pgbouncer', (k) => k.transactions))} µs`],
      ['for comparison: bare Node relay CPU per statement', `${perTx(sum('node-relay', (k) => k.proxyMs), sum('node-relay', (k) => k.transactions))} µs`],
      ['control plane CPU per statement (ingesting records)', `${fmt((controlPlaneCpu * 1000) / statements, 1)} µs (${fmt(controlPlaneCpu / 10 / sidecarSeconds)} % of a core)`],
      ['records delivered to the control plane meanwhile', `${sent} (${fmt(sent / sidecarSeconds)} records/s over ${sidecarSeconds} s of load)`],
      ['backlog after the runs (queued + spooled)', backlog === 0 ? `0, drained ${drainMs} ms after the last run` : `${backlog} still undelivered after ${drainMs} ms`],
    ]));

    out.push('', 'Per-statement work, in process (ns per call)', '');
    out.push(table(['what', 'ns/call', 'note'], micro.map((m) => [m.name, fmt(m.nsPerCall), m.note])));
    out.push('', `total bench time ${fmt((Date.now() - began) / 1000)} s`, '');
    process.stdout.write(out.join('\n'));
  } finally {
    await stack?.stop().catch((err: unknown) => log(`stopping the stack: ${String(err)}`));
    await bouncer?.stop().catch((err: unknown) => log(`stopping pgbouncer: ${String(err)}`));
    await relay?.stop().catch((err: unknown) => log(`stopping the Node relay: ${String(err)}`));
    await pg?.destroy().catch((err: unknown) => log(`stopping postgres: ${String(err)}`));
    rmSync(logDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
