// The pieces under the golden files: quantities, annotation plans, malformed pods, version → sidecar mode, review decoding, pointers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAdmissionReview, isPodCreate } from './admission-review.js';
import { parseServerVersion, parseWebhookConfig, resolveNativeSidecars } from './config.js';
import { injectPod } from './inject.js';
import { escapePointer } from './json-patch.js';
import { planInjection } from './overrides.js';
import { parseQuantity } from './quantity.js';

const config = (over: Record<string, unknown> = {}) => {
  const r = parseWebhookConfig({ connections: { 'orders-db': { type: 'postgres', port: 5432 } }, ...over });
  if (!r.ok) throw new Error(r.error);
  return r.config;
};

test('quantities: decimal and binary suffixes in base units; anything else is undefined', () => {
  const cases: [string, number | undefined][] = [
    ['50m', 0.05], ['1', 1], ['0.5', 0.5], ['.5', 0.5], ['64Mi', 64 * 2 ** 20], ['1G', 1e9], ['2Ki', 2048],
    ['', undefined], ['lots', undefined], ['1e3', undefined], ['-1', undefined], ['1 Mi', undefined], ['1mi', undefined],
  ];
  for (const [text, want] of cases) assert.equal(parseQuantity(text), want, text);
});

test('config: defaults from the brief; token expiry below the Kubernetes minimum is refused', () => {
  const c = config();
  assert.deepEqual(c.sidecar.resources, { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '500m', memory: '192Mi' } });
  assert.equal(c.tokenExpirationSeconds, 600);
  assert.equal(c.nativeSidecars, 'auto');
  const low = parseWebhookConfig({ tokenExpirationSeconds: 300 });
  assert.equal(low.ok, false);
  assert.match(low.ok ? '' : low.error, /tokenExpirationSeconds/);
  assert.equal(parseWebhookConfig({ connections: { Bad_Name: { type: 'postgres', port: 1 } } }).ok, false);
});

test('native sidecars: auto follows the server version (≥ 1.29), unknown means the fallback', () => {
  assert.equal(resolveNativeSidecars('auto', parseServerVersion({ major: '1', minor: '37' })), true);
  assert.equal(resolveNativeSidecars('auto', parseServerVersion({ major: '1', minor: '29+' })), true);
  assert.equal(resolveNativeSidecars('auto', parseServerVersion({ major: '1', minor: '28' })), false);
  assert.equal(resolveNativeSidecars('auto', parseServerVersion({ major: '', minor: '' })), false);
  assert.equal(resolveNativeSidecars('always', undefined), true);
  assert.equal(resolveNativeSidecars('never', { major: 1, minor: 40 }), false);
});

test('plans: each bad annotation value names its annotation', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'chaperone.dev/connections': '' }, /chaperone\.dev\/connections: "" is not a comma-separated list/],
    [{ 'chaperone.dev/connections': 'orders-db,,x' }, /chaperone\.dev\/connections/],
    [{ 'chaperone.dev/connections': 'Orders' }, /"Orders" is not a connection name/],
    [{ 'chaperone.dev/connections': 'orders-db,orders-db' }, /listed twice/],
    [{ 'chaperone.dev/log-level': 'verbose' }, /chaperone\.dev\/log-level/],
    [{ 'chaperone.dev/sidecar-memory-limit': '0' }, /chaperone\.dev\/sidecar-memory-limit: "0" is not a positive quantity/],
    [{ 'chaperone.dev/sidecar-cpu-limit': '10m' }, /chaperone\.dev\/sidecar-cpu-limit: cpu request 50m exceeds its limit 10m/],
  ];
  for (const [annotations, reason] of cases) {
    const r = planInjection(annotations, config());
    assert.equal(r.ok, false, JSON.stringify(annotations));
    assert.match(r.ok ? '' : r.reason, reason);
  }
  const ok = planInjection({ 'chaperone.dev/connections': ' orders-db ' }, config());
  assert.deepEqual(ok.ok && ok.plan.connections, [{ name: 'orders-db', type: 'postgres', port: 5432 }]);
});

test('malformed opted-in pods follow the failure mode; malformed pods that did not opt in are skipped', () => {
  const on = { 'chaperone.dev/inject': 'true' };
  const shapes: unknown[] = [
    { metadata: { annotations: on } },
    { metadata: { annotations: on }, spec: { containers: [] } },
    { metadata: { annotations: on }, spec: { containers: 'agent' } },
    { metadata: { annotations: on }, spec: { containers: [{ name: 'a' }], volumes: {} } },
    { metadata: { annotations: on }, spec: { containers: [{ name: 'a' }], initContainers: [1] } },
  ];
  for (const pod of shapes) {
    assert.equal(injectPod(pod, { config: config({ failureMode: 'deny' }), nativeSidecars: true }).kind, 'refuse', JSON.stringify(pod));
    assert.equal(injectPod(pod, { config: config({ failureMode: 'allow' }), nativeSidecars: true }).kind, 'allow-unchanged', JSON.stringify(pod));
  }
  for (const pod of [null, 'pod', 42, [], { metadata: 'x' }, { metadata: { annotations: { 'chaperone.dev/inject': true } } }]) {
    assert.equal(injectPod(pod, { config: config(), nativeSidecars: true }).kind, 'skip', JSON.stringify(pod));
  }
});

test('AdmissionReview decoding: v1 with a uid only; pod CREATE recognised', () => {
  const review = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', object: {} } };
  const d = decodeAdmissionReview(review);
  assert.ok(d.ok);
  assert.equal(isPodCreate(d.request), true);
  const sub = decodeAdmissionReview({ ...review, request: { ...review.request, subResource: 'ephemeralcontainers' } });
  assert.equal(sub.ok && isPodCreate(sub.request), false);
  for (const bad of [null, [], { ...review, apiVersion: 'admission.k8s.io/v1beta1' }, { ...review, kind: 'Pod' }, { ...review, request: { uid: '' } }, { ...review, request: 'x' }]) {
    assert.equal(decodeAdmissionReview(bad).ok, false, JSON.stringify(bad));
  }
});

test('JSON pointer tokens escape ~ before / (RFC 6901)', () => {
  assert.equal(escapePointer('chaperone.dev/status'), 'chaperone.dev~1status');
  assert.equal(escapePointer('a~/b'), 'a~0~1b');
});

test('re-invocation: a sidecar serving a connection the config no longer knows, or a new container on a sidecar port, follows the failure mode', () => {
  const on = { 'chaperone.dev/inject': 'true', 'chaperone.dev/status': 'injected' };
  const sidecar = (args: string[]) => ({ name: 'chaperone-sidecar', args, ports: [{ name: 'chaperone-admin', containerPort: 9090 }], restartPolicy: 'Always' });
  const pod = (args: string[], late: Record<string, unknown>) => ({
    metadata: { annotations: on },
    spec: { automountServiceAccountToken: false, initContainers: [sidecar(args)], containers: [{ name: 'agent', env: [{ name: 'PGHOST', value: '127.0.0.1' }, { name: 'PGPORT', value: '5432' }, { name: 'CHAPERONE_ORDERS_DB_PGPORT', value: '5432' }] }, late] },
  });
  const cases: [unknown, RegExp][] = [
    [pod(['sidecar', '--port', 'payments-db=5440'], { name: 'late' }), /serves connection payments-db, which the webhook's config no longer knows/],
    [pod(['sidecar', '--port', 'orders-db'], { name: 'late' }), /--port orders-db is not name=port/],
    [pod(['sidecar', '--port', 'orders-db=5432'], { name: 'late', ports: [{ containerPort: 5432 }] }), /container late declares port 5432, which connection orders-db needs/],
    [pod(['sidecar', '--port', 'orders-db=5432'], { name: 'late', ports: [{ containerPort: 9090 }] }), /container late declares port 9090, which the sidecar's port chaperone-admin needs/],
  ];
  for (const [p, reason] of cases) {
    const deny = injectPod(p, { config: config({ failureMode: 'deny' }), nativeSidecars: true });
    assert.equal(deny.kind, 'refuse', JSON.stringify(p));
    assert.match(deny.kind === 'refuse' ? deny.reason : '', reason);
    assert.equal(injectPod(p, { config: config({ failureMode: 'allow' }), nativeSidecars: true }).kind, 'allow-unchanged');
  }
  // The agent that was wired before keeps its wiring: only the late container is patched.
  const ok = injectPod(pod(['sidecar', '--port', 'orders-db=5432'], { name: 'late', ports: [{ containerPort: 8080 }] }), { config: config(), nativeSidecars: true });
  assert.deepEqual(ok.kind === 'patch' ? [...new Set(ok.patch.map((op) => op.path.split('/').slice(0, 5).join('/')))] : ok, ['/spec/containers/1/env']);
});
