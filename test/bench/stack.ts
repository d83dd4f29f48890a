// The chaperone side of the benchmark, as a real deployment runs it: the control plane and the
// sidecar as child processes of the CLI (packages/cli/bin/chaperone.js), with the bench policy; a
// second sidecar for an agent whose policy lacks the mask rule, to show what masking costs.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SIDECAR_RUNTIME_ENV } from '@chaperone/webhook/sidecar';
import { freePort } from '../harness/postgres.js';

export const BENCH_CONNECTION = 'bench';
export const BENCH_IDENTITY = { namespace: 'bench', serviceAccount: 'agent' };
/** A second agent on the same connection whose policy has no mask rule: the baseline for masking's cost. */
export const BENCH_IDENTITY_NO_MASK = { namespace: 'bench', serviceAccount: 'agent-nomask' };

/** What a real deployment would run: reads allowed, schema changes denied, writes need approval. */
export function benchPolicyYaml(target: { host: string; port: number; database: string }): string {
  return `apiVersion: chaperone.dev/v1alpha1
kind: Connection
metadata: { name: ${BENCH_CONNECTION} }
spec:
  type: postgres
  target: { host: ${target.host}, port: ${target.port}, database: ${target.database}, sslmode: disable }
  credentials: { secretRef: { name: bench-db } }
  listen: { port: 5432 }
---
apiVersion: chaperone.dev/v1alpha1
kind: AccessPolicy
metadata: { name: bench-agents }
spec:
  subjects:
    - serviceAccount: { namespace: ${BENCH_IDENTITY.namespace}, name: ${BENCH_IDENTITY.serviceAccount} }
  connections: [${BENCH_CONNECTION}]
  rules:
    - { action: deny, name: no-schema-changes, match: { statements: [drop, truncate, alter] }, message: "schema changes are not allowed" }
    - { action: approve, name: writes-need-a-dba, match: { statements: [delete] }, approvers: ["group:dba"], timeout: 10m }
    - { action: mask, match: { columns: ["customers.card_number"] } }
  default: allow
`;
}

/** The same rules as the bench policy but the mask rule, for BENCH_IDENTITY_NO_MASK. */
export function noMaskPolicyYaml(): string {
  return `apiVersion: chaperone.dev/v1alpha1
kind: AccessPolicy
metadata: { name: bench-agents-nomask }
spec:
  subjects:
    - serviceAccount: { namespace: ${BENCH_IDENTITY_NO_MASK.namespace}, name: ${BENCH_IDENTITY_NO_MASK.serviceAccount} }
  connections: [${BENCH_CONNECTION}]
  rules:
    - { action: deny, name: no-schema-changes, match: { statements: [drop, truncate, alter] }, message: "schema changes are not allowed" }
    - { action: approve, name: writes-need-a-dba, match: { statements: [delete] }, approvers: ["group:dba"], timeout: 10m }
  default: allow
`;
}

/** The repository root: where packages/cli/bin/chaperone.js is (from test/bench or test/dist/bench). */
export function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'packages/cli/bin/chaperone.js'))) return dir;
  }
  throw new Error('cannot find packages/cli/bin/chaperone.js above the benchmark');
}

export interface Child { proc: ChildProcess; log: () => string; stop(): Promise<void> }

/** Starts `chaperone <args>` and waits for a stderr line matching `ready`. */
export async function startCli(args: string[], ready: RegExp, what: string): Promise<{ child: Child; match: RegExpExecArray }> {
  const root = repoRoot();
  const bin = join(root, 'packages/cli/bin/chaperone.js');
  if (!existsSync(join(root, 'packages/cli/dist/main.js'))) throw new Error('the CLI is not built: run `npx tsc -b` (make build) first');
  // BENCH_CPU_PROF=DIR profiles the sidecar (node --cpu-prof; the profile is written at exit).
  const prof = process.env.BENCH_CPU_PROF && args[0] === 'sidecar' ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  // A sidecar runs with the environment the webhook gives the injected container.
  const env = args[0] === 'sidecar' ? { ...process.env, ...Object.fromEntries(SIDECAR_RUNTIME_ENV.map((e) => [e.name, e.value])) } : process.env;
  const proc = spawn(process.execPath, [...prof, bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'], cwd: root, env });
  let log = '';
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} not ready within 60 s:\n${log}`)), 60_000);
    proc.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.length > 1_000_000) log = log.slice(-100_000);
      const m = ready.exec(log);
      if (m) { clearTimeout(timer); resolve(m); }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} exited with ${code}:\n${log}`)); });
  });
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
  };
  return { child: { proc, log: () => log, stop }, match };
}

export interface Sidecar {
  port: number;
  adminPort: number;
  pid: number;
  /** The sidecar's Prometheus text. */
  metrics(): Promise<string>;
}

export interface Stack {
  /** The sidecar of BENCH_IDENTITY: the bench policy, with its mask rule. */
  sidecar: Sidecar;
  /** The sidecar of BENCH_IDENTITY_NO_MASK: the same rules without the mask rule. */
  noMask: Sidecar;
  controlPlanePid: number;
  stop(): Promise<void>;
}

export async function startStack(o: {
  pg: { host: string; port: number; database: string };
  /** A database URL for the control plane's store (an empty database). */
  storeUrl: string;
  credential: { username: string; password: string };
}): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'chaperone-bench-'));
  const policy = join(dir, 'policy.yaml');
  const creds = join(dir, 'credentials.yaml');
  writeFileSync(policy, `${benchPolicyYaml(o.pg)}---\n${noMaskPolicyYaml()}`);
  writeFileSync(creds, `bench-db: { username: ${JSON.stringify(o.credential.username)}, password: ${JSON.stringify(o.credential.password)} }\n`);
  const cpPort = await freePort();
  const cp = await startCli([
    'control-plane', '--listen', `127.0.0.1:${cpPort}`, '--database-url', o.storeUrl, '--data-dir', join(dir, 'cp'),
    '--policy', policy, '--credentials', creds, '--dev-issuer', '--log-level', 'warn',
  ], /listening on (\S+)/, 'control plane');
  const cpUrl = cp.match[1] as string;
  const sidecars: Child[] = [];
  const start = async (identity: { namespace: string; serviceAccount: string }, name: string): Promise<Sidecar> => {
    const port = await freePort();
    const adminPort = await freePort();
    const { child } = await startCli([
      'sidecar', '--control-plane', cpUrl, '--dev-identity', `${identity.namespace}/${identity.serviceAccount}`,
      '--port', `${BENCH_CONNECTION}=${port}`, '--spool-dir', join(dir, `spool-${name}`), '--admin-listen', `127.0.0.1:${adminPort}`,
      '--log-level', 'warn',
    ], /chaperone sidecar: ready/, `sidecar (${name})`);
    sidecars.push(child);
    return { port, adminPort, pid: child.proc.pid as number, metrics: async () => (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text() };
  };
  const stop = async (): Promise<void> => {
    for (const s of sidecars) await s.stop();
    await cp.child.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const sidecar = await start(BENCH_IDENTITY, 'mask');
    const noMask = await start(BENCH_IDENTITY_NO_MASK, 'nomask');
    return { sidecar, noMask, controlPlanePid: cp.child.proc.pid as number, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** VmRSS of a process in MB, or NaN when it is gone. */
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * The fields of /proc/PID/stat after the parenthesised command name (so state is [0], ppid [1],
 * utime [11], stime [12], cutime [13], cstime [14]; clock ticks, 100/s); null when it is gone.
 */
function statFields(pid: number | string): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** CPU time (user + system) a process has used so far, in ms; NaN when it is gone. */
export function cpuMs(pid: number): number {
  const f = statFields(pid);
  return f ? (Number(f[11]) + Number(f[12])) * 10 : NaN;
}

/**
 * CPU time a PostgreSQL cluster has used so far, in ms: the postmaster with its reaped children
 * (cutime/cstime, where a backend's time goes when it exits) plus the children still running.
 * Differences of two readings count every backend that ran in between, short-lived ones included.
 */
export function clusterCpuMs(dataDir: string): number {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const own = statFields(postmaster);
  if (!own) return NaN;
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const f = statFields(pid);
    if (f && Number(f[1]) === postmaster) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks * 10;
}

/** Samples a process's RSS every `everyMs` until stopped; returns the peak. */
export function sampleRss(pid: number, everyMs = 100): { stop(): number } {
  let peak = rssMb(pid);
  const timer = setInterval(() => { const v = rssMb(pid); if (v > peak) peak = v; }, everyMs);
  return { stop: () => { clearInterval(timer); const v = rssMb(pid); return v > peak ? v : peak; } };
}

/** The value of an unlabelled or summed metric from Prometheus text. */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
