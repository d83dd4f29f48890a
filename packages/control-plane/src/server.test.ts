// runControlPlane end to end: embedded PostgreSQL in a fresh data dir, policy files plus in-memory
// documents, a real listener, reload, and a restart that keeps keys and data.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, stat, writeFile, lstat, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ExchangeResponse } from '@chaperone/core/api';
import type { ConnectionDoc, PolicyBundle } from '@chaperone/core/policy/types';
import { isChaperoneError } from '@chaperone/core/errors';
import { ensureNativeSymlinks } from './embedded.js';
import { runControlPlane, type RunningControlPlane } from './server.js';

const demo: ConnectionDoc = {
  apiVersion: 'chaperone.dev/v1alpha1',
  kind: 'Connection',
  metadata: { name: 'demo' },
  spec: { type: 'postgres', target: { host: '127.0.0.1', port: 5432, database: 'demo' }, credentials: { secretRef: { name: 'demo-owner' } }, listen: { port: 5432 } },
};

const policyYaml = (rule: string) => `apiVersion: chaperone.dev/v1alpha1
kind: AccessPolicy
metadata: { name: demo-agents }
spec:
  subjects:
    - serviceAccount: { namespace: default, name: "*" }
  connections: [demo]
  rules:
    - { action: deny, match: { statements: [${rule}] }, message: "not here" }
  default: allow
`;

let dir: string;
let policyFile: string;
const progress: string[] = [];

function start(): Promise<RunningControlPlane> {
  return runControlPlane(
    { listen: { host: '127.0.0.1', port: 0 }, dataDir: join(dir, 'data'), policyPaths: [policyFile], devIssuer: true, logLevel: 'silent' },
    { extraDocs: [demo], extraCredentials: { 'demo-owner': { username: 'demo', password: 'demo-pw' } }, progress: (l) => progress.push(l), reloadOnSighup: false },
  );
}

async function json<T>(url: string, init?: { method?: string; body?: unknown; bearer?: string }): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method: init?.method ?? 'GET',
    headers: { ...(init?.body === undefined ? {} : { 'content-type': 'application/json' }), ...(init?.bearer ? { authorization: `Bearer ${init.bearer}` } : {}) },
    body: init?.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: (res.status === 304 ? undefined : await res.json()) as T };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chaperone-cp-server-'));
  await chmod(dir, 0o755); // as root, the embedded server runs as `postgres` and must enter it
  policyFile = join(dir, 'policy.yaml');
  await writeFile(policyFile, policyYaml('drop'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the native library symlinks are in place and ensuring them again changes nothing', async () => {
  await ensureNativeSymlinks();
  assert.equal(await ensureNativeSymlinks(), 0);
});

test('a first start initialises the store, serves the API, reloads policies; a restart keeps keys and data', async () => {
  let cp = await start();
  let grant: string;
  let firstVersion: string;
  try {
    assert.ok(progress.some((l) => l.startsWith('initialising embedded PostgreSQL in ')), progress.join('\n'));
    assert.ok(progress.some((l) => /started on port \d+/.test(l)), progress.join('\n'));
    assert.equal((await stat(join(dir, 'data', 'pg-password'))).mode & 0o777, 0o600);
    assert.match(cp.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await json(`${cp.url}/readyz`)).status, 200);

    const dev = await json<{ token: string }>(`${cp.url}/v1/dev/tokens`, { method: 'POST', body: { namespace: 'default', serviceAccount: 'demo-agent' } });
    assert.equal(dev.status, 200);
    const ex = await json<ExchangeResponse>(`${cp.url}/v1/exchange`, { method: 'POST', body: { token: dev.body.token } });
    assert.equal(ex.status, 200, JSON.stringify(ex.body));
    assert.deepEqual(ex.body.credentials, { demo: { type: 'password', username: 'demo', password: 'demo-pw' } });
    assert.deepEqual(ex.body.bundle.connections, [demo]);
    grant = ex.body.grant;
    firstVersion = ex.body.bundle.version;

    await writeFile(policyFile, policyYaml('drop, truncate'));
    const reloaded = await cp.reloadPolicies();
    assert.deepEqual(reloaded, { ok: true, documents: 2, changed: true });
    const next = await json<PolicyBundle>(`${cp.url}/v1/bundle?version=${firstVersion}&wait=0`, { bearer: grant });
    assert.equal(next.status, 200);
    assert.notEqual(next.body.version, firstVersion);

    // A broken policy file is refused; the policies in force stay.
    await writeFile(policyFile, 'kind: AccessPolicy\nspec: {}\n');
    const refused = await cp.reloadPolicies();
    assert.equal(refused.ok, false);
    assert.equal((await json(`${cp.url}/v1/bundle?version=${next.body.version}&wait=0`, { bearer: grant })).status, 304);
    await writeFile(policyFile, policyYaml('drop, truncate'));
  } finally {
    await cp.close();
  }

  progress.length = 0;
  cp = await start();
  try {
    assert.ok(!progress.some((l) => l.startsWith('initialising')), 'the second start must reuse the cluster');
    // The grant from before the restart still verifies: the signing key was persisted.
    const bundle = await json<PolicyBundle>(`${cp.url}/v1/bundle?wait=0`, { bearer: grant });
    assert.equal(bundle.status, 200);
    assert.deepEqual(bundle.body.connections.map((c) => c.metadata.name), ['demo']);
  } finally {
    await cp.close();
  }
  // Closing stops the embedded server: its postmaster.pid is gone.
  await assert.rejects(lstat(join(dir, 'data', 'pg', 'postmaster.pid')));
  assert.match(await readFile(join(dir, 'data', 'pg-password'), 'utf8'), /^\S{20,}\n$/);
});

test('invalid configuration is refused before anything starts', async () => {
  await assert.rejects(runControlPlane({ listen: { port: 70000 } }), (err) => isChaperoneError(err, 'CONFIG_ERR_INVALID') && /listen\.port/.test(err.message));
  await assert.rejects(runControlPlane({ grantTtl: 'soon' }), (err) => isChaperoneError(err, 'CONFIG_ERR_INVALID') && /grantTtl/.test(err.message));
});
