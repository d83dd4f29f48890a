// Golden files: every webhook/testdata/pods/<name>.in.json is admitted; the whole result
// (<name>.patch.json) and the pod after applying the patch (<name>.out.json) are compared exactly.
// UPDATE_GOLDEN=1 rewrites them. A golden file without an input, or an input without goldens, fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import jsonPatch from 'fast-json-patch';
import { parseWebhookConfig, type WebhookConfigInput } from './config.js';
import { injectPod, type InjectOptions, type InjectResult } from './inject.js';

// ../testdata from webhook/src (tsx) and from webhook/dist (compiled) alike.
const DIR = fileURLToPath(new URL('../testdata/pods/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** The config every case runs with, unless the table below says otherwise. */
const BASE: WebhookConfigInput = {
  sidecar: { image: 'ghcr.io/chaperone-dev/chaperone:0.1.0' },
  controlPlane: { url: 'https://chaperone-control-plane.chaperone.svc:7443' },
  failureMode: 'deny',
  connections: {
    'orders-db': { type: 'postgres', port: 5432 },
    'reports-db': { type: 'postgres', port: 5433 },
    bastion: { type: 'ssh', port: 2222 },
    cluster: { type: 'kubernetes', port: 6443 },
  },
};

/** Cases that need another config or the fallback (no native sidecars); the rest use BASE, native. */
const CASES: Record<string, { config?: Partial<WebhookConfigInput>; native?: boolean }> = {
  'bad-annotation-allow': { config: { failureMode: 'allow' } },
  'fallback-sidecar': { native: false },
  'fallback-init-containers': { native: false },
  'reinvocation-fallback': { native: false },
  // The sidecar was injected with orders-db on 5432; the reloaded config says 6000: the new agent follows the sidecar.
  'reinvocation-config-reloaded': {
    native: false,
    config: { connections: { 'orders-db': { type: 'postgres', port: 6000 }, 'reports-db': { type: 'postgres', port: 5433 } } },
  },
  // The chart turns the prometheus.io annotations off when its PodMonitor scrapes the sidecars.
  'scrape-annotations-off': { config: { sidecar: { image: 'ghcr.io/chaperone-dev/chaperone:0.1.0', scrapeAnnotations: false } } },
  'control-plane-ca': { config: { controlPlane: { url: 'https://cp.chaperone.svc:7443', ca: { kind: 'secret', name: 'chaperone-control-plane-ca' } } } },
};

function optionsFor(name: string): InjectOptions {
  const c = CASES[name] ?? {};
  const parsed = parseWebhookConfig({ ...BASE, ...c.config });
  if (!parsed.ok) throw new Error(`case ${name}: ${parsed.error}`);
  return { config: parsed.config, nativeSidecars: c.native ?? true };
}

function applied(pod: unknown, result: InjectResult): unknown {
  if (result.kind !== 'patch') return pod;
  // validate=true: an op on a path that does not exist throws instead of being ignored.
  return jsonPatch.applyPatch(jsonPatch.deepClone(pod), result.patch as jsonPatch.Operation[], true, false).newDocument;
}

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

const files = readdirSync(DIR);
const inputs = files.filter((f) => f.endsWith('.in.json')).map((f) => f.slice(0, -'.in.json'.length)).sort();

test('the golden folder holds only inputs with both goldens, and the case table names only existing inputs', () => {
  const expected = new Set(inputs.flatMap((n) => [`${n}.in.json`, `${n}.patch.json`, `${n}.out.json`]));
  if (!UPDATE) assert.deepEqual(files.filter((f) => !expected.has(f)).sort(), [], 'stale golden files without an input (delete them)');
  if (!UPDATE) assert.deepEqual([...expected].filter((f) => !files.includes(f)).sort(), [], 'inputs without goldens (run with UPDATE_GOLDEN=1)');
  assert.deepEqual(Object.keys(CASES).filter((n) => !inputs.includes(n)), [], 'case table entries without an input');
  assert.ok(inputs.length >= 15, `expected the golden cases, found ${inputs.length} in ${DIR}`);
});

for (const name of inputs) {
  test(`golden ${name}`, () => {
    const pod: unknown = JSON.parse(readFileSync(`${DIR}${name}.in.json`, 'utf8'));
    const result = injectPod(pod, optionsFor(name));
    const out = applied(pod, result);
    if (UPDATE) {
      writeFileSync(`${DIR}${name}.patch.json`, json(result));
      writeFileSync(`${DIR}${name}.out.json`, json(out));
    }
    assert.equal(json(result), readFileSync(`${DIR}${name}.patch.json`, 'utf8'), `${name}.patch.json`);
    assert.equal(json(out), readFileSync(`${DIR}${name}.out.json`, 'utf8'), `${name}.out.json`);
    // Re-invocation of the patched pod: idempotent, no second patch.
    if (result.kind === 'patch') assert.deepEqual(injectPod(out, optionsFor(name)), { kind: 'skip', reason: 'already injected (chaperone.dev/status: injected), every container wired' });
  });
}
