// The control plane and sidecar in-process, as the PostgreSQL end-to-end tests run them: the
// dev issuer, an admin token, one `postgres` Connection to the harness's server logged into as
// its scram user, and a sidecar for agents/bot (dev token) listening on a free port.
import { join } from 'node:path';
import { pino } from 'pino';
import type { ConnectionDoc } from '@chaperone/core/policy/types';
import { runControlPlane } from '@chaperone/control-plane/server';
import type { RunningControlPlane } from '@chaperone/control-plane/server';
import { runSidecar } from '@chaperone/sidecar/sidecar';
import type { RunningSidecar } from '@chaperone/sidecar/sidecar';
import { DATABASE, USERS } from './postgres.js';
import type { PostgresServer } from './postgres.js';

export interface DevControlPlaneOptions {
  /** 0 for any free port; a fixed one when the test restarts the control plane on it. */
  port: number;
  databaseUrl: string;
  /** The control plane's data folder is `<dir>/cp`; the policy file is `policyPath`. */
  dir: string;
  policyPath: string;
  adminToken: string;
  /** The name of the Connection to `pg`'s DATABASE. */
  connection: string;
  pg: PostgresServer;
}

/** runControlPlane with the dev issuer, granting `connection` with the scram user's password. */
export function startDevControlPlane(o: DevControlPlaneOptions): Promise<RunningControlPlane> {
  const connection: ConnectionDoc = {
    apiVersion: 'chaperone.dev/v1alpha1', kind: 'Connection', metadata: { name: o.connection },
    spec: { type: 'postgres', target: { host: o.pg.host, port: o.pg.port, database: DATABASE, sslmode: 'disable' }, credentials: { secretRef: { name: 'app-secret' } }, listen: { port: 5432 } },
  };
  return runControlPlane({
    listen: { host: '127.0.0.1', port: o.port }, databaseUrl: o.databaseUrl, dataDir: join(o.dir, 'cp'),
    policyPaths: [o.policyPath], devIssuer: true, adminToken: o.adminToken, logLevel: 'silent',
  }, { extraDocs: [connection], extraCredentials: { 'app-secret': { ...USERS.scram } }, reloadOnSighup: false, progress: () => undefined });
}

/** runSidecar as agents/bot (dev token), `connection` on a free port; not yet awaited ready. */
export function startDevSidecar(controlPlaneUrl: string, connection: string, spoolDir: string): Promise<RunningSidecar> {
  return runSidecar({
    controlPlane: { url: controlPlaneUrl, requestTimeoutMs: 2_000 }, token: { type: 'dev', namespace: 'agents', serviceAccount: 'bot' },
    ports: { [connection]: 0 }, spoolDir, admin: { port: 0 }, logLevel: 'silent', bundleWaitSeconds: 1,
  }, { logger: pino({ level: 'silent' }) });
}
