// The all-in-one local stack: control plane on its embedded store, a seeded demo PostgreSQL,
// and a sidecar in front of it acting for one identity. Used by `chaperone dev` and `demo`.
import { mkdir, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import postgres from 'postgres';
import type { ConnectionDoc } from '@chaperone/core/policy/types';
import { API_VERSION } from '@chaperone/core/policy/types';
import { defaultDataDir } from '@chaperone/core/paths';
import { loadOrCreateSecret } from '@chaperone/core/secret-file';
import type { Identity } from '@chaperone/core/records/types';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '@chaperone/control-plane/embedded';
import { runControlPlane } from '@chaperone/control-plane/server';
import { runSidecar } from '@chaperone/sidecar/sidecar';
import { DEMO_SEED_VERSION, demoSeedSql } from './seed.js';
import { stderrLogger, type LogLevel } from '../logging.js';
import { devStateFile, type DevState } from '../operator-client.js';

export interface DevStackOptions {
  policyPaths: string[];
  identity: Identity;
  /** Defaults to ${XDG_DATA_HOME:-~/.local/share}/chaperone/dev. */
  dataDir?: string;
  /** Progress lines for long steps (first start of the embedded databases). */
  progress?: (line: string) => void;
  logLevel?: string;
  /** Publish the stack's addresses for other commands (`chaperone sessions …`); `dev` does, `demo` does not. */
  publishState?: boolean;
}

export interface DevStack {
  /** What the agent uses: no password, the sidecar holds the credential. */
  postgresUrl: string;
  controlPlaneUrl: string;
  adminToken: string;
  /** Prometheus endpoints of the stack's processes. */
  metrics: { sidecar: string; controlPlane: string };
  close(): Promise<void>;
}

export const DEMO_CONNECTION = 'demo';
const DEMO_SECRET = 'demo-db';
const DEMO_USER = 'demo_owner';

export function defaultDevDataDir(): string {
  return defaultDataDir('dev');
}

async function seedDemoDatabase(adminUrl: string, password: string, progress: (l: string) => void): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [role] = await admin`SELECT 1 FROM pg_roles WHERE rolname = ${DEMO_USER}`;
    if (!role) await admin.unsafe(`CREATE ROLE ${DEMO_USER} LOGIN PASSWORD '${password.replace(/'/g, "''")}'`);
    else await admin.unsafe(`ALTER ROLE ${DEMO_USER} PASSWORD '${password.replace(/'/g, "''")}'`);
    const [db] = await admin<{ seed: string | null }[]>`SELECT shobj_description(oid, 'pg_database') AS seed FROM pg_database WHERE datname = 'demo'`;
    // A database seeded by an older version lacks what today's demo shows: it is demo data, re-create it.
    if (db && db.seed !== DEMO_SEED_VERSION) {
      progress('the demo database was seeded by an older version: re-creating it');
      await admin.unsafe('DROP DATABASE demo WITH (FORCE)');
    }
    if (!db || db.seed !== DEMO_SEED_VERSION) {
      progress('creating and seeding the demo database');
      await admin.unsafe(`CREATE DATABASE demo OWNER ${DEMO_USER}`);
      const demo = postgres(adminUrl.replace(/\/[^/?]*(\?|$)/, '/demo$1'), { max: 1, onnotice: () => {} });
      try {
        await demo.unsafe(`SET ROLE ${DEMO_USER}; ${demoSeedSql()}`);
      } finally {
        await demo.end();
      }
      // Marked last, so a seed interrupted half-way is re-created on the next start.
      await admin.unsafe(`COMMENT ON DATABASE demo IS '${DEMO_SEED_VERSION}'`);
    }
  } finally {
    await admin.end();
  }
}

export async function startDevStack(opts: DevStackOptions): Promise<DevStack> {
  const progress = opts.progress ?? (() => {});
  const logLevel = (opts.logLevel ?? 'warn') as LogLevel;
  const dataDir = opts.dataDir ?? defaultDevDataDir();
  // Traversable: as root, the embedded PostgreSQL runs as the postgres user and must reach its folder.
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    progress('starting the demo PostgreSQL');
    const demoPg: EmbeddedPostgresHandle = await startEmbeddedPostgres({ dataDir: join(dataDir, 'demo-db'), progress });
    closers.push(() => demoPg.stop());
    const demoPassword = await loadOrCreateSecret(join(dataDir, 'demo-password'));
    await seedDemoDatabase(demoPg.url, demoPassword, progress);

    const demoConnection: ConnectionDoc = {
      apiVersion: API_VERSION,
      kind: 'Connection',
      metadata: { name: DEMO_CONNECTION },
      spec: {
        type: 'postgres',
        target: { host: '127.0.0.1', port: demoPg.port, database: 'demo', sslmode: 'disable' },
        credentials: { secretRef: { name: DEMO_SECRET } },
        listen: { port: 5432 },
      },
    };
    const adminToken = await loadOrCreateSecret(join(dataDir, 'admin-token'));
    progress('starting the control plane');
    const cp = await runControlPlane({
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: join(dataDir, 'control-plane'),
      policyPaths: opts.policyPaths,
      devIssuer: true,
      adminToken,
      logLevel,
    }, {
      progress,
      extraDocs: [demoConnection],
      extraCredentials: { [DEMO_SECRET]: { username: DEMO_USER, password: demoPassword } },
    });
    closers.push(() => cp.close());

    progress(`starting the sidecar for ${opts.identity.namespace}/${opts.identity.serviceAccount}`);
    const sidecar = await runSidecar({
      controlPlane: { url: cp.url },
      token: { type: 'dev', namespace: opts.identity.namespace, serviceAccount: opts.identity.serviceAccount },
      listenHost: '127.0.0.1',
      ports: { [DEMO_CONNECTION]: 0 },
      spoolDir: join(dataDir, 'spool'),
      admin: { host: '127.0.0.1', port: 0 },
      logLevel,
    }, { logger: stderrLogger('chaperone-sidecar', logLevel) });
    closers.push(() => sidecar.close());
    await sidecar.ready;
    const port = sidecar.ports[DEMO_CONNECTION];
    if (port === undefined) {
      throw new Error(`the sidecar exposes no "${DEMO_CONNECTION}" connection for ${opts.identity.namespace}/${opts.identity.serviceAccount}: does an AccessPolicy grant it?`);
    }
    const stack: DevStack = {
      postgresUrl: `postgres://agent@127.0.0.1:${port}/demo`,
      controlPlaneUrl: cp.url,
      adminToken,
      metrics: { sidecar: `http://127.0.0.1:${sidecar.adminPort}/metrics`, controlPlane: `${cp.url}/metrics` },
      close,
    };
    progress(`metrics: sidecar ${stack.metrics.sidecar}, control plane ${stack.metrics.controlPlane}`);
    if (opts.publishState) {
      const state: DevState = { pid: process.pid, controlPlane: cp.url, postgres: stack.postgresUrl, adminToken };
      await mkdir(join(devStateFile(), '..'), { recursive: true });
      await writeFile(devStateFile(), JSON.stringify(state), { mode: 0o600 });
      closers.push(() => rm(devStateFile(), { force: true }));
    }
    return stack;
  } catch (err) {
    await close();
    throw err;
  }
}
