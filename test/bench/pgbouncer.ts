// PgBouncer for the benchmark baseline: session pooling in front of the harness PostgreSQL, with a
// generated ini and userlist in a temp dir, run as the postgres OS user when we are root.
import { spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asPostgres, freePort, postgresIds } from '../harness/postgres.js';

export const PGBOUNCER_BIN = process.env.PGBOUNCER_BIN ?? '/usr/sbin/pgbouncer';

export interface Bouncer { port: number; pid: number; stop(): Promise<void> }

export interface BouncerOptions {
  upstream: { host: string; port: number; database: string };
  user: { username: string; password: string };
  maxClients: number;
}

function quote(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}

/** Resolves once something accepts TCP connections on the port. */
async function waitForPort(port: number, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`pgbouncer did not listen on ${port} within ${timeoutMs} ms:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startPgBouncer(o: BouncerOptions): Promise<Bouncer> {
  const dir = mkdtempSync(join(tmpdir(), 'chaperone-bouncer-'));
  const ids = postgresIds();
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  const userlist = join(dir, 'userlist.txt');
  writeFileSync(userlist, `${quote(o.user.username)} ${quote(o.user.password)}\n`);
  writeFileSync(ini, [
    '[databases]',
    `${o.upstream.database} = host=${o.upstream.host} port=${o.upstream.port} dbname=${o.upstream.database}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1', `listen_port = ${port}`, "unix_socket_dir = ''",
    // Clients are local and trusted (like the sidecar's agent side); the server login uses the userlist.
    'auth_type = trust', `auth_file = ${userlist}`,
    'pool_mode = session', `max_client_conn = ${o.maxClients + 10}`, `default_pool_size = ${o.maxClients + 5}`,
    `logfile = ${join(dir, 'pgbouncer.log')}`, `pidfile = ${join(dir, 'pgbouncer.pid')}`,
    'log_connections = 0', 'log_disconnections = 0', '',
  ].join('\n'));
  if (ids) for (const f of [dir, ini, userlist]) chownSync(f, ids.uid, ids.gid);

  // PgBouncer refuses to run as root, like PostgreSQL.
  const { cmd, args } = asPostgres(PGBOUNCER_BIN, [ini]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (err) => { log += `spawn failed: ${err.message} (install pgbouncer: make deps)\n`; });
  await waitForPort(port, 10_000, () => log);
  return {
    port,
    pid: child.pid as number, // setpriv execs pgbouncer in place
    stop: async () => {
      if (child.exitCode === null) { child.kill('SIGINT'); await exited; }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
