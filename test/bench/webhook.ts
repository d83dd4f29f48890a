// `make bench`: admission latency of the webhook at 50 concurrent AdmissionReviews (goal: p99 ≤ 20 ms),
// the server and an HTTPS keep-alive client (like the API server's) in this process, the client on a worker thread.
// The goal is checked once V8 has compiled the hot paths (a webhook serves for days); the first
// bursts after start, while TurboFan still compiles them, are reported on a row of their own.
// Environment: BENCH_WEBHOOK_ROUNDS (bursts of 50 measured, default 100), BENCH_WEBHOOK_WARMUP
// (bursts of 50 before them, default 100: ~5,000 reviews, after which p99 stopped moving here).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { parseWebhookConfig } from '@chaperone/webhook/config';
import { startWebhookServer } from '@chaperone/webhook/server';
import { loopbackCertificate, staticCertificates } from '@chaperone/webhook/static-certificates';
import { repoRoot } from '../harness/tools.js';
import { fmt, percentile, table } from './stats.js';

const CONCURRENCY = 50;
const ROUNDS = positiveInt(process.env.BENCH_WEBHOOK_ROUNDS, 100);
const WARMUP_ROUNDS = positiveInt(process.env.BENCH_WEBHOOK_WARMUP, 100);
/** The cold row: the first bursts after start, as many as one run measures at most. */
const COLD_ROUNDS = Math.min(10, WARMUP_ROUNDS);

function positiveInt(v: string | undefined, dflt: number): number {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : dflt;
}
const GOAL_P99_MS = 20;

const parsed = parseWebhookConfig({
  connections: { 'orders-db': { type: 'postgres', port: 5432 }, bastion: { type: 'ssh', port: 2222 }, cluster: { type: 'kubernetes', port: 6443 } },
});
if (!parsed.ok) throw new Error(parsed.error);
const config = parsed.config;

// A pod as the API server sends it after the ServiceAccount plugin: an agent with the SA token mount.
const pod: unknown = JSON.parse(readFileSync(join(repoRoot(), 'webhook', 'testdata', 'pods', 'existing-sa-token-mount.in.json'), 'utf8'));

const certificate = await loopbackCertificate();
const server = await startWebhookServer({
  listen: { host: '127.0.0.1', port: 0 }, metricsListen: { host: '127.0.0.1', port: 0 },
  certificates: staticCertificates(certificate), config: () => config, nativeSidecars: true, logger: pino({ level: 'silent' }),
});
// The client runs on its own thread (as the API server is its own process), so the server's event
// loop does only the server's work. Plain JS (eval): no TypeScript loader is needed in the worker.
const CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const { Agent, request } = require('node:https');
const { url, ca, body, concurrency, warmup, cold, rounds } = workerData;
const agent = new Agent({ keepAlive: true, maxSockets: concurrency, ca });
function admit(uid) {
  const text = body.replace('"UID"', JSON.stringify(uid));
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        const patched = JSON.parse(Buffer.concat(chunks).toString()).response?.patchType === 'JSONPatch';
        if (res.statusCode !== 200 || !patched) reject(new Error('admission ' + uid + ': HTTP ' + res.statusCode + ', patched=' + patched));
        else resolve(ms);
      });
    });
    req.on('error', reject);
    req.end(text);
  });
}
const burst = (r) => Promise.all(Array.from({ length: concurrency }, (_, i) => admit('r' + r + '-' + i)));
(async () => {
  const coldSamples = [];
  for (let r = 0; r < warmup; r++) {
    const s = await burst(-1 - r);
    if (r < cold) coldSamples.push(...s);
    if (r === cold - 1) parentPort.postMessage({ type: 'cold', samples: coldSamples });
  }
  parentPort.postMessage({ type: 'measuring' });
  const samples = [];
  for (let r = 0; r < rounds; r++) samples.push(...(await burst(r)));
  agent.destroy();
  parentPort.postMessage({ type: 'samples', samples });
})().catch((err) => { throw err; });
`;

interface Phase { samples: number[]; cpuMicros: number }

/**
 * Latencies of the first bursts after start (cold) and of the measured rounds after the warm-up,
 * each with the process's CPU time (both threads: server and client) over it: less sensitive
 * than latency to other work on a shared machine.
 */
function runClient(): Promise<{ cold: Phase; warm: Phase }> {
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: { uid: 'UID', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'agents', object: pod },
  });
  const cpuStart = process.cpuUsage();
  const worker = new Worker(CLIENT, {
    eval: true,
    workerData: { url: new URL('/mutate', server.url).href, ca: certificate.ca, body, concurrency: CONCURRENCY, warmup: WARMUP_ROUNDS, cold: COLD_ROUNDS, rounds: ROUNDS },
  });
  const cpuSince = (from: NodeJS.CpuUsage): number => {
    const cpu = process.cpuUsage(from);
    return cpu.user + cpu.system;
  };
  let cold: Phase | undefined;
  let measuring: NodeJS.CpuUsage | undefined;
  return new Promise((resolve, reject) => {
    worker.on('message', (m: { type: 'cold' | 'samples'; samples: number[] } | { type: 'measuring' }) => {
      if (m.type === 'cold') cold = { samples: m.samples, cpuMicros: cpuSince(cpuStart) };
      else if (m.type === 'measuring') measuring = process.cpuUsage();
      else if (!cold || !measuring) reject(new Error('the client thread sent its samples before the cold phase and the warm-up ended'));
      else resolve({ cold, warm: { samples: m.samples, cpuMicros: cpuSince(measuring) } });
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the client thread exited (${code}) without results`)));
  });
}

function row(name: string, phase: Phase, checked: boolean): string[] {
  const samples = [...phase.samples].sort((a, b) => a - b);
  const p99 = percentile(samples, 99);
  const met = checked ? (p99 <= GOAL_P99_MS ? 'yes' : 'NO') : '-';
  return [name, String(samples.length), fmt(percentile(samples, 50), 2), fmt(p99, 2), fmt(samples.at(-1) ?? NaN, 2), checked ? String(GOAL_P99_MS) : '-', met, fmt(phase.cpuMicros / samples.length, 0)];
}

try {
  const run = await runClient();
  process.stdout.write(`\nwebhook admission latency, ${CONCURRENCY} concurrent (HTTPS keep-alive, client on its own thread)\n`);
  process.stdout.write(`${table(['', 'reviews', 'p50 ms', 'p99 ms', 'max ms', 'goal p99 ms', 'met', 'CPU µs/review'], [
    row(`first ${COLD_ROUNDS * CONCURRENCY} after start (JIT compiling)`, run.cold, false),
    row(`after ${WARMUP_ROUNDS * CONCURRENCY} reviews of warm-up`, run.warm, true),
  ])}\n`);
} finally {
  await server.close();
}
