// Ingestion micro-benchmark, run by hand (not a test): CPU per record of ingestBatch in this
// process and in the store's PostgreSQL, on a fresh embedded cluster.
//   node --conditions=source --import tsx packages/control-plane/src/store/ingest-bench.ts [records] [sessions] [batch]
// The whole HTTP path, sidecar-shaped bodies parsed included, is measured by http-ingest-bench.ts beside it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ingestBatch } from '../records/ingest.js';
import { startTestPostgres } from '../testing/embedded.js';
import { BENCH_IDENTITY, workload } from './bench-workload.js';
import { PostgresStore } from './postgres-store.js';

const bot = BENCH_IDENTITY;
const TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s.

/** utime + stime of a process, in µs. */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e6) / TICKS;
}

/** The postmaster of `dataDir` and its children (backends, WAL writer, checkpointer, …). */
function clusterPids(dataDir: string): number[] {
  const postmaster = Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const pids = [postmaster];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) pids.push(Number(name));
    } catch { /* exited meanwhile */ }
  }
  return pids;
}

function clusterCpu(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try { sum += cpuOf(pid); } catch { /* exited meanwhile */ }
  }
  return sum;
}

/** WAL written so far and the size of the record tables (with TOAST and indexes), in bytes. */
async function storedBytes(store: PostgresStore): Promise<{ wal: number; tables: number }> {
  const [row] = await store.sql<{ wal: string; tables: string }[]>`
    SELECT pg_current_wal_lsn() - '0/0'::pg_lsn AS wal,
      pg_total_relation_size('records') + coalesce(pg_total_relation_size(to_regclass('record_runs')), 0) AS tables`;
  return { wal: Number(row!.wal), tables: Number(row!.tables) };
}

async function main(): Promise<void> {
  const [records = 50_000, sessions = 16, batch = 500] = process.argv.slice(2).map(Number);
  const pg = await startTestPostgres();
  const store = await PostgresStore.open(pg.url, { max: 1 });
  try {
    const warm = workload(2_000, sessions);
    for (let i = 0; i < warm.length; i += batch) await ingestBatch(store, bot, warm.slice(i, i + batch));
    const all = workload(records, sessions);
    const [row] = await store.sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
    const pid = row!.pid;
    const pids = clusterPids(pg.dataDir);
    const size0 = await storedBytes(store);
    const backend0 = cpuOf(pid);
    const cluster0 = clusterCpu(pids);
    const cp0 = process.cpuUsage();
    const wall0 = performance.now();
    let accepted = 0;
    for (let i = 0; i < all.length; i += batch) accepted += (await ingestBatch(store, bot, all.slice(i, i + batch))).accepted;
    const wall = performance.now() - wall0;
    const cp = process.cpuUsage(cp0);
    // Let the WAL writer and background writer catch up before the cluster is read.
    await new Promise((r) => setTimeout(r, 1500));
    const backend = cpuOf(pid) - backend0;
    const cluster = clusterCpu(pids) - cluster0;
    const size = await storedBytes(store);
    const per = (us: number) => (us / accepted).toFixed(2);
    console.log(JSON.stringify({
      records: accepted, sessions, batch, wallMsPerBatch: +(wall / Math.ceil(all.length / batch)).toFixed(2),
      cpUsPerRecord: +per(cp.user + cp.system), backendUsPerRecord: +per(backend), clusterUsPerRecord: +per(cluster),
      walBytesPerRecord: +per(size.wal - size0.wal), tableBytesPerRecord: +per(size.tables - size0.tables),
    }));
  } finally {
    await store.close();
    await pg.cleanup();
  }
}

await main();
