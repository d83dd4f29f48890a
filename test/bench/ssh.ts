// `make bench`: copying 100 MB with scp straight to a real sshd versus through the chaperone
// sidecar (the CLI's `chaperone sidecar` as its own process, with a real control plane), in the
// same run, interleaved; modern scp (SFTP) and legacy `scp -O`, upload and download; the sidecar's
// RSS during the copies. Goal: ≥ 50 % of direct OpenSSH, sidecar ≤ 150 MB RSS under load.
// Environment: BENCH_SSH_MB (file size, default 100), BENCH_SSH_ROUNDS (default 3).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startTestPostgres } from '@chaperone/control-plane/testing/embedded';
import type { TestPostgres } from '@chaperone/control-plane/testing/embedded';
import { freePort, startSshd } from '../harness/sshd.js';
import type { SshServer } from '../harness/sshd.js';
import { cpuMs, rssMb, startCli } from './stack.js';
import type { Child } from './stack.js';
import { fmt, median, table } from './stats.js';

const MB = positiveInt(process.env.BENCH_SSH_MB, 100);
const ROUNDS = positiveInt(process.env.BENCH_SSH_ROUNDS, 3);
const GOAL_RATIO = 0.5;
const GOAL_RSS_MB = 150;
const CONNECTION = 'bench-ssh';
const CLIENT_OPTIONS = ['-q', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes'];

/** `sftp 32k`: the sftp client held to 32 KiB requests, 64 in flight (its defaults without limits@openssh.com). */
type Mode = 'sftp' | 'sftp 32k' | 'scp -O';
type Direction = 'upload' | 'download';
type Target = 'direct' | 'sidecar';
const MODES: Mode[] = ['sftp', 'sftp 32k', 'scp -O'];
const DIRECTIONS: Direction[] = ['upload', 'download'];

function positiveInt(v: string | undefined, dflt: number): number {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : dflt;
}

const log = (line: string): void => { process.stderr.write(`bench ssh: ${line}\n`); };

function policyYaml(sshd: SshServer): string {
  return `apiVersion: chaperone.dev/v1alpha1
kind: Connection
metadata: { name: ${CONNECTION} }
spec:
  type: ssh
  target: { host: ${sshd.host}, port: ${sshd.port}, user: ${sshd.user}, hostKey: ${JSON.stringify(sshd.hostKey)} }
  credentials: { secretRef: { name: bench-ssh-key } }
  listen: { port: 2222 }
---
apiVersion: chaperone.dev/v1alpha1
kind: AccessPolicy
metadata: { name: bench-ssh-agents }
spec:
  subjects:
    - serviceAccount: { namespace: bench, name: agent }
  connections: [${CONNECTION}]
  rules:
    - { action: deny, match: { commands: [rm, shutdown] }, message: "no deleting" }
    - { action: deny, match: { operations: [port-forward] } }
  default: allow
`;
}

/** VmHWM (the kernel's peak RSS since the process started) in MB, or NaN. */
function hwmMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Runs scp (or sftp with a batch on stdin), resolving with seconds taken; throws on a non-zero exit. */
function scp(args: string[], batch?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(batch === undefined ? '/usr/bin/scp' : '/usr/bin/sftp', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    child.stdin.end(batch ?? '');
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve((performance.now() - t0) / 1000) : reject(new Error(`scp ${args.join(' ')} exited ${code}: ${stderr}`))));
  });
}

async function main(): Promise<void> {
  const began = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'chaperone-bench-ssh-'));
  let sshd: SshServer | undefined;
  let store: TestPostgres | undefined;
  let cp: Child | undefined;
  let sidecar: Child | undefined;
  try {
    sshd = await startSshd();
    const local = join(dir, 'payload.bin');
    const data = randomBytes(MB * 1024 * 1024);
    writeFileSync(local, data);
    const digest = createHash('sha256').update(data).digest('hex');
    const policy = join(dir, 'policy.yaml');
    const creds = join(dir, 'credentials.yaml');
    writeFileSync(policy, policyYaml(sshd));
    writeFileSync(creds, `bench-ssh-key: { username: ${JSON.stringify(sshd.user)}, ssh-privatekey: ${JSON.stringify(sshd.clientKey)} }\n`);
    log('starting the control plane (embedded PostgreSQL store) and the sidecar (CLI child processes)');
    store = await startTestPostgres();
    const cpPort = await freePort();
    const started = await startCli([
      'control-plane', '--listen', `127.0.0.1:${cpPort}`, '--database-url', store.url, '--data-dir', join(dir, 'cp'),
      '--policy', policy, '--credentials', creds, '--dev-issuer', '--log-level', 'warn',
    ], /listening on (\S+)/, 'control plane');
    cp = started.child;
    const sidecarPort = await freePort();
    const adminPort = await freePort();
    sidecar = (await startCli([
      'sidecar', '--control-plane', started.match[1] as string, '--dev-identity', 'bench/agent',
      '--port', `${CONNECTION}=${sidecarPort}`, '--spool-dir', join(dir, 'spool'), '--admin-listen', `127.0.0.1:${adminPort}`,
      '--log-level', 'warn',
    ], /chaperone sidecar: ready/, 'sidecar')).child;
    const pid = sidecar.proc.pid as number;
    await new Promise((r) => setTimeout(r, 1000));
    const idleRss = rssMb(pid);

    const remote = join(sshd.dir, 'payload.bin');
    const back = join(dir, 'back.bin');
    const endpoint: Record<Target, { port: number; user: string; key: string[] }> = {
      direct: { port: sshd.port, user: sshd.user, key: ['-i', sshd.clientKeyPath] },
      sidecar: { port: sidecarPort, user: 'agent', key: [] },
    };
    const copy = async (t: Target, mode: Mode, direction: Direction): Promise<number> => {
      const e = endpoint[t];
      const base = ['-P', String(e.port), ...e.key, ...CLIENT_OPTIONS, ...(mode === 'scp -O' ? ['-O'] : [])];
      const secs = mode === 'sftp 32k'
        ? await scp([...base, '-B', '32768', '-R', '64', '-b', '-', `${e.user}@127.0.0.1`], direction === 'upload' ? `put ${local} ${remote}\n` : `get ${remote} ${back}\n`)
        : direction === 'upload'
        ? await scp([...base, local, `${e.user}@127.0.0.1:${remote}`])
        : await scp([...base, `${e.user}@127.0.0.1:${remote}`, back]);
      const copied = readFileSync(direction === 'upload' ? remote : back);
      if (createHash('sha256').update(copied).digest('hex') !== digest) throw new Error(`${t} ${mode} ${direction}: the copy differs from the original`);
      return secs;
    };

    // Rows keyed `mode/direction/target`: seconds per round; round 1 of the sidecar is its first (cold) copy.
    const seconds = new Map<string, number[]>();
    const cpu = new Map<string, number>();
    /** Peak VmRSS sampled during each kind of copy through the sidecar. */
    const peaks = new Map<string, number>();
    let peakSampled = idleRss;
    const timer = setInterval(() => { const v = rssMb(pid); if (v > peakSampled) peakSampled = v; }, 50);
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        for (const mode of MODES) {
          for (const direction of DIRECTIONS) {
            // Alternate which goes first, so neither always copies into a warm page cache.
            const order: Target[] = round % 2 === 1 ? ['sidecar', 'direct'] : ['direct', 'sidecar'];
            for (const t of order) {
              log(`round ${round}/${ROUNDS}: ${mode} ${direction}, ${t}`);
              const key = `${mode}/${direction}/${t}`;
              const cpu0 = cpuMs(pid);
              if (t === 'sidecar') peakSampled = rssMb(pid);
              seconds.set(key, [...(seconds.get(key) ?? []), await copy(t, mode, direction)]);
              if (t === 'sidecar') {
                cpu.set(key, (cpu.get(key) ?? 0) + cpuMs(pid) - cpu0);
                peaks.set(key, Math.max(peaks.get(key) ?? 0, peakSampled));
              }
            }
          }
        }
      }
    } finally {
      clearInterval(timer);
    }
    const peakHwm = hwmMb(pid);
    const idleAfter = rssMb(pid);

    const out: string[] = [];
    out.push('', `scp of ${MB} MB direct vs through the sidecar: median of ${ROUNDS} interleaved rounds (goal: sidecar ≥ ${GOAL_RATIO * 100} % of direct)`, '');
    const rows: string[][] = [];
    for (const mode of MODES) {
      for (const direction of DIRECTIONS) {
        const d = seconds.get(`${mode}/${direction}/direct`) ?? [];
        const s = seconds.get(`${mode}/${direction}/sidecar`) ?? [];
        const ratio = median(d) / median(s);
        rows.push([`${mode} ${direction}`, fmt(MB / median(d), 1), fmt(MB / median(s), 1), fmt(ratio, 2), fmt((d[0] ?? NaN) / (s[0] ?? NaN), 2),
          ratio >= GOAL_RATIO ? 'yes' : 'NO', fmt((cpu.get(`${mode}/${direction}/sidecar`) ?? NaN) / ROUNDS / MB, 1), fmt(peaks.get(`${mode}/${direction}/sidecar`) ?? NaN), s.map((x) => fmt(MB / x)).join(' ')]);
      }
    }
    out.push(table(['copy', 'direct MB/s', 'sidecar MB/s', 'sidecar/direct', 'round 1', 'goal met', 'sidecar CPU ms/MB', 'peak RSS MB', 'sidecar MB/s per round'], rows));
    out.push('', 'round 1: the first copy of its kind (cold sidecar) as a ratio; sidecar CPU: user+sys of the sidecar process per MB copied',
      '(/proc/<pid>/stat, the steadier number on a shared machine); MB/s figures move with whatever else runs.');
    out.push('', 'Sidecar process (RSS from /proc/<pid>/status)', '');
    out.push(table(['what', 'value'], [
      ['RSS idle after start (VmRSS)', `${fmt(idleRss, 1)} MB`],
      ['RSS peak during the copies (VmRSS sampled every 50 ms)', `${fmt(Math.max(...peaks.values()), 1)} MB`],
      ['RSS high-water mark since start (VmHWM)', `${fmt(peakHwm, 1)} MB (goal ≤ ${GOAL_RSS_MB} MB: ${peakHwm <= GOAL_RSS_MB ? 'met' : 'NOT met'})`],
      ['RSS after the copies', `${fmt(idleAfter, 1)} MB`],
    ]));
    out.push('', `total bench time ${fmt((Date.now() - began) / 1000)} s`, '');
    process.stdout.write(out.join('\n'));
  } finally {
    await sidecar?.stop().catch((err: unknown) => log(`stopping the sidecar: ${String(err)}`));
    await cp?.stop().catch((err: unknown) => log(`stopping the control plane: ${String(err)}`));
    await store?.cleanup().catch((err: unknown) => log(`stopping the store: ${String(err)}`));
    await sshd?.stop().catch((err: unknown) => log(`stopping sshd: ${String(err)}`));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
