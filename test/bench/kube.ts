// `make bench`: the Kubernetes API direct versus through the sidecar, in the same run, against
// the design goal (added p50 ≤ 2 ms): GET pods (what `kubectl get pods` sends), a list of 1,000
// ConfigMaps, both over keep-alive HTTPS as the same service account, and whole `kubectl get pods`
// runs (process start included). Environment: BENCH_KUBE_ROUNDS (default 200).
import { Agent, request } from 'node:https';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { run } from '../harness/postgres.js';
import { toolPath } from '../harness/tools.js';
import { NS, startStack } from '../kube/proxy-support.js';
import { fmt, percentile, table } from './stats.js';

const n = Number(process.env.BENCH_KUBE_ROUNDS);
const ROUNDS = Number.isInteger(n) && n > 0 ? n : 200;
const KUBECTL_ROUNDS = Math.max(10, Math.round(ROUNDS / 10));
const GOAL_P50_MS = 2;

const s = await startStack();
try {
  const items = Array.from({ length: 1000 }, (_, i) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `bench-${i}`, namespace: NS }, data: { i: String(i), pad: 'x'.repeat(200) } }));
  const created = await s.kube.kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
  if (created.code !== 0) throw new Error(created.stderr);
  const tok = await s.kube.kubectl(['-n', 'chaperone-sys', 'create', 'token', 'kube-agent', '--duration', '1h']);
  const directToken = tok.stdout.trim();
  const directUrl = new URL(s.kube.url);
  const direct = { host: directUrl.hostname, port: Number(directUrl.port), ca: await readFile(s.kube.caCertPath, 'utf8'), token: directToken };
  const viaSidecar = { host: '127.0.0.1', port: s.port, ca: await readFile(s.caPath, 'utf8'), token: s.agentToken };

  const rows: string[][] = [];
  for (const [what, path, rounds] of [
    ['GET pods (kubectl get pods)', `/api/v1/namespaces/${NS}/pods?limit=500`, ROUNDS],
    ['list 1,000 configmaps', `/api/v1/namespaces/${NS}/configmaps?limit=1000`, Math.max(20, Math.round(ROUNDS / 4))],
  ] as const) {
    const d = timer(direct);
    const p = timer(viaSidecar);
    for (let i = 0; i < 10; i++) { await d(path); await p(path); }
    const dt: number[] = [];
    const pt: number[] = [];
    for (let i = 0; i < rounds; i++) {
      dt.push(await d(path));
      pt.push(await p(path));
    }
    rows.push(row(what, dt, pt));
  }
  const kd: number[] = [];
  const kp: number[] = [];
  for (let i = 0; i < KUBECTL_ROUNDS; i++) {
    kd.push(await timeKubectl(['--kubeconfig', s.kube.kubeconfigPath, '-n', NS, 'get', 'pods']));
    kp.push(await timeKubectl(['--kubeconfig', s.agentKubeconfig, 'get', 'pods']));
  }
  rows.push(row('kubectl get pods (whole run)', kd, kp));
  console.log(`Kubernetes API direct vs through the sidecar (${ROUNDS} rounds; goal: added p50 ≤ ${GOAL_P50_MS} ms)\n`);
  console.log(table(['request', 'direct p50 ms', 'direct p99 ms', 'sidecar p50 ms', 'sidecar p99 ms', 'added p50 ms', 'added p99 ms'], rows));
} finally {
  await s.stop();
}

function row(what: string, d: number[], p: number[]): string[] {
  const ds = [...d].sort((a, b) => a - b);
  const ps = [...p].sort((a, b) => a - b);
  const [d50, d99, p50, p99] = [percentile(ds, 50), percentile(ds, 99), percentile(ps, 50), percentile(ps, 99)];
  return [what, fmt(d50, 2), fmt(d99, 2), fmt(p50, 2), fmt(p99, 2), fmt(p50 - d50, 2), fmt(p99 - d99, 2)];
}

/** One keep-alive client per endpoint; resolves with the request's milliseconds to the last byte. */
function timer(e: { host: string; port: number; ca: string; token: string }): (path: string) => Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: e.ca });
  return (path) => new Promise((resolve, reject) => {
    const t0 = performance.now();
    request({ host: e.host, port: e.port, path, agent, headers: { authorization: `Bearer ${e.token}`, accept: 'application/json' } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`${path}: HTTP ${res.statusCode}`));
      res.resume();
      res.on('end', () => resolve(performance.now() - t0));
    }).on('error', reject).end();
  });
}

async function timeKubectl(args: string[]): Promise<number> {
  const t0 = performance.now();
  const r = await run(toolPath('kubectl'), args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return performance.now() - t0;
}
