// Test helper: the whole app on a real store, with in-memory policy documents and credentials.
import type { FastifyInstance } from 'fastify';
import type { PolicyDoc } from '@chaperone/core/policy/types';
import type { Identity } from '@chaperone/core/records/types';
import { buildApp, type AppDeps } from '../app.js';
import { ChainedCredentialSource, StaticCredentialSource, type CredentialSource, type UserPassword } from '../credentials/source.js';
import { GrantAuthority } from '../grants.js';
import { DevIssuer } from '../identity/dev-issuer.js';
import { createMetrics, type ControlPlaneMetrics } from '../metrics.js';
import { PolicyState } from '../policies/state.js';
import { PostgresStore } from '../store/postgres-store.js';

export interface TestApp {
  app: FastifyInstance;
  store: PostgresStore;
  issuer: DevIssuer;
  grants: GrantAuthority;
  metrics: ControlPlaneMetrics;
  /** Replace the documents and reload, as a changed policy file plus SIGHUP would. */
  setDocs(docs: PolicyDoc[]): Promise<void>;
  /** A dev token exchanged for a grant: what a sidecar holds after start-up. */
  grantFor(identity: Identity): Promise<string>;
  close(): Promise<void>;
}

export async function buildTestApp(databaseUrl: string, init: {
  docs: PolicyDoc[];
  secrets?: Record<string, UserPassword>;
  /** More credential sources after the static secrets (e.g. a TokenRequestSource on a test cluster). */
  credentialSources?: CredentialSource[];
  adminToken?: string;
  grantTtlSeconds?: number;
  onRoute?: AppDeps['onRoute'];
  approvals?: AppDeps['approvals'];
}): Promise<TestApp> {
  const store = await PostgresStore.open(databaseUrl);
  let docs = init.docs;
  const policies = new PolicyState(async () => docs);
  await policies.reload();
  const issuer = await DevIssuer.create(store);
  const grants = await GrantAuthority.create(store, init.grantTtlSeconds ?? 900);
  const metrics = createMetrics();
  const app = await buildApp({
    config: { adminToken: init.adminToken, bodyLimitBytes: 8 * 1024 * 1024 },
    store, policies, grants, metrics, verifier: issuer, devIssuer: issuer,
    credentials: new ChainedCredentialSource([new StaticCredentialSource(init.secrets ?? {}), ...(init.credentialSources ?? [])]),
    onRoute: init.onRoute,
    ...(init.approvals ? { approvals: init.approvals } : {}),
  });
  return {
    app, store, issuer, grants, metrics,
    async setDocs(next) {
      docs = next;
      const r = await app.reloadPolicies();
      if (!r.ok) throw new Error(r.error);
    },
    async grantFor(identity) {
      const { token } = await issuer.issue(identity);
      const res = await app.inject({ method: 'POST', url: '/v1/exchange', payload: { token } });
      if (res.statusCode !== 200) throw new Error(`exchange failed: ${res.statusCode} ${res.body}`);
      return (res.json() as { grant: string }).grant;
    },
    async close() {
      policies.close();
      await app.close();
      await store.close();
    },
  };
}

/** A Connection and an AccessPolicy for one service account, as the design brief's example. */
export function sampleDocs(opts: { namespace?: string; name?: string; connection?: string; secret?: string } = {}): PolicyDoc[] {
  const connection = opts.connection ?? 'orders-db';
  return [
    {
      apiVersion: 'chaperone.dev/v1alpha1',
      kind: 'Connection',
      metadata: { name: connection },
      spec: {
        type: 'postgres',
        target: { host: '127.0.0.1', port: 5432, database: 'orders' },
        credentials: { secretRef: { name: opts.secret ?? `${connection}-admin` } },
        listen: { port: 5432 },
      },
    },
    {
      apiVersion: 'chaperone.dev/v1alpha1',
      kind: 'AccessPolicy',
      metadata: { name: 'support-agents' },
      spec: {
        subjects: [{ serviceAccount: { namespace: opts.namespace ?? 'agents', name: opts.name ?? 'support-bot' } }],
        connections: [connection],
        rules: [{ action: 'deny', match: { statements: ['drop', 'truncate'] }, message: 'no schema changes' }],
        default: 'allow',
      },
    },
  ];
}
