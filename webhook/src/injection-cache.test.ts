// The memo and the pre-serialised response give exactly what the plain pipeline and JSON.stringify give, and follow a config reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeReviewResponse, reviewResponse } from './admission-review.js';
import { parseWebhookConfig, type WebhookConfigInput } from './config.js';
import { injectPod, type InjectResult } from './inject.js';
import { createInjectionCache } from './injection-cache.js';

const DIR = fileURLToPath(new URL('../testdata/pods/', import.meta.url));
const pods = readdirSync(DIR).filter((f) => f.endsWith('.in.json')).map((f) => ({ name: f, pod: JSON.parse(readFileSync(`${DIR}${f}`, 'utf8')) as unknown }));

function config(over: Partial<WebhookConfigInput> = {}) {
  const r = parseWebhookConfig({
    controlPlane: { url: 'https://cp.chaperone.svc:7443', ca: { kind: 'configMap', name: 'cp-ca' } },
    connections: { 'orders-db': { type: 'postgres', port: 5432 }, 'reports-db': { type: 'postgres', port: 5433 }, bastion: { type: 'ssh', port: 2222 }, cluster: { type: 'kubernetes', port: 6443 } },
    ...over,
  });
  if (!r.ok) throw new Error(r.error);
  return r.config;
}

test('with the cache, every golden pod gets the same result, and its patch text is JSON.stringify of the patch', () => {
  const cache = createInjectionCache();
  for (const failureMode of ['deny', 'allow'] as const) {
    const c = config({ failureMode });
    for (const nativeSidecars of [true, false]) {
      // Twice: the second round is served from the cache.
      for (let round = 0; round < 2; round++) {
        for (const { name, pod } of pods) {
          const plain = injectPod(pod, { config: c, nativeSidecars });
          const cached = injectPod(pod, { config: c, nativeSidecars, cache });
          assert.deepEqual(cached, plain, name);
          if (cached.kind === 'patch') assert.equal(cache.patchText(cached.patch), JSON.stringify(cached.patch), name);
        }
      }
    }
  }
});

test('the encoded response is JSON.stringify(reviewResponse) for every kind of result', () => {
  const results: InjectResult[] = [
    { kind: 'skip', reason: 'not opted in' },
    { kind: 'patch', patch: [{ op: 'add', path: '/a~1b', value: { x: ['é', '"q"\n'] } }, { op: 'remove', path: '/c/0' }], warnings: [] },
    { kind: 'patch', patch: [], warnings: ['chaperone: "quoted" warning'] },
    { kind: 'refuse', reason: 'annotation chaperone.dev/connections: "x"' },
    { kind: 'allow-unchanged', reason: 'hostNetwork' },
  ];
  for (const uid of ['705ab4f5-6393-11e8-b7cc-42010a800002', 'odd "uid" \\ \u2028']) {
    for (const r of results) {
      assert.equal(encodeReviewResponse(uid, r), JSON.stringify(reviewResponse(uid, r)), `${uid} ${r.kind}`);
      if (r.kind === 'patch') assert.equal(encodeReviewResponse(uid, r, JSON.stringify(r.patch)), JSON.stringify(reviewResponse(uid, r)));
    }
  }
});

test('cached parts are frozen, shared between admissions, and rebuilt when the config object changes (a reload)', () => {
  const cache = createInjectionCache();
  const pod = pods.find((p) => p.name === 'plain-opt-in.in.json')!.pod;
  const sidecarOf = (r: InjectResult) => (r.kind === 'patch' ? (r.patch.find((o) => o.path.startsWith('/spec/initContainers'))! as { value: unknown }).value : assert.fail(r.kind));
  const first = config();
  const a = sidecarOf(injectPod(pod, { config: first, nativeSidecars: true, cache }));
  const b = sidecarOf(injectPod(pod, { config: first, nativeSidecars: true, cache }));
  // The pod has no initContainers, so the patch creates the list: [sidecar].
  const container = Array.isArray(a) && Array.isArray(b) ? (a[0] as { image: string; args: string[] }) : assert.fail('expected [sidecar]');
  assert.equal(container, (b as unknown[])[0], 'the same object from the cache');
  assert.ok(Object.isFrozen(container) && Object.isFrozen(container.args));
  const reloaded = config({ sidecar: { image: 'ghcr.io/chaperone-dev/chaperone:0.2.0' } });
  const c = sidecarOf(injectPod(pod, { config: reloaded, nativeSidecars: true, cache }));
  assert.equal((c as { image: string }[])[0]?.image, 'ghcr.io/chaperone-dev/chaperone:0.2.0');
});

test('results stay right past the bound on kept plans (600 distinct annotation values)', () => {
  const cache = createInjectionCache();
  const c = config();
  for (let i = 1; i <= 600; i++) {
    const pod = { metadata: { annotations: { 'chaperone.dev/inject': 'true', 'chaperone.dev/sidecar-memory-request': `${i}Ki` } }, spec: { containers: [{ name: 'agent' }] } };
    const cached = injectPod(pod, { config: c, nativeSidecars: true, cache });
    assert.deepEqual(cached, injectPod(pod, { config: c, nativeSidecars: true }));
    if (cached.kind === 'patch') assert.equal(cache.patchText(cached.patch), JSON.stringify(cached.patch));
  }
});
