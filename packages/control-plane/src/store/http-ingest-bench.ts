// HTTP ingestion benchmark, run by hand (not a test): CPU per record of the control plane's whole
// POST /v1/records path (fastify, body parsing, ingest, postgres.js) on a loopback port, with
// bodies built as the sidecar's record queue builds them, sent from a child process so that only
// the control plane's own CPU (all its threads, GC helpers included) is counted.
//   node --conditions=source --import tsx packages/control-plane/src/store/http-ingest-bench.ts [records] [sessions] [batch]
// With BENCH_CPU_PROFILE=<file>, the measured stretch is also CPU-profiled into <file> (.cpuprofile).
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { request, Agent } from 'node:http';
import { PerformanceObserver } from 'node:perf_hooks';
import { canonicalRecordJson } from '@chaperone/core/records/canonical';
import type { SessionRecord } from '@chaperone/core/records/types';
import { buildTestApp, sampleDocs } from '../testing/app.js';
import { startTestPostgres } from '../testing/embedded.js';
import { BENCH_IDENTITY, workload } from './bench-workload.js';

const bot = BENCH_IDENTITY;

/** Parent to client: where to send and as whom. Client to parent: phase changes. */
type ToClient = { url: string; grant: string; records: number; sessions: number; batch: number };
type ToParent = { phase: 'measuring' } | { phase: 'done'; accepted: number; batches: number; bodyBytes: number };

/** A sidecar line: the record's canonical JSON with `,"hash":"<hex>"` as its last key (sidecar/src/recorder/record-queue.ts). */
function line(r: SessionRecord): string {
  return `${canonicalRecordJson(r).slice(0, -1)},"hash":"${r.hash}"}`;
}

function bodies(records: readonly SessionRecord[], batch: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < records.length; i += batch) out.push(Buffer.from(`{"records":[${records.slice(i, i + batch).map(line).join(',')}]}`));
  return out;
}

function post(agent: Agent, url: string, grant: string, body: Buffer): Promise<{ accepted: number }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/records`, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: `Bearer ${grant}` },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`POST /v1/records: ${res.statusCode} ${text}`));
        else resolve(JSON.parse(text) as { accepted: number });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function client(): Promise<void> {
  const job = await new Promise<ToClient>((resolve) => process.once('message', (m) => resolve(m as ToClient)));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const send = (m: ToParent) => process.send?.(m);
  // Bodies are built before anything is measured; warm-up batches first (JIT, pools).
  const warm = bodies(workload(Math.min(4 * job.batch, 8_000), job.sessions), job.batch);
  const measured = bodies(workload(job.records, job.sessions), job.batch);
  for (const b of warm) await post(agent, job.url, job.grant, b);
  send({ phase: 'measuring' });
  let accepted = 0;
  for (const b of measured) accepted += (await post(agent, job.url, job.grant, b)).accepted;
  send({ phase: 'done', accepted, batches: measured.length, bodyBytes: measured.reduce((s, b) => s + b.length, 0) });
  agent.destroy();
  process.disconnect();
}

async function main(): Promise<void> {
  const [records = 60_000, sessions = 16, batch = 2_000] = process.argv.slice(2).map(Number);
  const pg = await startTestPostgres();
  const t = await buildTestApp(pg.url, { docs: sampleDocs({ name: bot.serviceAccount }), secrets: { 'orders-db-admin': { username: 'u', password: 'p' } } });
  try {
    const grant = await t.grantFor(bot);
    const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
    let gcMs = 0;
    let gcs = 0;
    let measuring = false;
    const gc = new PerformanceObserver((list) => {
      if (!measuring) return;
      for (const e of list.getEntries()) { gcMs += e.duration; gcs++; }
    });
    gc.observe({ entryTypes: ['gc'] });
    const profileFile = process.env.BENCH_CPU_PROFILE;
    const profiler = profileFile ? new Session() : undefined;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
    }
    const child = fork(process.argv[1]!, ['client'], { execArgv: process.execArgv });
    let cpu0 = process.cpuUsage();
    const done = await new Promise<Extract<ToParent, { phase: 'done' }>>((resolve, reject) => {
      child.on('message', (m: ToParent) => {
        if (m.phase === 'measuring') {
          measuring = true;
          void profiler?.post('Profiler.start');
          cpu0 = process.cpuUsage();
        } else resolve(m);
      });
      child.on('exit', (code) => reject(new Error(`client exited with ${code}`)));
      child.send({ url, grant, records, sessions, batch } satisfies ToClient);
    });
    const cpu = process.cpuUsage(cpu0);
    measuring = false;
    gc.disconnect();
    if (profiler && profileFile) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(profileFile, JSON.stringify(profile));
      profiler.disconnect();
    }
    const per = (us: number) => +(us / done.accepted).toFixed(2);
    console.log(JSON.stringify({
      records: done.accepted, sessions, batch, bytesPerRecord: Math.round(done.bodyBytes / done.accepted),
      cpUsPerRecord: per(cpu.user + cpu.system), userUsPerRecord: per(cpu.user), gcPauseUsPerRecord: per(gcMs * 1000), gcs,
      nodeOptions: process.env.NODE_OPTIONS ?? '',
    }));
  } finally {
    await t.close();
    await pg.cleanup();
  }
}

if (process.argv[2] === 'client') await client();
else await main();
