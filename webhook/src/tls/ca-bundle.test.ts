// The caBundle patch: whole values compared, then applied to the configuration and the result compared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import jsonpatch from 'fast-json-patch';
import type { V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { caBundlePatch, encodeCaBundle } from './ca-bundle.js';

const PEM_A = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
const PEM_B = '-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n';

function config(bundles: (string | undefined)[]): V1MutatingWebhookConfiguration {
  return {
    metadata: { name: 'chaperone' },
    webhooks: bundles.map((caBundle, i) => ({
      name: `w${i}.chaperone.dev`, admissionReviewVersions: ['v1'], sideEffects: 'None',
      clientConfig: caBundle === undefined ? { url: 'https://127.0.0.1/mutate' } : { url: 'https://127.0.0.1/mutate', caBundle },
    })),
  };
}

test('encodeCaBundle is base64 of the concatenated PEMs', () => {
  assert.equal(Buffer.from(encodeCaBundle([PEM_A, PEM_B]), 'base64').toString(), PEM_A + PEM_B);
});

test('only the webhooks whose caBundle differs are patched, each guarded by its name', () => {
  const want = encodeCaBundle([PEM_A, PEM_B]);
  const before = config([undefined, want, encodeCaBundle([PEM_A])]);
  const ops = caBundlePatch(before, want);
  assert.deepEqual(ops, [
    { op: 'test', path: '/webhooks/0/name', value: 'w0.chaperone.dev' },
    { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: want },
    { op: 'test', path: '/webhooks/2/name', value: 'w2.chaperone.dev' },
    { op: 'add', path: '/webhooks/2/clientConfig/caBundle', value: want },
  ]);
  const after = jsonpatch.applyPatch(structuredClone(before), ops, true, false).newDocument;
  assert.deepEqual(after, config([want, want, want]));
  assert.deepEqual(caBundlePatch(after, want), [], 'nothing to do the second time');
});

test('a configuration without webhooks needs no patch', () => {
  assert.deepEqual(caBundlePatch({ metadata: { name: 'x' } }, encodeCaBundle([PEM_A])), []);
});

test('the guard makes the patch fail when the list was reordered', () => {
  const want = encodeCaBundle([PEM_A]);
  const ops = caBundlePatch(config([undefined, undefined]), want);
  const reordered = config([undefined, undefined]);
  reordered.webhooks?.reverse();
  assert.throws(() => jsonpatch.applyPatch(structuredClone(reordered), ops, true, false), /TEST_OPERATION_FAILED/);
});
