// Test harness: a real Debian PostgreSQL 15 in a temp dir, with one user per password method
// (scram-sha-256, md5, cleartext) and a TLS-only user, plus helpers to run psql and pgbench.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync, appendFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const INSTALL_HINT = "install Debian's postgresql and postgresql-client (make deps)";

/** The users the harness creates; each can log in only over its own pg_hba method. */
export const USERS = {
  scram: { username: 'scram_user', password: 'scram-pw-Ⅻ' },
  md5: { username: 'md5_user', password: 'md5-pw' },
  cleartext: { username: 'plain_user', password: 'plain-pw' },
  tls: { username: 'tls_user', password: 'tls-pw' },
} as const;

export const DATABASE = 'app';

export interface RunResult { code: number; stdout: string; stderr: string }

export function binary(name: string): string {
  const candidates = [join(PG_BIN, name), `/usr/bin/${name}`, `/usr/sbin/${name}`];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`${name} not found (looked in ${candidates.join(', ')}): ${INSTALL_HINT}`);
  return found;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function run(cmd: string, args: string[], o: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env: { ...process.env, ...o.env }, timeout: o.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      });
    if (o.input !== undefined) child.stdin?.end(o.input);
  });
}

/** Where to connect and as whom (password optional: the proxy needs none). */
export interface Endpoint { host: string; port: number; user: string; database: string; password?: string }

function libpqEnv(e: Endpoint, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { PGHOST: e.host, PGPORT: String(e.port), PGUSER: e.user, PGDATABASE: e.database, PGSSLMODE: 'disable', PGCONNECT_TIMEOUT: '10', ...extra };
  if (e.password !== undefined) env.PGPASSWORD = e.password;
  return env;
}

/** psql with -X (no psqlrc), -v ON_ERROR_STOP=1 unless overridden by args. */
export function psql(e: Endpoint, args: string[], o: { input?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  const run_ = { env: libpqEnv(e, o.env) } as { env: Record<string, string>; input?: string };
  if (o.input !== undefined) run_.input = o.input;
  return run(binary('psql'), ['-X', '-q', '-At', ...args], run_);
}

export function pgbench(e: Endpoint, args: string[]): Promise<RunResult> {
  return run(binary('pgbench'), args, { env: libpqEnv(e), timeoutMs: 300_000 });
}

export interface PostgresServer {
  host: string;
  port: number;
  dir: string;
  /** PEM of the server's self-signed certificate (CN=localhost, SAN localhost and 127.0.0.1). */
  ca: string;
  /** Superuser endpoint over TCP with trust auth (for set-up and direct baselines). */
  admin: Endpoint;
  /** Runs SQL as the superuser; throws with psql's stderr on failure. */
  sql(text: string, database?: string): Promise<string>;
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

/** Runs as the `postgres` OS user when we are root: initdb and postgres refuse to run as root. */
export function asPostgres(cmd: string, args: string[]): { cmd: string; args: string[] } {
  if (userInfo().uid !== 0) return { cmd, args };
  return { cmd: '/usr/bin/setpriv', args: ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', cmd, ...args] };
}

export function postgresIds(): { uid: number; gid: number } | null {
  if (userInfo().uid !== 0) return null;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error(`running as root needs the 'postgres' OS user: ${INSTALL_HINT}`);
  const parts = line.split(':');
  return { uid: Number(parts[2]), gid: Number(parts[3]) };
}

export async function startPostgres(): Promise<PostgresServer> {
  const initdb = binary('initdb'); const postgresBin = binary('postgres'); binary('psql');
  const dir = mkdtempSync(join(tmpdir(), 'chaperone-pg-'));
  const ids = postgresIds();
  if (ids) chownSync(dir, ids.uid, ids.gid);
  const data = join(dir, 'data');
  const init = asPostgres(initdb, ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const r = await run(init.cmd, init.args);
  if (r.code !== 0) throw new Error(`initdb failed: ${r.stderr}`);

  // Self-signed certificate for the TLS user; key must be owned by the server user, mode 0600.
  const cert = join(data, 'server.crt'); const key = join(data, 'server.key');
  const ssl = await run(binary('openssl'), ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert]);
  if (ssl.code !== 0) throw new Error(`openssl req failed: ${ssl.stderr}`);
  if (ids) { chownSync(cert, ids.uid, ids.gid); chownSync(key, ids.uid, ids.gid); }
  const { chmodSync } = await import('node:fs');
  chmodSync(key, 0o600);

  const port = await freePort();
  appendFileSync(join(data, 'postgresql.conf'), [
    `listen_addresses = '127.0.0.1'`, `port = ${port}`, `unix_socket_directories = '${dir}'`,
    'fsync = off', 'synchronous_commit = off', 'full_page_writes = off', 'max_connections = 100',
    'ssl = on', `ssl_cert_file = '${cert}'`, `ssl_key_file = '${key}'`, `password_encryption = 'scram-sha-256'`,
    'log_min_messages = warning', '',
  ].join('\n'));
  writeFileSync(join(data, 'pg_hba.conf'), [
    'local all all trust',
    `host all ${USERS.scram.username} 127.0.0.1/32 scram-sha-256`,
    `host all ${USERS.md5.username} 127.0.0.1/32 md5`,
    `host all ${USERS.cleartext.username} 127.0.0.1/32 password`,
    `hostssl all ${USERS.tls.username} 127.0.0.1/32 scram-sha-256`,
    `hostnossl all ${USERS.tls.username} 127.0.0.1/32 reject`,
    'host all postgres 127.0.0.1/32 trust', '',
  ].join('\n'));
  if (ids) { chownSync(join(data, 'pg_hba.conf'), ids.uid, ids.gid); }

  let child: ChildProcess | null = null;
  const admin: Endpoint = { host: '127.0.0.1', port, user: 'postgres', database: 'postgres' };

  const start = async (): Promise<void> => {
    const p = asPostgres(postgresBin, ['-D', data]);
    const c = spawn(p.cmd, p.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`postgres did not start within 30 s:\n${log}`)), 30_000);
      c.stderr?.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes('database system is ready to accept connections')) { clearTimeout(timer); resolve(); }
      });
      c.once('exit', (code) => { clearTimeout(timer); reject(new Error(`postgres exited with ${code}:\n${log}`)); });
    });
    c.stderr?.resume();
  };

  const stop = async (): Promise<void> => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => { c.once('exit', () => resolve()); c.kill('SIGINT'); }); // fast shutdown
  };

  const sql = async (text: string, database = 'postgres'): Promise<string> => {
    const res = await psql({ ...admin, database }, ['-v', 'ON_ERROR_STOP=1', '-c', text]);
    if (res.code !== 0) throw new Error(`psql failed (${res.code}): ${res.stderr}`);
    return res.stdout;
  };

  await start();
  await sql(`CREATE DATABASE ${DATABASE}`);
  await sql([
    `CREATE ROLE ${USERS.scram.username} LOGIN PASSWORD '${USERS.scram.password}'`,
    `CREATE ROLE ${USERS.cleartext.username} LOGIN PASSWORD '${USERS.cleartext.password}'`,
    `CREATE ROLE ${USERS.tls.username} LOGIN PASSWORD '${USERS.tls.password}'`,
    `SET password_encryption = 'md5'`,
    `CREATE ROLE ${USERS.md5.username} LOGIN PASSWORD '${USERS.md5.password}'`,
    `GRANT ALL ON DATABASE ${DATABASE} TO ${Object.values(USERS).map((u) => u.username).join(', ')}`,
  ].join('; '));
  await sql(`GRANT ALL ON SCHEMA public TO ${Object.values(USERS).map((u) => u.username).join(', ')}`, DATABASE);

  return {
    host: '127.0.0.1', port, dir, ca: readFileSync(cert, 'utf8'), admin, sql, stop, start,
    restart: async () => { await stop(); await start(); },
    destroy: async () => { await stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}
