// Kubernetes identity and credentials on a real kube-apiserver: pod-bound projected tokens (from the
// TokenRequest API, as the kubelet would project them) verified by TokenReview and by the issuer's
// JWKS, pod labels for podSelector subjects, Secrets watched for credentials, and a full exchange
// from a sidecar to PostgreSQL through a control plane that trusts only the cluster — until the
// pod is deleted. The control plane talks to the API server as its own service account, with
// exactly the RBAC the chart grants, so missing permissions would fail here too.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import postgres from 'postgres';
import type { ConnectionDoc } from '@chaperone/core/policy/types';
import { isChaperoneError } from '@chaperone/core/errors';
import { KubernetesCredentialSource } from '@chaperone/control-plane/credentials/kubernetes-source';
import { JwksVerifier } from '@chaperone/control-plane/identity/jwks';
import { KubernetesPodLabels } from '@chaperone/control-plane/identity/pod-labels';
import { TokenReviewVerifier } from '@chaperone/control-plane/identity/token-review';
import { runControlPlane, type RunningControlPlane } from '@chaperone/control-plane/server';
import { runSidecar, type RunningSidecar } from '@chaperone/sidecar/sidecar';
import { startKubeApiServer, type KubeApiServer } from '../harness/kube.js';
import { DATABASE, USERS, startPostgres, type PostgresServer } from '../harness/postgres.js';
import { eventually, tempDir } from './support.js';

const NS = 'agents';
const CP_NS = 'chaperone-system';
const SECRET = 'app-db-creds';
const CONNECTION = 'app-db';
const ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** What the chart grants the control plane: TokenReview, pod reads, the named Secrets. */
function rbac(): object {
  return {
    apiVersion: 'v1', kind: 'List', items: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: CP_NS } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'control-plane', namespace: CP_NS } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'chaperone-control-plane' },
        rules: [
          { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
          { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'chaperone-control-plane' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'chaperone-control-plane' },
        subjects: [{ kind: 'ServiceAccount', name: 'control-plane', namespace: CP_NS }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'chaperone-secrets', namespace: CP_NS },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch'], resourceNames: [SECRET, 'rotating', 'half'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'chaperone-secrets', namespace: CP_NS },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'chaperone-secrets' },
        subjects: [{ kind: 'ServiceAccount', name: 'control-plane', namespace: CP_NS }],
      },
    ],
  };
}

function secret(name: string, data: Record<string, string>): object {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: CP_NS }, stringData: data };
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isChaperoneError(err), `a ChaperoneError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe('Kubernetes identity and credentials', () => {
  const dir = tempDir('identity');
  let kube: KubeApiServer;
  let pg: PostgresServer;
  let admin: CoreV1Api;
  /** The control plane's own kubeconfig: a token of its service account, nothing more. */
  let cpKubeconfig: string;
  let cpKube: KubeConfig;
  let pod: V1Pod;
  const closers: (() => Promise<unknown>)[] = [];

  const podToken = async (sa: string, podName: string, audience = 'chaperone', uid?: string): Promise<string> => {
    const r = await admin.createNamespacedServiceAccountToken({
      name: sa, namespace: NS,
      body: { spec: { audiences: [audience], expirationSeconds: 600, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: podName, ...(uid ? { uid } : {}) } } },
    });
    assert.ok(r.status?.token);
    return r.status.token;
  };
  const createPod = (name: string, sa: string, labels: Record<string, string>) => admin.createNamespacedPod({
    namespace: NS, body: { metadata: { name, labels }, spec: { serviceAccountName: sa, containers: [{ name: 'agent', image: 'agent' }] } },
  });
  const apply = async (doc: object): Promise<void> => {
    const r = await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify(doc) });
    assert.equal(r.code, 0, r.stderr);
  };

  before(async () => {
    [kube, pg] = await Promise.all([startKubeApiServer(), startPostgres()]);
    const kc = new KubeConfig();
    kc.loadFromFile(kube.kubeconfigPath);
    admin = kc.makeApiClient(CoreV1Api);
    await apply(rbac());
    for (const sa of ['bot', 'other', 'doomed']) await admin.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: sa } } });
    pod = await createPod('agent-1', 'bot', { app: 'support' });
    const cpToken = (await admin.createNamespacedServiceAccountToken({ name: 'control-plane', namespace: CP_NS, body: { spec: { expirationSeconds: 3600 } } })).status?.token;
    assert.ok(cpToken);
    cpKubeconfig = join(dir.path, 'control-plane.kubeconfig');
    writeFileSync(cpKubeconfig, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'cp',
      clusters: [{ name: 'test', cluster: { server: kube.url, 'certificate-authority': kube.caCertPath } }],
      users: [{ name: 'control-plane', user: { token: cpToken } }],
      contexts: [{ name: 'cp', context: { cluster: 'test', user: 'control-plane' } }],
    }));
    cpKube = new KubeConfig();
    cpKube.loadFromFile(cpKubeconfig);
    await apply(secret(SECRET, { username: USERS.scram.username, password: USERS.scram.password }));
  });

  after(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await kube?.stop();
    await pg?.destroy();
    dir.remove();
  });

  it('TokenReview: a pod-bound token names its namespace, service account and pod', async () => {
    const verifier = TokenReviewVerifier.fromKubeConfig(cpKube);
    const identity = await verifier.verify(await podToken('bot', 'agent-1'));
    assert.deepEqual(identity, { namespace: NS, serviceAccount: 'bot', pod: { name: 'agent-1', uid: pod.metadata?.uid } });
  });

  it('TokenReview: wrong audience, garbage and a deleted service account are refused precisely', async () => {
    const verifier = TokenReviewVerifier.fromKubeConfig(cpKube);
    await expectCode(verifier.verify(await podToken('bot', 'agent-1', 'vault')), 'AUTH_ERR_TOKEN_AUDIENCE');
    await expectCode(verifier.verify('not-a-token'), 'AUTH_ERR_TOKEN_MALFORMED');
    await createPod('doomed-pod', 'doomed', {});
    const token = await podToken('doomed', 'doomed-pod');
    assert.equal((await verifier.verify(token)).serviceAccount, 'doomed');
    await admin.deleteNamespacedServiceAccount({ name: 'doomed', namespace: NS });
    // The API server caches successful authentications for about 10 s.
    await eventually('the token of a deleted service account to be refused', async () => {
      const err = await verifier.verify(token).then(() => undefined, (e: unknown) => e);
      return isChaperoneError(err) && err.code === 'AUTH_ERR_SERVICE_ACCOUNT_UNKNOWN';
    }, 60_000);
  });

  it('TokenReview: without RBAC for tokenreviews the API is unavailable (503), not the token invalid', async () => {
    const none = new KubeConfig();
    none.loadFromOptions({
      clusters: [{ name: 'test', server: kube.url, caFile: kube.caCertPath }],
      users: [{ name: 'other', token: (await admin.createNamespacedServiceAccountToken({ name: 'other', namespace: NS, body: { spec: { expirationSeconds: 600 } } })).status?.token ?? '' }],
      contexts: [{ name: 'c', cluster: 'test', user: 'other' }], currentContext: 'c',
    });
    await expectCode(TokenReviewVerifier.fromKubeConfig(none).verify(await podToken('bot', 'agent-1')), 'AUTH_ERR_KUBERNETES_UNAVAILABLE');
  });

  it('JWKS: the issuer\'s keys from the API server give the same identity; audience and expiry are checked', async () => {
    // /openid/v1/jwks is served to authenticated callers; service accounts may read it by default.
    const verifier = await JwksVerifier.fromKubernetes(cpKube, {});
    const token = await podToken('bot', 'agent-1');
    assert.deepEqual(await verifier.verify(token), { namespace: NS, serviceAccount: 'bot', pod: { name: 'agent-1', uid: pod.metadata?.uid } });
    await expectCode(verifier.verify(await podToken('bot', 'agent-1', 'vault')), 'AUTH_ERR_TOKEN_AUDIENCE');
    // TokenRequest's shortest lifetime is 10 minutes: check the same token eleven minutes on.
    const later = await JwksVerifier.fromKubernetes(cpKube, { clock: () => new Date(Date.now() + 11 * 60_000) });
    await expectCode(later.verify(token), 'AUTH_ERR_TOKEN_EXPIRED');
    const wrongIssuer = await JwksVerifier.fromKubernetes(cpKube, { issuer: 'https://elsewhere.example' });
    await expectCode(wrongIssuer.verify(token), 'AUTH_ERR_TOKEN_INVALID');
  });

  it('JWKS: from a saved key file as well', async () => {
    const raw = await kube.kubectl(['get', '--raw', '/openid/v1/jwks']);
    assert.equal(raw.code, 0, raw.stderr);
    const file = join(dir.path, 'jwks.json');
    writeFileSync(file, raw.stdout);
    const verifier = await JwksVerifier.fromFile(file, { issuer: ISSUER });
    assert.equal((await verifier.verify(await podToken('bot', 'agent-1'))).pod?.name, 'agent-1');
  });

  it('pod labels: read with the control plane\'s RBAC; a UID that does not match is a gone pod', async () => {
    const labels = KubernetesPodLabels.fromKubeConfig(cpKube);
    const identity = { namespace: NS, serviceAccount: 'bot', pod: { name: 'agent-1', uid: pod.metadata?.uid ?? '' } };
    assert.deepEqual(await labels.labelsFor(identity), { app: 'support' });
    assert.equal(await labels.labelsFor({ namespace: NS, serviceAccount: 'bot' }), undefined);
    await expectCode(labels.labelsFor({ ...identity, pod: { name: 'agent-1', uid: 'another-uid' } }), 'AUTH_ERR_POD_GONE');
    await expectCode(labels.labelsFor({ ...identity, pod: { name: 'never-was', uid: 'x' } }), 'AUTH_ERR_POD_GONE');
  });

  it('Secrets: read once, then kept current by the watch; absent and half-filled Secrets are told apart', async () => {
    const source = new KubernetesCredentialSource(cpKube, { namespace: CP_NS, retryDelayMs: 200 });
    closers.push(() => source.close());
    await apply(secret('rotating', { username: 'app', password: 'one' }));
    assert.deepEqual(await source.get({ name: 'rotating' }), { type: 'password', username: 'app', password: 'one' });
    await apply(secret('rotating', { username: 'app', password: 'two' }));
    await eventually('the watch to deliver the rotated password', async () => { const c = await source.get({ name: 'rotating' }); return c?.type === 'password' && c.password === 'two'; });
    assert.equal(await source.get({ name: 'half' }), undefined, 'a Secret that does not exist (yet)');
    await apply(secret('half', { username: 'app' }));
    await eventually('the watch to see the new Secret', async () => {
      const err = await source.get({ name: 'half' }).then(() => undefined, (e: unknown) => e);
      return isChaperoneError(err, 'CREDENTIALS_ERR_KUBERNETES') && /Secret chaperone-system\/half has no password or ssh-privatekey key/.test(err.message);
    });
    // Not granted by RBAC: a clear error, not an empty answer.
    await expectCode(source.get({ name: 'forbidden' }), 'CREDENTIALS_ERR_KUBERNETES');
    await expectCode(source.get({ name: SECRET, namespace: NS }), 'CREDENTIALS_ERR_KUBERNETES');
  });

  describe('a sidecar with a pod-bound token, through a TokenReview control plane', () => {
    let cp: RunningControlPlane;
    let sidecar: RunningSidecar;
    let agentToken: string;

    const exchange = async (token: string): Promise<{ status: number; code?: string }> => {
      const res = await fetch(`${cp.url}/v1/exchange`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
      const body = (await res.json()) as { error?: { code?: string } };
      return { status: res.status, ...(body.error?.code ? { code: body.error.code } : {}) };
    };
    const metric = async (name: string, labels: string): Promise<number> => {
      const text = await (await fetch(`${cp.url}/metrics`)).text();
      const m = new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm').exec(text);
      return m ? Number(m[1]) : 0;
    };

    before(async () => {
      await pg.sql('CREATE DATABASE chaperone_store');
      const policy = join(dir.path, 'policy.yaml');
      writeFileSync(policy, `apiVersion: chaperone.dev/v1alpha1
kind: AccessPolicy
metadata: { name: support-pods }
spec:
  subjects:
    - namespace: ${NS}
      podSelector: { matchLabels: { app: support } }
  connections: [${CONNECTION}]
  rules:
    - { action: deny, name: no-drop, match: { statements: [drop] }, message: "no drops here" }
  default: allow
`);
      const connection: ConnectionDoc = {
        apiVersion: 'chaperone.dev/v1alpha1', kind: 'Connection', metadata: { name: CONNECTION },
        spec: { type: 'postgres', target: { host: pg.host, port: pg.port, database: DATABASE, sslmode: 'disable' }, credentials: { secretRef: { name: SECRET } }, listen: { port: 5432 } },
      };
      cp = await runControlPlane({
        listen: { host: '127.0.0.1', port: 0 }, databaseUrl: `postgres://postgres@127.0.0.1:${pg.port}/chaperone_store`,
        dataDir: join(dir.path, 'cp'), policyPaths: [policy], logLevel: 'silent',
        identity: { mode: 'tokenreview', kubeconfig: cpKubeconfig },
        credentials: { kubernetes: { namespace: CP_NS } },
      }, { extraDocs: [connection], reloadOnSighup: false, progress: () => undefined });
      closers.push(() => cp.close());
      agentToken = await podToken('bot', 'agent-1');
      const tokenFile = join(dir.path, 'token');
      writeFileSync(tokenFile, agentToken);
      sidecar = await runSidecar({
        controlPlane: { url: cp.url, requestTimeoutMs: 5_000 }, token: { type: 'file', path: tokenFile },
        ports: { [CONNECTION]: 0 }, spoolDir: join(dir.path, 'spool'), admin: { port: 0 }, logLevel: 'silent', bundleWaitSeconds: 1,
      }, { logger: pino({ level: 'silent' }) });
      closers.push(() => sidecar.close());
      await sidecar.ready;
    });

    it('serves the Connection with the Secret\'s credential and enforces the policy', async () => {
      const port = sidecar.ports[CONNECTION];
      assert.ok(port);
      const sql = postgres({ host: '127.0.0.1', port, user: 'agent', database: 'x', max: 1, fetch_types: false, onnotice: () => undefined });
      try {
        const [row] = await sql`select current_user as who`;
        assert.equal(row?.who, USERS.scram.username, 'the sidecar logged in with the Secret\'s user');
        await assert.rejects(sql.unsafe('drop table if exists nothing_here'), /no drops here/);
      } finally {
        await sql.end();
      }
    });

    it('refuses identities the cluster does not vouch for, or no policy names, with precise codes', async () => {
      assert.deepEqual(await exchange(await podToken('bot', 'agent-1', 'vault')), { status: 401, code: 'AUTH_ERR_TOKEN_AUDIENCE' });
      assert.equal(await metric('chaperone_controlplane_token_failures_total', 'reason="audience"'), 1);
      // A namespace subject covers every service account of the namespace; a pod without the label gets no policy.
      await createPod('agent-2', 'other', { app: 'support' });
      assert.deepEqual(await exchange(await podToken('other', 'agent-2')), { status: 200 });
      await createPod('agent-3', 'bot', { app: 'batch' });
      assert.deepEqual(await exchange(await podToken('bot', 'agent-3')), { status: 403, code: 'EXCHANGE_ERR_NO_POLICY' });
    });

    it('once the pod is deleted its token is refused', async () => {
      assert.deepEqual(await exchange(agentToken), { status: 200 });
      await admin.deleteNamespacedPod({ name: 'agent-1', namespace: NS });
      // Both the API server's authentication cache and the control plane's pod-label cache hold
      // an answer for about 10 s; after that the pod's absence shows.
      await eventually('the exchange to refuse the deleted pod\'s token', async () => {
        const r = await exchange(agentToken);
        return r.status === 401 && r.code === 'AUTH_ERR_POD_GONE';
      }, 60_000);
      // (The sidecar's bundle polls are refused the same way, so the count can be higher.)
      assert.ok(await metric('chaperone_controlplane_token_failures_total', 'reason="pod_gone"') >= 1);
      const verifier = TokenReviewVerifier.fromKubeConfig(cpKube);
      await eventually('TokenReview to refuse the deleted pod\'s token', async () => {
        const err = await verifier.verify(agentToken).then(() => undefined, (e: unknown) => e);
        return isChaperoneError(err) && err.code === 'AUTH_ERR_POD_GONE';
      }, 60_000);
      // A pod of the same name is another pod: the old token stays refused.
      await createPod('agent-1', 'bot', { app: 'support' });
      assert.deepEqual(await exchange(agentToken), { status: 401, code: 'AUTH_ERR_POD_GONE' });
    });
  });
});
