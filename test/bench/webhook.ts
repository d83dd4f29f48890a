// `make bench`: admission latency of the webhook at 50 concurrent AdmissionReviews (goal: p99 ≤ 20 ms),
// the server and an HTTPS keep-alive client (like the API server's) in this process, the client on a worker thread.
// Environment: BENCH_WEBHOOK_ROUNDS (bursts of 50 measured, default 100).
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
const WARMUP_ROUNDS = 10;
const n = Number(process.env.BENCH_WEBHOOK_ROUNDS);
const ROUNDS = Number.isInteger(n) && n > 0 ? n : 100;
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
const { url, ca, body, concurrency, warmup, rounds } = workerData;
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
  for (let r = 0; r < warmup; r++) await burst(-1 - r);
  parentPort.postMessage({ type: 'measuring' });
  const samples = [];
  for (let r = 0; r < rounds; r++) samples.push(...(await burst(r)));
  agent.destroy();
  parentPort.postMessage({ type: 'samples', samples });
})().catch((err) => { throw err; });
`;

/**
 * Latencies of the measured rounds, and the process's CPU time (both threads: server and client)
 * over them: less sensitive than latency to other work on a shared machine.
 */
function runClient(): Promise<{ samples: number[]; cpuMicros: number }> {
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: { uid: 'UID', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'agents', object: pod },
  });
  const worker = new Worker(CLIENT, {
    eval: true,
    workerData: { url: new URL('/mutate', server.url).href, ca: certificate.ca, body, concurrency: CONCURRENCY, warmup: WARMUP_ROUNDS, rounds: ROUNDS },
  });
  let cpu0: NodeJS.CpuUsage | undefined;
  return new Promise((resolve, reject) => {
    worker.on('message', (m: { type: 'measuring' } | { type: 'samples'; samples: number[] }) => {
      if (m.type === 'measuring') cpu0 = process.cpuUsage();
      else {
        const cpu = process.cpuUsage(cpu0);
        resolve({ samples: m.samples, cpuMicros: cpu.user + cpu.system });
      }
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the client thread exited (${code}) without results`)));
  });
}

try {
  const run = await runClient();
  const samples = run.samples.sort((a, b) => a - b);
  const p50 = percentile(samples, 50);
  const p99 = percentile(samples, 99);
  process.stdout.write(`\nwebhook admission latency, ${CONCURRENCY} concurrent, ${samples.length} reviews (HTTPS keep-alive, client on its own thread)\n`);
  process.stdout.write(`${table(['', 'p50 ms', 'p99 ms', 'max ms', 'goal p99 ms', 'met', 'CPU µs/review'], [
    ['webhook', fmt(p50, 2), fmt(p99, 2), fmt(samples.at(-1) ?? NaN, 2), String(GOAL_P99_MS), p99 <= GOAL_P99_MS ? 'yes' : 'NO', fmt(run.cpuMicros / samples.length, 0)],
  ])}\n`);
} finally {
  await server.close();
}
