// The Kubernetes API through the sidecar, end to end: real kube-apiserver, real control plane
// issuing TokenRequest credentials, real sidecar, real kubectl and @kubernetes/client-node as
// the agent. Policy: deny namespace deletes and configmaps forbidden-*, approve deleting
// configmaps held-*, mask Secrets, allow the rest.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CoreV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import type { Approval } from '@chaperone/core/api';
import { TokenRequestSource } from '@chaperone/control-plane/credentials/token-request-source';
import { isChaperoneError } from '@chaperone/core/errors';
import { ADMIN_TOKEN, NS, UPSTREAM_SA, policyDocs, startStack } from './proxy-support.js';
import type { Stack } from './proxy-support.js';

let s: Stack;
before(async () => { s = await startStack(); });
after(async () => { await s?.stop(); });

const SECRET_VALUE = 'hunter2-very-secret';
const SECRET_B64 = Buffer.from(SECRET_VALUE).toString('base64');

function assertNoSecret(text: string, what: string): void {
  assert.ok(!text.includes(SECRET_VALUE) && !text.includes(SECRET_B64), `${what} leaks the Secret value:\n${text.slice(0, 2000)}`);
}

/** A raw HTTPS request to the sidecar as an agent would send it. */
function agentRequest(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return readFile(s.caPath, 'utf8').then((ca) => new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: s.port, method, path, ca, headers: { authorization: `Bearer ${s.agentToken}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  }));
}

function agentClient(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(s.agentKubeconfig);
  return kc;
}

test('requests go upstream as the connection\'s service account: the agent\'s token is dropped, impersonation refused', async () => {
  const who = await s.agentKubectl(['auth', 'whoami', '-o', 'json']);
  assert.equal(who.code, 0, who.stderr);
  const user = (JSON.parse(who.stdout) as { status: { userInfo: { username: string } } }).status.userInfo.username;
  assert.equal(user, `system:serviceaccount:${UPSTREAM_SA.namespace}:${UPSTREAM_SA.name}`);
  // kubectl auth whoami hides the Status message; get shows it.
  const as = await s.agentKubectl(['get', 'configmaps', '-n', NS, '--as', 'system:admin', '--as-group', 'system:masters']);
  assert.notEqual(as.code, 0, as.stdout);
  assert.match(as.stderr, /Forbidden/);
  assert.match(as.stderr, /impersonation \(impersonate-(user|group)\) is not allowed through chaperone/);
  // The same token straight to the API server is `nobody`, who may do nothing.
  const direct = await s.kube.kubectl(['--token', s.agentToken, '--user', 'nobody', 'get', 'pods', '-n', NS]);
  assert.notEqual(direct.code, 0);
});

test('kubectl get, list, apply and delete are allowed; discovery works', async () => {
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-config', namespace: NS }, data: { mode: 'blue' } };
  const applied = await s.agentKubectl(['apply', '-f', '-'], { input: JSON.stringify(cm) });
  assert.equal(applied.code, 0, applied.stderr);
  const got = await s.agentKubectl(['get', 'configmap', 'app-config', '-o', 'jsonpath={.data.mode}']);
  assert.equal(got.stdout, 'blue', got.stderr);
  const list = await s.agentKubectl(['get', 'configmaps', '-o', 'name']);
  assert.match(list.stdout, /^configmap\/app-config$/m, list.stderr);
  const version = await s.agentKubectl(['version', '-o', 'json']);
  assert.equal(version.code, 0, version.stderr);
  const resources = await s.agentKubectl(['api-resources', '--api-group=apps', '-o', 'name']);
  assert.match(resources.stdout, /^deployments\.apps$/m, resources.stderr);
  const deleted = await s.agentKubectl(['delete', 'configmap', 'app-config']);
  assert.equal(deleted.code, 0, deleted.stderr);
});

test('denied requests get a 403 Status naming the rule', async () => {
  const ns = await s.agentKubectl(['delete', 'namespace', NS, '--wait=false']);
  assert.notEqual(ns.code, 0);
  assert.match(ns.stderr, /Forbidden|forbidden/);
  assert.match(ns.stderr, /no namespace deletes/);
  const r = await agentRequest('GET', `/api/v1/namespaces/${NS}/configmaps/forbidden-one`);
  assert.equal(r.status, 403);
  const status = JSON.parse(r.body) as { kind: string; reason: string; code: number; message: string };
  assert.equal(status.kind, 'Status');
  assert.equal(status.reason, 'Forbidden');
  assert.equal(status.code, 403);
  assert.match(status.message, /get configmaps "forbidden-one" in namespace work denied by rule agents-kube#1 of policy agents-kube/);
  // Still there: the namespace was never deleted.
  assert.equal((await s.kube.kubectl(['get', 'namespace', NS])).code, 0);
});

test('a path the sidecar cannot interpret is refused; exec without an upgrade is a bad request', async () => {
  const dots = await agentRequest('GET', `/api/v1/namespaces/${NS}/../kube-system/secrets`);
  assert.equal(dots.status, 403);
  assert.match(dots.body, /cannot interpret/);
  const exec = await agentRequest('POST', `/api/v1/namespaces/${NS}/pods/p/exec?command=ls`);
  assert.equal(exec.status, 400);
  assert.match(exec.body, /pods\/exec needs a WebSocket or SPDY upgrade request/);
  const write = await agentRequest('POST', '/version');
  assert.equal(write.status, 403);
});

test('Secret values are masked in every output form', async () => {
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: NS }, stringData: { password: SECRET_VALUE } };
  // Through the sidecar: kubectl apply keeps the applied object (with the value) in an annotation.
  const applied = await s.agentKubectl(['apply', '-f', '-'], { input: JSON.stringify(secret) });
  assert.equal(applied.code, 0, applied.stderr);
  assertNoSecret(applied.stdout + applied.stderr, 'apply');
  const direct = await s.kube.kubectl(['-n', NS, 'get', 'secret', 'db', '-o', 'jsonpath={.data.password}']);
  assert.equal(direct.stdout, SECRET_B64, 'the value really is stored');

  for (const args of [
    ['get', 'secret', 'db', '-o', 'yaml'], ['get', 'secret', 'db', '-o', 'json'], ['get', 'secrets', '-o', 'yaml'],
    ['get', 'secrets'], ['get', 'secrets', '-o', 'wide', '--show-labels'],
    ['get', '--raw', `/api/v1/namespaces/${NS}/secrets/db`], ['get', '--raw', `/api/v1/namespaces/${NS}/secrets`],
    ['get', '--raw', `/api/v1/secrets`], ['get', 'secret', 'db', '-o', 'jsonpath={.data.password}'],
    ['describe', 'secret', 'db'],
  ]) {
    const r = await s.agentKubectl(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assertNoSecret(r.stdout + r.stderr, args.join(' '));
  }
  const masked = await s.agentKubectl(['get', 'secret', 'db', '-o', 'jsonpath={.data.password}']);
  assert.equal(Buffer.from(masked.stdout, 'base64').toString('utf8'), '[MASKED]');

  // Protobuf and Table asked for directly: answered in JSON, masked.
  const proto = await agentRequest('GET', `/api/v1/namespaces/${NS}/secrets/db`, { accept: 'application/vnd.kubernetes.protobuf' });
  assert.equal(proto.status, 200);
  assert.match(String(proto.headers['content-type']), /^application\/json/);
  assertNoSecret(proto.body, 'protobuf Accept');
  const table = await agentRequest('GET', `/api/v1/namespaces/${NS}/secrets?includeObject=Object`, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
  assert.equal((JSON.parse(table.body) as { kind: string }).kind, 'Table');
  assertNoSecret(table.body, 'Table with objects');

  // @kubernetes/client-node: typed read and a watch.
  const core = agentClient().makeApiClient(CoreV1Api);
  const read = await core.readNamespacedSecret({ name: 'db', namespace: NS });
  assert.equal(Buffer.from(read.data?.password ?? '', 'base64').toString('utf8'), '[MASKED]');
  const events: string[] = [];
  const watch = new Watch(agentClient());
  const seen = new Promise<void>((resolve) => {
    void watch.watch(`/api/v1/namespaces/${NS}/secrets`, {}, (type, obj) => {
      events.push(JSON.stringify(obj));
      if (type === 'ADDED' && (obj as { metadata?: { name?: string } }).metadata?.name === 'db2') resolve();
    }, () => undefined).then((ctl) => { seen.then(() => ctl.abort(), () => undefined); });
  });
  const created = await s.kube.kubectl(['-n', NS, 'create', 'secret', 'generic', 'db2', `--from-literal=password=${SECRET_VALUE}`]);
  assert.equal(created.code, 0, created.stderr);
  await seen;
  assert.ok(events.length >= 2);
  assertNoSecret(events.join('\n'), 'watch events');
});

test('a held request runs once approved, and is refused when denied', async () => {
  for (const name of ['held-yes', 'held-no']) assert.equal((await s.kube.kubectl(['-n', NS, 'create', 'configmap', name])).code, 0);
  const approved = s.agentKubectl(['delete', 'configmap', 'held-yes']);
  await decide('held-yes', 'approve');
  const r = await approved;
  assert.equal(r.code, 0, r.stderr);
  assert.notEqual((await s.kube.kubectl(['-n', NS, 'get', 'configmap', 'held-yes'])).code, 0, 'deleted');

  const denied = s.agentKubectl(['delete', 'configmap', 'held-no']);
  await decide('held-no', 'deny', 'not today');
  const d = await denied;
  assert.notEqual(d.code, 0);
  assert.match(d.stderr, /approval denied: not today/);
  assert.equal((await s.kube.kubectl(['-n', NS, 'get', 'configmap', 'held-no'])).code, 0, 'still there');
});

async function decide(name: string, decision: 'approve' | 'deny', reason?: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const res = await s.cp.app.inject({ method: 'GET', url: '/v1/approvals?state=pending', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const found = (res.json() as Approval[]).find((a) => a.operation.kind === 'kubernetes' && a.operation.name === name);
    if (found) {
      assert.equal(found.operation.kind === 'kubernetes' && found.operation.verb, 'delete');
      const d = await s.cp.app.inject({
        method: 'POST', url: `/v1/approvals/${found.id}/decision`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        payload: reason === undefined ? { decision } : { decision, reason },
      });
      assert.equal(d.statusCode, 200, d.body);
      return;
    }
    if (Date.now() > deadline) throw new Error(`no pending approval for ${name}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The API server's own attributes: a user with no RBAC gets a Forbidden message naming the verb,
// resource, subresource, group and namespace it computed, which requestInfo must equal.
const ORACLE: [string, string][] = [
  ['GET', `/api/v1/namespaces/${NS}/pods`], ['GET', `/api/v1/namespaces/${NS}/pods/p`], ['GET', '/api/v1/pods'],
  ['GET', `/api/v1/namespaces/${NS}/pods?watch=true`], ['GET', `/api/v1/watch/namespaces/${NS}/pods`], ['GET', `/api/v1/namespaces/${NS}/pods?watch=0`],
  ['GET', `/api/v1/namespaces/${NS}/pods/p/log`], ['POST', `/api/v1/namespaces/${NS}/pods/p/eviction`], ['DELETE', `/api/v1/namespaces/${NS}/pods`],
  ['DELETE', `/api/v1/namespaces/${NS}/pods/p`], ['PUT', `/api/v1/namespaces/${NS}/pods/p/status`], ['PATCH', `/apis/apps/v1/namespaces/${NS}/deployments/d/scale`],
  ['GET', '/apis/apps/v1/deployments'], ['POST', `/apis/apps/v1/namespaces/${NS}/deployments`], ['GET', `/api/v1/namespaces/${NS}`],
  ['PUT', `/api/v1/namespaces/${NS}/finalize`], ['GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/admin'], ['GET', '/api/v1/nodes'],
  ['GET', `/api/v1/namespaces/${NS}/secrets?fieldSelector=metadata.name%3Ddb`],
];

test('request attributes equal what the real API server authorizes on', async () => {
  const { requestInfo } = await import('@chaperone/core/kube/request-info');
  const ca = await readFile(s.kube.caCertPath, 'utf8');
  const url = new URL(s.kube.url);
  for (const [method, path] of ORACLE) {
    const body = await new Promise<string>((resolve, reject) => {
      request({ host: url.hostname, port: url.port, method, path, ca, headers: { authorization: `Bearer ${s.agentToken}`, 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { text += c; });
        res.on('end', () => resolve(text));
      }).on('error', reject).end(method === 'GET' || method === 'DELETE' ? undefined : '{}');
    });
    const m = /cannot (\S+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)")?/.exec((JSON.parse(body) as { message: string }).message);
    assert.ok(m, `${method} ${path}: ${body}`);
    const r = requestInfo(method, path);
    assert.ok(r.ok && r.info.kind === 'resource', path);
    const [, verb, resource, group, namespace] = m;
    const ours = r.info;
    assert.deepEqual(
      { verb: ours.verb, resource: ours.subresource ? `${ours.resource}/${ours.subresource}` : ours.resource, group: ours.group, namespace: ours.namespace },
      { verb, resource, group, namespace }, `${method} ${path}`);
  }
});

test('every request is recorded in the control plane with its attributes and decision', async () => {
  const denied = await s.agentKubectl(['get', 'configmap', 'forbidden-two']);
  assert.notEqual(denied.code, 0);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const list = await s.cp.app.inject({ method: 'GET', url: '/v1/sessions?connection=cluster&limit=500', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(list.statusCode, 200, list.body);
    const events = [];
    for (const session of list.json() as { id: string }[]) {
      const detail = await s.cp.app.inject({ method: 'GET', url: `/v1/sessions/${session.id}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      events.push(...(detail.json() as { records: { event: { type: string } & Record<string, unknown> }[] }).records.map((r) => r.event));
    }
    const start = events.find((e) => e.type === 'session.start');
    const deny = events.find((e) => e.type === 'kubernetes.request' && e.name === 'forbidden-two');
    const masked = events.find((e) => e.type === 'kubernetes.request' && e.resource === 'secrets' && e.name === 'db' && e.masked !== undefined);
    const held = events.find((e) => e.type === 'kubernetes.request' && e.name === 'held-yes' && e.verb === 'delete');
    const approved = events.find((e) => e.type === 'approval' && e.state === 'approved' && e.id === held?.approval);
    if (start && deny && masked && approved) {
      assert.equal(held?.status, 200);
      assert.equal(approved.by, 'admin');
      assert.ok(events.some((e) => e.type === 'approval' && e.state === 'pending' && e.id === held?.approval));
      assert.equal(start.protocol, 'kubernetes');
      assert.deepEqual(deny.decision, { action: 'deny', policy: 'agents-kube', rule: 'agents-kube#1', message: 'get configmaps "forbidden-two" in namespace work denied by rule agents-kube#1 of policy agents-kube' });
      assert.equal(deny.status, 403);
      assert.equal(deny.verb, 'get');
      assert.deepEqual(masked.masked, { secrets: 2 });
      assert.ok(!JSON.stringify(events).includes(SECRET_VALUE));
      return;
    }
    if (Date.now() > deadline) throw new Error(`records not found: ${JSON.stringify(events.slice(-5))}`);
    await new Promise((r) => setTimeout(r, 200));
  }
});

test('watches, chunked lists, server-side apply and dry-run pass through', async () => {
  const cm = (name: string) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS }, data: { k: name } });
  const dry = await s.agentKubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], { input: cm('dry') });
  assert.equal(dry.code, 0, dry.stderr);
  assert.notEqual((await s.kube.kubectl(['-n', NS, 'get', 'configmap', 'dry'])).code, 0, 'dry run created nothing');
  for (const name of ['chunk-a', 'chunk-b', 'chunk-c']) {
    const r = await s.agentKubectl(['apply', '--server-side', '-f', '-'], { input: cm(name) });
    assert.equal(r.code, 0, r.stderr);
  }
  const chunked = await s.agentKubectl(['get', 'configmaps', '--chunk-size=1', '-o', 'name']);
  assert.equal(chunked.code, 0, chunked.stderr);
  for (const name of ['chunk-a', 'chunk-b', 'chunk-c']) assert.match(chunked.stdout, new RegExp(`^configmap/${name}$`, 'm'));
  // kubectl get --watch: the stream reaches kubectl while it runs (it exits at its request timeout).
  const watching = s.agentKubectl(['get', 'configmaps', '--watch', '--request-timeout=4s', '-o', 'name']);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await s.kube.kubectl(['-n', NS, 'create', 'configmap', 'watched'])).code, 0);
  const w = await watching;
  assert.match(w.stdout, /^configmap\/watched$/m, w.stderr);
});

test('an approval that times out is refused, saying so', async () => {
  assert.equal((await s.kube.kubectl(['-n', NS, 'create', 'configmap', 'quick-one'])).code, 0);
  const r = await s.agentKubectl(['delete', 'configmap', 'quick-one']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /approval timed out/);
  assert.equal((await s.kube.kubectl(['-n', NS, 'get', 'configmap', 'quick-one'])).code, 0, 'still there');
});

test('sidecar metrics count Kubernetes requests with protocol="kubernetes"', async () => {
  const res = await fetch(`http://127.0.0.1:${s.sidecar.adminPort}/metrics`);
  const text = await res.text();
  assert.match(text, /chaperone_sidecar_statements_total\{[^}]*protocol="kubernetes"[^}]*decision="deny"[^}]*\} [1-9]/);
  assert.match(text, /chaperone_sidecar_statements_total\{[^}]*protocol="kubernetes"[^}]*decision="allow"[^}]*\} [1-9]/);
});

test('TokenRequest credentials: cached, with their expiry, and refused for an account the control plane may not mint for', async () => {
  let now = Date.now();
  const source = new TokenRequestSource(s.controlPlaneKube, () => now);
  const a = await source.serviceAccountToken({ ...UPSTREAM_SA, expirationSeconds: 600 });
  assert.equal(a.type, 'bearer');
  const life = Date.parse(a.expiresAt ?? '') - Date.now();
  assert.ok(life > 500_000 && life <= 600_000, `expires in ${life} ms`);
  assert.equal((await source.serviceAccountToken({ ...UPSTREAM_SA, expirationSeconds: 600 })).token, a.token, 'cached');
  now += 301_000;
  const b = await source.serviceAccountToken({ ...UPSTREAM_SA, expirationSeconds: 600 });
  assert.notEqual(b.token, a.token, 'renewed past half its life');
  await assert.rejects(source.serviceAccountToken({ namespace: 'chaperone-sys', name: 'nobody' }),
    (err: unknown) => isChaperoneError(err, 'CREDENTIALS_ERR_TOKEN_REQUEST') && /forbidden/.test(err.message));
});

test('a live watch the new bundle denies is closed, and the retry is refused', async () => {
  const watch = new Watch(agentClient());
  let ended!: (err: unknown) => void;
  const done = new Promise<unknown>((resolve) => { ended = resolve; });
  let connected!: () => void;
  const live = new Promise<void>((resolve) => { connected = resolve; });
  await watch.watch(`/api/v1/namespaces/${NS}/endpoints`, {}, () => connected(), (err) => ended(err));
  assert.equal((await s.kube.kubectl(['-n', NS, 'create', 'configmap', 'nudge'])).code, 0);
  const ep = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'e', namespace: NS } };
  assert.equal((await s.kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify(ep) })).code, 0);
  await within(live, 'the watch sees an event');
  const original = policyDocs(s.kube.url, await readFile(s.kube.caCertPath, 'utf8'));
  const stricter = structuredClone(original);
  const p = stricter[1];
  assert.ok(p?.kind === 'AccessPolicy');
  p.spec.rules.unshift({ action: 'deny', match: { resources: ['endpoints'] }, message: 'no endpoints now' });
  try {
    await s.cp.setDocs(stricter);
    await within(done, 'the watch is closed');
    const again = await s.agentKubectl(['get', 'endpoints']);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /no endpoints now/);
  } finally {
    await s.cp.setDocs(original);
  }
});

function within<T>(p: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out waiting: ${what}`)), ms); })]).finally(() => clearTimeout(timer));
}

test('@kubernetes/client-node\'s in-cluster configuration works on the directory the sidecar writes', async () => {
  // What the agent container sees when the CA volume is mounted at the service-account path:
  // KUBERNETES_SERVICE_HOST/PORT pointing at the sidecar, ca.crt, a placeholder token, the namespace.
  const prefix = join(s.dir, 'agent-root');
  const saDir = join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount');
  await mkdir(dirname(saDir), { recursive: true });
  await symlink(dirname(s.caPath), saDir);
  assert.equal(await readFile(join(saDir, 'namespace'), 'utf8'), 'agents');
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  process.env.KUBERNETES_SERVICE_HOST = '127.0.0.1';
  process.env.KUBERNETES_SERVICE_PORT = String(s.port);
  try {
    const kc = new KubeConfig();
    kc.loadFromCluster(prefix);
    const list = await kc.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: NS });
    assert.ok(list.items.length > 0);
  } finally {
    for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

// exec itself is tested against a stand-in kubelet in exec.test.ts: this cluster has none.
test('kubectl exec reaches the real API server with the sidecar\'s credential; an exec without a command is refused', async () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: NS }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
  assert.equal((await s.kube.kubectl(['create', '-f', '-'], { input: JSON.stringify(pod) })).code, 0);
  const r = await s.agentKubectl(['exec', 'p', '--', 'ls']);
  assert.notEqual(r.code, 0);
  // The pod is Pending (no kubelet): the API server's own answer comes back through the sidecar
  // (the agent's own token has no RBAC at all: forwarded, it would have been a Forbidden).
  assert.match(r.stderr, /pod p does not have a host assigned/);
  const raw = await agentRequest('GET', `/api/v1/namespaces/${NS}/pods/p/exec?stdout=true`, { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' });
  assert.equal(raw.status, 403);
  assert.match(raw.body, /an exec without a command is refused/);
});
