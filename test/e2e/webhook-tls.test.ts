// The webhook's certificate sources on a real kube-apiserver: generated CA shared by replicas through
// a Secret, caBundle written into a MutatingWebhookConfiguration the API server then really uses to
// call a webhook, serving-certificate renewal and CA rotation at a tiny validity, and a cert-manager
// style Secret watched for changes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { AdmissionregistrationV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { isChaperoneError } from '@chaperone/core/errors';
import { startGeneratedSource } from '@chaperone/webhook/tls/generated-source';
import type { GeneratedSourceOptions } from '@chaperone/webhook/tls/generated-source';
import { startSecretSource } from '@chaperone/webhook/tls/secret-source';
import { generateCa, issueServingCertificate } from '@chaperone/webhook/tls/generate';
import { splitPemBundle } from '@chaperone/webhook/tls/pem';
import type { CertificateSource, ServingCertificate, TlsLogger } from '@chaperone/webhook/tls/source';
import { issueCertificate, startKubeApiServer, type KubeApiServer } from '../harness/kube.js';
import { eventually } from './support.js';

let kube: KubeApiServer;
let kc: KubeConfig;
let core: CoreV1Api;
let admission: AdmissionregistrationV1Api;

before(async () => {
  kube = await startKubeApiServer();
  kc = new KubeConfig();
  kc.loadFromFile(kube.kubeconfigPath);
  core = kc.makeApiClient(CoreV1Api);
  admission = kc.makeApiClient(AdmissionregistrationV1Api);
});
after(async () => { await kube?.stop(); });

/** A webhook that allows every pod and counts the calls; it serves whatever the source holds now. */
async function startAdmissionServer(source: CertificateSource): Promise<{ server: Server; url: string; calls: () => number }> {
  let calls = 0;
  const server = createServer({ cert: source.current().cert, key: source.current().key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls++;
      const review = JSON.parse(Buffer.concat(chunks).toString()) as { request: { uid: string } };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } }));
    });
  });
  source.onRotate((c) => server.setSecureContext({ cert: c.cert, key: c.key }));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/mutate`, calls: () => calls };
}

/** Two webhooks, neither with a caBundle; `url` absent → they point at a closed port and match nothing. */
async function createWebhookConfig(name: string, url = 'https://127.0.0.1:1/mutate', selectorValue = 'never'): Promise<void> {
  const webhook = (n: string): NonNullable<V1MutatingWebhookConfiguration['webhooks']>[number] => ({
    name: `${n}.${name}.chaperone.dev`,
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    // Fail: if the API server does not trust the serving certificate, the pod is refused.
    failurePolicy: 'Fail',
    timeoutSeconds: 5,
    clientConfig: { url },
    objectSelector: { matchLabels: { 'tls-test': selectorValue } },
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
  });
  await admission.createMutatingWebhookConfiguration({ body: { metadata: { name }, webhooks: [webhook('a'), webhook('b')] } });
}

async function caBundles(name: string): Promise<string[][]> {
  const config = await admission.readMutatingWebhookConfiguration({ name });
  return (config.webhooks ?? []).map((w) => splitPemBundle(Buffer.from(w.clientConfig?.caBundle ?? '', 'base64').toString()));
}

const same = (a: string, b: string): boolean => a.trim() === b.trim();

async function createPodDryRun(ns: string, selectorValue: string, name: string): Promise<{ code: number; stderr: string }> {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { 'tls-test': selectorValue } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
  return kube.kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(pod) });
}

function recordingLogger(): TlsLogger & { messages: string[] } {
  const messages: string[] = [];
  const push = (_: object, msg: string): void => { messages.push(msg); };
  return { messages, info: push, warn: push, error: push };
}

test('two replicas started at once create one CA, each signs its own certificate, and the caBundle lands in the configuration', async (t) => {
  await core.createNamespace({ body: { metadata: { name: 'tls-share' } } });
  await createWebhookConfig('tls-share');
  const logs = [recordingLogger(), recordingLogger()];
  const opts = (i: number): GeneratedSourceOptions => ({
    kubeConfig: kc, namespace: 'tls-share', service: 'chaperone-webhook', webhookConfigName: 'tls-share', logger: logs[i],
  });
  const [a, b] = await Promise.all([startGeneratedSource(opts(0)), startGeneratedSource(opts(1))]);
  t.after(() => Promise.all([a.close(), b.close()]));

  const created = logs.flatMap((l) => l.messages).filter((m) => m === 'created the webhook CA');
  assert.equal(created.length, 1, 'exactly one replica created the CA; the other read it');
  assert.equal(a.current().ca, b.current().ca);
  assert.notEqual(a.current().cert, b.current().cert);
  const ca = new X509Certificate(a.current().ca);
  for (const s of [a, b]) {
    const x = new X509Certificate(s.current().cert);
    assert.ok(x.checkIssued(ca));
    assert.equal(x.subjectAltName, 'DNS:chaperone-webhook.tls-share.svc, DNS:chaperone-webhook.tls-share.svc.cluster.local');
    assert.equal(s.current().notAfter.getTime(), new Date(x.validTo).getTime());
  }

  const secret = await core.readNamespacedSecret({ name: 'chaperone-webhook-ca', namespace: 'tls-share' });
  assert.equal(Buffer.from(secret.data?.['ca.crt'] ?? '', 'base64').toString(), a.current().ca);
  for (const bundle of await caBundles('tls-share')) {
    assert.equal(bundle.length, 1);
    assert.ok(same(bundle[0] ?? '', a.current().ca));
  }
});

test('a serving certificate renews at 2/3 of its life and the CA rotates old+new first; the API server trusts the webhook throughout', async (t) => {
  await core.createNamespace({ body: { metadata: { name: 'tls-rotate' } } });
  await createWebhookConfig('tls-rotate');
  const opts: GeneratedSourceOptions = {
    kubeConfig: kc, namespace: 'tls-rotate', service: 'chaperone-webhook', webhookConfigName: 'tls-rotate', ipAddresses: ['127.0.0.1'],
    // Seconds instead of days; the serving certificate keeps a 1/3 margin of 2 s for a busy 2-core machine.
    caValidityMs: 20_000, caRenewBeforeMs: 10_000, caPropagationMs: 1_000, servingValidityMs: 6_000, syncIntervalMs: 300, jitter: 0,
  };
  const [a, b] = await Promise.all([startGeneratedSource(opts), startGeneratedSource(opts)]);
  t.after(() => Promise.all([a.close(), b.close()]));
  const oldCa = a.current().ca;
  const firstCert = a.current().cert;
  const rotations: ServingCertificate[] = [];
  a.onRotate((c) => rotations.push(c));
  const hook = await startAdmissionServer(a);
  t.after(() => { hook.server.close(); });
  // Point the webhooks at the server and select the pods this test creates.
  await admission.patchMutatingWebhookConfiguration({ name: 'tls-rotate', body: [0, 1].flatMap((i) => [
    { op: 'replace', path: `/webhooks/${i}/clientConfig/url`, value: hook.url },
    { op: 'replace', path: `/webhooks/${i}/objectSelector/matchLabels/tls-test`, value: 'rotate' },
  ]) }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
  let pods = 0;
  const admitted = async (): Promise<void> => {
    const before = hook.calls();
    const r = await createPodDryRun('tls-rotate', 'rotate', `p${pods++}`);
    assert.equal(r.code, 0, `the API server refused the pod: ${r.stderr}`);
    assert.ok(hook.calls() > before, 'the API server called the webhook');
  };
  await admitted();

  // 1. The serving certificate renews under the same CA, and onRotate fires.
  const renewed = await eventually('a renewed serving certificate', () => rotations[0], 15_000);
  assert.equal(renewed.ca, oldCa, 'renewed under the same CA (the CA rotates later)');
  assert.notEqual(renewed.cert, firstCert);
  assert.equal(a.current().cert, rotations.at(-1)?.cert, 'current() is the last rotation');
  await admitted();

  // 2. The CA is staged: both CAs are trusted before anything the new one signs is served.
  const rotated = await eventually('a serving certificate from a new CA', () => (a.current().ca !== oldCa ? a.current() : undefined), 20_000);
  const bundles = await caBundles('tls-rotate');
  for (const bundle of bundles) {
    assert.ok(bundle.some((c) => same(c, oldCa)), 'the old CA is still trusted');
    assert.ok(bundle.some((c) => same(c, rotated.ca)), 'the new CA is trusted');
  }
  assert.ok(new X509Certificate(rotated.cert).checkIssued(new X509Certificate(rotated.ca)));
  await eventually('the other replica on the new CA', () => b.current().ca === rotated.ca, 10_000);
  await admitted();

  // 3. Once the old CA has expired it leaves the bundle.
  await eventually('the expired CA pruned from the caBundle', async () => {
    const now = await caBundles('tls-rotate');
    return now.every((bundle) => bundle.length >= 1 && !bundle.some((c) => same(c, oldCa)));
  }, 20_000);
  await admitted();
});

test('a damaged CA Secret is replaced with a new CA', async (t) => {
  await core.createNamespace({ body: { metadata: { name: 'tls-damaged' } } });
  await core.createNamespacedSecret({ namespace: 'tls-damaged', body: { metadata: { name: 'chaperone-webhook-ca' }, stringData: { 'ca.crt': 'garbage' } } });
  const logger = recordingLogger();
  const s = await startGeneratedSource({ kubeConfig: kc, namespace: 'tls-damaged', service: 'w', webhookConfigName: 'absent', logger });
  t.after(() => s.close());
  assert.ok(logger.messages.includes('webhook CA Secret is unusable; replacing it with a new CA'));
  assert.ok(logger.messages.includes('MutatingWebhookConfiguration not found; caBundle not set yet'));
  const secret = await core.readNamespacedSecret({ name: 'chaperone-webhook-ca', namespace: 'tls-damaged' });
  assert.equal(Buffer.from(secret.data?.['ca.crt'] ?? '', 'base64').toString(), s.current().ca);
});

test('the Secret source serves a cert-manager Secret and follows its changes, ignoring a broken update', async (t) => {
  await core.createNamespace({ body: { metadata: { name: 'tls-secret' } } });
  const issue = async (): Promise<ServingCertificate> => issueServingCertificate(await generateCa(), { dnsNames: ['hook.tls-secret.svc'] });
  const data = (c: { cert: string; key: string; ca: string }): Record<string, string> => ({
    'tls.crt': Buffer.from(c.cert).toString('base64'), 'tls.key': Buffer.from(c.key).toString('base64'), 'ca.crt': Buffer.from(c.ca).toString('base64'),
  });
  await assert.rejects(startSecretSource({ kubeConfig: kc, namespace: 'tls-secret', name: 'webhook-tls' }), (err) => isChaperoneError(err, 'WEBHOOK_ERR_TLS_SECRET'));

  const first = await issue();
  await core.createNamespacedSecret({ namespace: 'tls-secret', body: { metadata: { name: 'webhook-tls' }, type: 'kubernetes.io/tls', data: data(first) } });
  const logger = recordingLogger();
  const source = await startSecretSource({ kubeConfig: kc, namespace: 'tls-secret', name: 'webhook-tls', logger, retryMs: 200 });
  t.after(() => source.close());
  assert.equal(source.current().cert, first.cert);
  assert.equal(source.current().ca, first.ca);
  const seen: ServingCertificate[] = [];
  source.onRotate((c) => seen.push(c));

  // A certificate with someone else's key: logged and ignored, the current one stays.
  const second = await issue();
  await core.replaceNamespacedSecret({ name: 'webhook-tls', namespace: 'tls-secret', body: {
    metadata: { name: 'webhook-tls' }, type: 'kubernetes.io/tls', data: data({ ...second, key: first.key }),
  } });
  await eventually('the broken update logged', () => logger.messages.includes('ignoring unusable webhook certificate; keeping the current one'), 10_000);
  assert.equal(source.current().cert, first.cert);
  assert.equal(seen.length, 0);

  await core.replaceNamespacedSecret({ name: 'webhook-tls', namespace: 'tls-secret', body: {
    metadata: { name: 'webhook-tls' }, type: 'kubernetes.io/tls', data: data(second),
  } });
  await eventually('onRotate with the renewed certificate', () => seen.length === 1, 10_000);
  assert.equal(seen[0]?.cert, second.cert);
  assert.equal(source.current().key, second.key);
  assert.deepEqual(source.current().notAfter, second.notAfter);
});

test('least privilege is enough: Secret get/create/update on the CA Secret, get/patch on its own configuration, get/watch on a TLS Secret', async (t) => {
  const ns = 'tls-rbac';
  await core.createNamespace({ body: { metadata: { name: ns } } });
  await createWebhookConfig(ns);
  await createWebhookConfig('tls-rbac-other');
  const dir = dirname(kube.caCertPath);
  await issueCertificate(dir, 'webhook-user', '/CN=chaperone-webhook', 'extendedKeyUsage=clientAuth\n');
  const rbac = [
    // create cannot be limited by name (the name is not known before the object exists).
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'webhook', namespace: ns }, rules: [
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['chaperone-webhook-ca'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['webhook-tls'], verbs: ['get', 'watch'] },
    ] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'webhook', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'webhook' }, subjects: [{ kind: 'User', name: 'chaperone-webhook' }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'tls-rbac-webhook' }, rules: [
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: [ns], verbs: ['get', 'patch'] },
    ] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'tls-rbac-webhook' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'tls-rbac-webhook' }, subjects: [{ kind: 'User', name: 'chaperone-webhook' }] },
  ];
  const applied = await kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: rbac }) });
  assert.equal(applied.code, 0, applied.stderr);
  const user = new KubeConfig();
  user.loadFromOptions({
    clusters: [{ name: 'test', server: kube.url, caFile: kube.caCertPath }],
    users: [{ name: 'webhook', certFile: join(dir, 'webhook-user.crt'), keyFile: join(dir, 'webhook-user.key') }],
    contexts: [{ name: 'test', cluster: 'test', user: 'webhook' }],
    currentContext: 'test',
  });

  const generated = await startGeneratedSource({ kubeConfig: user, namespace: ns, service: 'chaperone-webhook', webhookConfigName: ns });
  t.after(() => generated.close());
  for (const bundle of await caBundles(ns)) assert.ok(same(bundle[0] ?? '', generated.current().ca));
  // Its reach ends at its own configuration.
  await assert.rejects(startGeneratedSource({ kubeConfig: user, namespace: ns, service: 'chaperone-webhook', webhookConfigName: 'tls-rbac-other' }),
    (err) => isChaperoneError(err, 'WEBHOOK_ERR_TLS_START') && /forbidden/i.test(err.message));

  const issued = await issueServingCertificate(await generateCa(), { dnsNames: ['hook.tls-rbac.svc'] });
  const next = await issueServingCertificate(await generateCa(), { dnsNames: ['hook.tls-rbac.svc'] });
  const data = (c: ServingCertificate): Record<string, string> => ({ 'tls.crt': Buffer.from(c.cert).toString('base64'), 'tls.key': Buffer.from(c.key).toString('base64') });
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'webhook-tls' }, type: 'kubernetes.io/tls', data: data(issued) } });
  const watched = await startSecretSource({ kubeConfig: user, namespace: ns, name: 'webhook-tls', retryMs: 200 });
  t.after(() => watched.close());
  assert.equal(watched.current().cert, issued.cert);
  assert.equal(watched.current().ca, '', 'no ca.crt in the Secret');
  await core.replaceNamespacedSecret({ name: 'webhook-tls', namespace: ns, body: { metadata: { name: 'webhook-tls' }, type: 'kubernetes.io/tls', data: data(next) } });
  await eventually('the watch (by name) delivering the change', () => watched.current().cert === next.cert, 10_000);
});
