// The admission webhook on a real kube-apiserver: registered by a MutatingWebhookConfiguration with
// clientConfig.url on loopback, it injects annotated pods created through the API, leaves the rest
// alone, never injects twice, every golden output pod is valid Kubernetes (server-side dry run), and
// with the webhook down a pod that did not opt in is created without the API server contacting it.
// Re-invocation: a second webhook, ordered after ours, adds a container; the API server calls ours
// again (reinvocationPolicy IfNeeded) and the new container is wired.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { decideNativeSidecars } from '@chaperone/webhook/cluster-version';
import { parseWebhookConfig } from '@chaperone/webhook/config';
import { startWebhookServer, type RunningWebhookServer } from '@chaperone/webhook/server';
import { loopbackCertificate, staticCertificates } from '@chaperone/webhook/static-certificates';
import { startKubeApiServer, type KubeApiServer } from '../harness/kube.js';
import { repoRoot } from '../harness/tools.js';

const NS = 'agents';
/** Where unchanged in-cluster clients (client-go, kubectl, client-node) read token, ca.crt and namespace. */
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const WEBHOOK = 'chaperone-e2e';

let kube: KubeApiServer;
let server: RunningWebhookServer;
let port: number;
let native: { native: boolean; why: string };
let adder: HttpsServer;
let adderCalls = 0;

/** The label that sends a pod to the second webhook (so the other tests' pods never meet it). */
const ADD_LABEL = 'e2e.chaperone.dev/add-container';
const ADDED = { name: 'log-shipper', image: 'example.com/log-shipper:2', env: [{ name: 'PGHOST', value: 'db.internal' }] };

/**
 * Another party's mutating webhook (a real HTTPS server the API server calls): it appends a
 * container, once. Ordered after ours (configurations run in name order), so ours is re-invoked.
 */
function startAdder(cert: { cert: string; key: string }): Promise<HttpsServer> {
  const s = createHttpsServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      adderCalls++;
      const review = JSON.parse(Buffer.concat(chunks).toString()) as { request: { uid: string; object: Pod } };
      const pod = review.request.object;
      const patch = pod.spec.containers.some((c) => c.name === ADDED.name) ? [] : [{ op: 'add', path: '/spec/containers/-', value: ADDED }];
      const response = { uid: review.request.uid, allowed: true, ...(patch.length ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } : {}) };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
    });
  });
  return new Promise((resolve, reject) => { s.once('error', reject); s.listen(0, '127.0.0.1', () => resolve(s)); });
}

function adderRegistration(caBundle: string, adderPort: number) {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'zz-e2e-adds-container' },
    webhooks: [{
      name: 'adds-container.e2e.chaperone.dev', admissionReviewVersions: ['v1'], sideEffects: 'None',
      failurePolicy: 'Fail', timeoutSeconds: 5, reinvocationPolicy: 'Never',
      clientConfig: { url: `https://127.0.0.1:${adderPort}/`, caBundle: Buffer.from(caBundle).toString('base64') },
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
      objectSelector: { matchLabels: { [ADD_LABEL]: 'true' } },
    }],
  };
}

const parsed = parseWebhookConfig({
  sidecar: { image: 'chaperone:e2e' },
  failureMode: 'deny',
  connections: { 'orders-db': { type: 'postgres', port: 5432 }, cluster: { type: 'kubernetes', port: 6443 } },
});
if (!parsed.ok) throw new Error(parsed.error);
const config = parsed.config;

async function kubectl(args: string[], input?: unknown): Promise<string> {
  const r = await kube.kubectl(args, input === undefined ? {} : { input: JSON.stringify(input) });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The same registration the chart makes, but with a URL (the API server cannot reach a Service here). */
function registration(caBundle: string) {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: WEBHOOK },
    webhooks: [{
      name: 'inject.chaperone.dev', admissionReviewVersions: ['v1'], sideEffects: 'None',
      failurePolicy: 'Ignore', timeoutSeconds: 5, reinvocationPolicy: 'IfNeeded', matchPolicy: 'Equivalent',
      clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(caBundle).toString('base64') },
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
      // objectSelector matches labels only, so opted-in pods carry the label too; the webhook
      // still requires the annotation (the contract) before it injects.
      namespaceSelector: { matchLabels: { 'chaperone.dev/inject': 'enabled' } },
      objectSelector: { matchLabels: { 'chaperone.dev/inject': 'true' } },
    }],
  };
}

interface Mount { name: string; mountPath: string; readOnly?: boolean }

interface Pod {
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: {
    automountServiceAccountToken?: boolean;
    initContainers?: {
      name: string; restartPolicy?: string; env?: { name: string; value?: string }[]; volumeMounts?: Mount[];
      startupProbe?: { httpGet?: { path: string; port: number }; failureThreshold?: number };
    }[];
    containers: { name: string; env?: { name: string; value?: string }[]; volumeMounts?: Mount[] }[];
    volumes?: { name: string; projected?: { sources: { serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string } }[] } }[];
  };
}

function agentPod(name: string, o: { label?: boolean; annotation?: boolean } = {}): unknown {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name,
      labels: { app: 'agent', ...(o.label ? { 'chaperone.dev/inject': 'true' } : {}) },
      ...(o.annotation ? { annotations: { 'chaperone.dev/inject': 'true' } } : {}),
    },
    spec: { serviceAccountName: 'support-bot', containers: [{ name: 'agent', image: 'example.com/agent:1' }] },
  };
}

async function create(pod: unknown): Promise<Pod> {
  return JSON.parse(await kubectl(['-n', NS, 'create', '-f', '-', '-o', 'json'], pod)) as Pod;
}

function metric(text: string, result: string): number {
  return Number(new RegExp(`^chaperone_webhook_admissions_total\\{result="${result}"\\} (\\S+)$`, 'm').exec(text)?.[1]);
}
async function admissions(result: string): Promise<number> {
  return metric(await (await fetch(`${server.metricsUrl}/metrics`)).text(), result);
}

before(async () => {
  kube = await startKubeApiServer();
  const kc = new KubeConfig();
  kc.loadFromFile(kube.kubeconfigPath);
  native = await decideNativeSidecars('auto', kc);
  const certificate = await loopbackCertificate();
  server = await startWebhookServer({
    listen: { host: '127.0.0.1', port: 0 }, metricsListen: { host: '127.0.0.1', port: 0 },
    certificates: staticCertificates(certificate), config: () => config, nativeSidecars: native.native,
    logger: pino({ level: 'silent' }),
  });
  port = Number(new URL(server.url).port);
  await kubectl(['create', 'ns', NS]);
  await kubectl(['label', 'ns', NS, 'chaperone.dev/inject=enabled']);
  await kubectl(['-n', NS, 'create', 'serviceaccount', 'support-bot']);
  await kubectl(['apply', '-f', '-'], registration(certificate.ca));
  adder = await startAdder(certificate);
  const adderAddress = adder.address();
  await kubectl(['apply', '-f', '-'], adderRegistration(certificate.ca, typeof adderAddress === 'object' && adderAddress ? adderAddress.port : 0));
  // The API server loads webhook configurations through an informer: wait until a dry run is injected.
  for (let i = 0; ; i++) {
    const r = await kube.kubectl(['-n', NS, 'create', '--dry-run=server', '-f', '-', '-o', 'json'], { input: JSON.stringify(agentPod('probe', { label: true, annotation: true })) });
    if (r.code === 0 && (JSON.parse(r.stdout) as Pod).metadata.annotations?.['chaperone.dev/status'] === 'injected') break;
    if (i >= 100) throw new Error(`the webhook was never called: ${r.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // The same for the second webhook (a pod with only its label, so ours is not involved).
  const plain = agentPod('adder-probe') as { metadata: { labels: Record<string, string> } };
  plain.metadata.labels[ADD_LABEL] = 'true';
  for (let i = 0; ; i++) {
    const r = await kube.kubectl(['-n', NS, 'create', '--dry-run=server', '-f', '-', '-o', 'json'], { input: JSON.stringify(plain) });
    if (r.code === 0 && (JSON.parse(r.stdout) as Pod).spec.containers.some((c) => c.name === ADDED.name)) break;
    if (i >= 100) throw new Error(`the second webhook was never called: ${r.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
});
after(async () => {
  await server?.close();
  await new Promise((resolve) => (adder ? adder.close(resolve) : resolve(undefined)));
  await kube?.stop();
});

test('auto mode reads the cluster version and picks native sidecars on this server', () => {
  assert.equal(native.native, true, native.why);
});

test('an annotated pod created through the API comes back with the sidecar, the token volume and the agent wiring', async () => {
  const injectedBefore = await admissions('injected');
  const pod = await create(agentPod('opted-in', { label: true, annotation: true }));
  assert.equal(pod.metadata.annotations?.['chaperone.dev/status'], 'injected');
  assert.equal(pod.spec.automountServiceAccountToken, false);
  const sidecars = (pod.spec.initContainers ?? []).filter((c) => c.name === 'chaperone-sidecar');
  assert.equal(sidecars.length, 1, 'exactly one sidecar, even with reinvocationPolicy IfNeeded');
  assert.equal(pod.spec.initContainers?.[0]?.name, 'chaperone-sidecar');
  assert.equal(pod.spec.initContainers?.[0]?.restartPolicy, 'Always');
  const token = pod.spec.volumes?.find((v) => v.name === 'chaperone-token');
  assert.deepEqual(token?.projected?.sources, [{ serviceAccountToken: { audience: 'chaperone', expirationSeconds: 600, path: 'token' } }]);
  assert.deepEqual(pod.spec.initContainers?.[0]?.volumeMounts?.find((m) => m.name === 'chaperone-token')?.mountPath, '/var/run/secrets/chaperone');
  const agent = pod.spec.containers[0]!;
  assert.equal(agent.name, 'agent');
  const env = Object.fromEntries((agent.env ?? []).map((e) => [e.name, e.value]));
  assert.deepEqual(env, {
    PGHOST: '127.0.0.1', PGPORT: '5432', CHAPERONE_ORDERS_DB_PGPORT: '5432',
    KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '6443',
  });
  assert.ok(!(agent.volumeMounts ?? []).some((m) => m.name === 'chaperone-token'), 'the token is mounted into the sidecar only');
  assert.deepEqual(agent.volumeMounts?.map((m) => m.mountPath), ['/var/run/secrets/chaperone-ca', SA_DIR]);
  assert.equal(await admissions('injected'), injectedBefore + 1);
});

test('in-cluster clients find the sidecar\'s CA where they look: its volume read-only at the service-account path, the API credential gone, the sidecar writing there before the agent starts', async () => {
  // This harness disables the ServiceAccount admission plugin; the pod carries what it would have added.
  const pod = agentPod('sa-path', { label: true, annotation: true }) as { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } };
  pod.spec.volumes = [{ name: 'kube-api-access-e2e', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3607 } }] } }];
  pod.spec.containers[0]!.volumeMounts = [{ name: 'kube-api-access-e2e', mountPath: SA_DIR, readOnly: true }];
  const created = await create(pod);
  assert.deepEqual(created.spec.volumes?.map((v) => v.name), ['chaperone-token', 'chaperone-spool', 'chaperone-ca'], 'the kube-api-access volume is gone');
  assert.deepEqual(created.spec.containers[0]!.volumeMounts, [
    { name: 'chaperone-ca', mountPath: '/var/run/secrets/chaperone-ca', readOnly: true },
    { name: 'chaperone-ca', mountPath: SA_DIR, readOnly: true },
  ]);
  const sidecar = created.spec.initContainers?.[0];
  assert.equal(sidecar?.name, 'chaperone-sidecar');
  const env = Object.fromEntries((sidecar?.env ?? []).map((e) => [e.name, e.value]));
  assert.equal(env.CHAPERONE_KUBE_CA_DIR, '/var/run/secrets/chaperone-ca', 'the sidecar writes ca.crt, token and namespace into the shared volume');
  assert.ok(sidecar?.volumeMounts?.some((m) => m.name === 'chaperone-ca' && m.mountPath === '/var/run/secrets/chaperone-ca' && m.readOnly !== true), 'the sidecar mounts it writable');
  // A native sidecar with a startupProbe holds the agent's start until /readyz, which follows the CA write.
  assert.equal(sidecar?.restartPolicy, 'Always');
  assert.equal(sidecar?.startupProbe?.httpGet?.path, '/readyz');
});

test('un-annotated pods are untouched: not sent without the label, skipped with the label only', async () => {
  const skippedBefore = await admissions('skipped');
  const plain = await create(agentPod('plain'));
  const labelled = await create(agentPod('label-only', { label: true }));
  for (const pod of [plain, labelled]) {
    assert.equal(pod.metadata.annotations?.['chaperone.dev/status'], undefined);
    assert.equal(pod.spec.initContainers, undefined);
    assert.deepEqual(pod.spec.containers.map((c) => [c.name, c.env]), [['agent', undefined]]);
  }
  assert.equal(await admissions('skipped'), skippedBefore + 1, 'only the labelled pod reached the webhook');
});

test('a second admission of an injected pod does not inject twice', async () => {
  const first = JSON.parse(await kubectl(['-n', NS, 'get', 'pod', 'opted-in', '-o', 'json'])) as Pod & { metadata: Record<string, unknown>; status?: unknown };
  const { uid: _u, resourceVersion: _r, creationTimestamp: _c, managedFields: _m, ...metadata } = first.metadata;
  const again = await create({ apiVersion: 'v1', kind: 'Pod', metadata: { ...metadata, name: 'opted-in-again' }, spec: first.spec });
  assert.equal((again.spec.initContainers ?? []).filter((c) => c.name === 'chaperone-sidecar').length, 1);
  assert.deepEqual(again.spec, { ...first.spec });
});

test('re-invocation: a container a later webhook added is wired, and the rest of the pod is as a single injection left it', async () => {
  const injectedBefore = await admissions('injected');
  const callsBefore = adderCalls;
  const spec = agentPod('reinvoked', { label: true, annotation: true }) as { metadata: { labels: Record<string, string> } };
  spec.metadata.labels[ADD_LABEL] = 'true';
  const pod = await create(spec);
  assert.equal(adderCalls, callsBefore + 1, 'the second webhook ran once');
  assert.deepEqual(pod.spec.containers.map((c) => c.name), ['agent', 'log-shipper']);
  assert.equal((pod.spec.initContainers ?? []).filter((c) => c.name === 'chaperone-sidecar').length, 1);
  const wiring = {
    PGHOST: '127.0.0.1', PGPORT: '5432', CHAPERONE_ORDERS_DB_PGPORT: '5432',
    KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '6443',
  };
  for (const c of pod.spec.containers) {
    assert.deepEqual(Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value])), wiring, c.name);
    assert.deepEqual(c.volumeMounts?.map((m) => m.mountPath), ['/var/run/secrets/chaperone-ca', SA_DIR], c.name);
  }
  // The first admission injected, the re-invocation patched the added container: two patches.
  assert.equal(await admissions('injected'), injectedBefore + 2);
  const single = await create(agentPod('single', { label: true, annotation: true }));
  assert.deepEqual(pod.spec.initContainers, single.spec.initContainers);
  assert.deepEqual(pod.spec.volumes, single.spec.volumes);
});

test('a pod the webhook cannot patch safely is refused with the reason (failureMode deny)', async () => {
  const bad = agentPod('bad', { label: true, annotation: true }) as { metadata: { annotations: Record<string, string> } };
  bad.metadata.annotations['chaperone.dev/connections'] = 'payments-db';
  const r = await kube.kubectl(['-n', NS, 'create', '-f', '-'], { input: JSON.stringify(bad) });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /chaperone: cannot inject the sidecar: annotation chaperone\.dev\/connections: unknown connection "payments-db"/);
});

test('every golden output pod passes a server-side dry-run create', async () => {
  const dir = join(repoRoot(), 'webhook', 'testdata', 'pods');
  const outs = readdirSync(dir).filter((f) => f.endsWith('.out.json'));
  assert.ok(outs.length >= 15, `golden pods in ${dir}`);
  for (const f of outs) {
    const r = await kube.kubectl(['-n', NS, 'create', '--dry-run=server', '-f', join(dir, f)]);
    assert.equal(r.code, 0, `${f}: ${r.stderr}`);
  }
});

test('with the webhook down, a pod that did not opt in is created without the API server contacting it', async () => {
  await server.close();
  // A black hole on the webhook's port: accepts and never answers, and counts who came.
  const sockets: Socket[] = [];
  const hole: Server = createServer((s) => { sockets.push(s); });
  await new Promise<void>((resolve, reject) => { hole.once('error', reject); hole.listen(port, '127.0.0.1', resolve); });
  try {
    const pod = await create(agentPod('while-down'));
    assert.equal(pod.spec.initContainers, undefined);
    assert.equal(sockets.length, 0, 'the API server never called the webhook for a pod that did not opt in');
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => hole.close(() => resolve()));
  }
  // failurePolicy Ignore: an opted-in pod is admitted without the sidecar while nothing listens.
  const optedIn = await create(agentPod('opted-in-while-down', { label: true, annotation: true }));
  assert.equal(optedIn.spec.initContainers, undefined);
});
