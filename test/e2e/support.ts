// Shared pieces for the end-to-end tests: the compiled `chaperone` command as a child process
// (one-shot runs and long-running ones waited on by their output), temp folders the embedded
// PostgreSQL can reach as root, and bounded polling with a message that says what was awaited.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: found by walking up, so this works from test/e2e and test/dist/e2e. */
export const REPO_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'packages', 'cli', 'bin', 'chaperone.js'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (packages/cli/bin/chaperone.js) above the test file');
    dir = up;
  }
  return dir;
})();

export const CLI = join(REPO_ROOT, 'packages', 'cli', 'bin', 'chaperone.js');
export const DEMO_POLICY = join(REPO_ROOT, 'packages', 'cli', 'assets', 'demo-policy.yaml');

/** A postgres Connection document the CLI tests pair with their own AccessPolicy. */
export const ORDERS_DB_CONNECTION = `apiVersion: chaperone.dev/v1alpha1
kind: Connection
metadata: { name: orders-db }
spec:
  type: postgres
  target: { host: orders.prod.svc, port: 5432, database: orders }
  credentials: { secretRef: { name: orders-admin } }
  listen: { port: 5432 }
`;

/** The CLI runs from dist: fail with the fix rather than with a module-not-found trace. */
export function requireBuiltCli(): void {
  if (!existsSync(join(REPO_ROOT, 'packages', 'cli', 'dist', 'main.js'))) {
    throw new Error('packages/cli/dist/main.js is missing: run `npx tsc -b` (or `make build`) before the end-to-end tests');
  }
}

/** A temp folder anyone may traverse: as root, the embedded PostgreSQL runs as `postgres`. */
export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `chaperone-e2e-${prefix}-`));
  chmodSync(path, 0o755);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Runs `chaperone ARGS…` to completion (bounded), with extra environment variables. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 180_000): Promise<CliResult> {
  requireBuiltCli();
  return new Promise((resolve_, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`chaperone ${args.join(' ')} did not finish within ${timeoutMs / 1000} s\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('close', (code, signal) => { clearTimeout(timer); resolve_({ code, signal, stdout, stderr }); });
  });
}

/** A long-running `chaperone` child whose output is kept whole for later assertions. */
export class CliProcess {
  stdout = '';
  stderr = '';
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => { this.stdout += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    this.exited = new Promise((resolve_) => child.once('close', (code, signal) => resolve_({ code, signal })));
  }

  static start(args: string[], env: Record<string, string> = {}): CliProcess {
    requireBuiltCli();
    return new CliProcess(spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for a complete stdout line that `match` accepts; fails early if the child exits. */
  async line(match: (line: string) => boolean, what: string, timeoutMs = 180_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.stdout.split('\n').slice(0, -1).find(match);
      if (found !== undefined) return found;
      if (!this.running) throw new Error(`chaperone exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
      await sleep(50);
    }
  }

  /** Sends `signal` and waits (bounded) for the exit; SIGKILL and a throw if it hangs. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error(`chaperone did not exit within ${timeoutMs / 1000} s of ${signal}\nstderr:\n${this.stderr}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, hung]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Polls `check` until it returns a value other than undefined/false; throws naming `what`. */
export async function eventually<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: last error ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${why}`);
    }
    await sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
