// The HTTPS admission server on a real socket: AdmissionReview in and out, 400 for anything else,
// certificate rotation on new connections, and the metrics/health port.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { parseWebhookConfig } from './config.js';
import { injectPod } from './inject.js';
import { startWebhookServer, type RunningWebhookServer } from './server.js';
import { loopbackCertificate, staticCertificates, type StaticCertificates } from './static-certificates.js';
import type { ServingCertificate } from './tls/source.js';

const parsed = parseWebhookConfig({ connections: { 'orders-db': { type: 'postgres', port: 5432 } }, failureMode: 'deny' });
if (!parsed.ok) throw new Error(parsed.error);
const config = parsed.config;

let first: ServingCertificate;
let certs: StaticCertificates;
let server: RunningWebhookServer;

before(async () => {
  first = await loopbackCertificate();
  certs = staticCertificates(first);
  server = await startWebhookServer({
    listen: { host: '127.0.0.1', port: 0 }, metricsListen: { host: '127.0.0.1', port: 0 },
    certificates: certs, config: () => config, nativeSidecars: true, logger: pino({ level: 'silent' }),
  });
});
after(async () => { await server?.close(); });

interface Reply { status: number; body: unknown; peerSerial: string }

function post(path: string, body: unknown, ca: string): Promise<Reply> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { method: 'POST', ca, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = (res.socket as TLSSocket).getPeerX509Certificate?.();
        const data = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, body: data ? JSON.parse(data) : undefined, peerSerial: raw?.serialNumber ?? '' });
      });
    });
    req.on('error', reject);
    req.end(text);
  });
}

const pod = (annotations?: Record<string, string>) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'agents', ...(annotations ? { annotations } : {}) },
  spec: { containers: [{ name: 'agent', image: 'agent:1' }] },
});

const review = (uid: string, object: unknown, over: Record<string, unknown> = {}) => ({
  apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
  request: { uid, kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, operation: 'CREATE', namespace: 'agents', object, ...over },
});

test('an opted-in pod gets the pipeline\'s patch, base64 JSON Patch, with the uid echoed', async () => {
  const object = pod({ 'chaperone.dev/inject': 'true' });
  const r = await post('/mutate', review('u-1', object), first.ca);
  assert.equal(r.status, 200);
  const expected = injectPod(object, { config, nativeSidecars: true });
  assert.equal(expected.kind, 'patch');
  const res = (r.body as { response: { uid: string; allowed: boolean; patchType: string; patch: string } }).response;
  assert.deepEqual({ ...res, patch: JSON.parse(Buffer.from(res.patch, 'base64').toString()) },
    { uid: 'u-1', allowed: true, patchType: 'JSONPatch', patch: expected.kind === 'patch' ? expected.patch : [] });
  assert.equal((r.body as { apiVersion: string; kind: string }).apiVersion, 'admission.k8s.io/v1');
});

test('a pod that did not opt in, and a non-pod request, are allowed without a patch', async () => {
  const plain = await post('/mutate', review('u-2', pod()), first.ca);
  assert.deepEqual(plain.body, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u-2', allowed: true } });
  const update = await post('/mutate', review('u-3', pod({ 'chaperone.dev/inject': 'true' }), { operation: 'UPDATE' }), first.ca);
  assert.deepEqual(update.body, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u-3', allowed: true } });
});

test('a bad annotation under failureMode deny is refused with a reason naming it', async () => {
  const r = await post('/mutate', review('u-4', pod({ 'chaperone.dev/inject': 'true', 'chaperone.dev/log-level': 'loud' })), first.ca);
  assert.deepEqual(r.body, {
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    response: { uid: 'u-4', allowed: false, status: { code: 400, reason: 'BadRequest', message: 'chaperone: cannot inject the sidecar: annotation chaperone.dev/log-level: "loud" is not one of fatal|error|warn|info|debug|trace' } },
  });
});

test('anything but an AdmissionReview v1 is a 400', async () => {
  for (const body of [{}, { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, '[1,2]']) {
    const r = await post('/mutate', body, first.ca);
    assert.equal(r.status, 400, JSON.stringify(body));
  }
  const broken = await post('/mutate', '{"apiVersion":', first.ca);
  assert.equal(broken.status, 400);
});

test('after a rotation new connections get the new certificate', async () => {
  const before = await post('/mutate', review('u-5', pod()), first.ca);
  assert.equal(before.peerSerial, new X509Certificate(first.cert).serialNumber);
  const second = await loopbackCertificate();
  certs.rotate(second);
  const afterRotation = await post('/mutate', review('u-6', pod()), second.ca);
  assert.equal(afterRotation.peerSerial, new X509Certificate(second.cert).serialNumber);
  certs.rotate(first);
});

test('the metrics port: health, readiness, admissions by result, latency and certificate expiry', async () => {
  assert.equal((await fetch(`${server.metricsUrl}/healthz`)).status, 200);
  assert.equal((await fetch(`${server.metricsUrl}/readyz`)).status, 200);
  const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
  const value = (line: string): number => Number(new RegExp(`^${line.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
  // The counts of the tests above (run in order, one file): 1 injected, 1+1+1+1 skipped (u-2, u-3, u-5, u-6), 1 refused, 5 errors (400s, one
  // of them refused by the JSON parser before the handler, so not timed).
  assert.equal(value('chaperone_webhook_admissions_total{result="injected"}'), 1);
  assert.equal(value('chaperone_webhook_admissions_total{result="skipped"}'), 4);
  assert.equal(value('chaperone_webhook_admissions_total{result="refused"}'), 1);
  assert.equal(value('chaperone_webhook_admissions_total{result="allowed_unchanged"}'), 0);
  assert.equal(value('chaperone_webhook_admissions_total{result="error"}'), 5);
  assert.equal(value('chaperone_webhook_admission_duration_seconds_count'), 10);
  assert.equal(value('chaperone_webhook_certificate_expiry_timestamp_seconds'), first.notAfter.getTime() / 1000);
});
