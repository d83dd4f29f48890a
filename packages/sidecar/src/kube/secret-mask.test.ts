// Secret masking over the response shapes of the secrets resource.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskSecretsBody, maskSecretsWatchEvent } from './secret-mask.js';
import type { MaskCounts, ValueMask } from './secret-mask.js';

const redact: ValueMask = { rule: 'p#0', mask: () => '[MASKED]' };
const b64 = (s: string) => Buffer.from(s).toString('base64');

function secret(name: string) {
  const applied = JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: { password: 'pw' } });
  return { metadata: { name, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': applied } }, data: { password: b64('pw'), user: b64('bob') } };
}

test('objects, lists, Tables and watch events are masked; data stays base64', () => {
  const shapes: unknown[] = [
    secret('a'),
    { kind: 'SecretList', items: [secret('a'), secret('b')] },
    { kind: 'Table', rows: [{ cells: ['a', 'Opaque', 2, '1m'], object: secret('a') }] },
  ];
  for (const body of shapes) {
    const counts: MaskCounts = {};
    maskSecretsBody(body, redact, counts);
    const text = JSON.stringify(body);
    assert.ok(!text.includes(b64('pw')) && !text.includes('\\"pw\\"') && !text.includes(b64('bob')), text);
    assert.ok(text.includes(b64('[MASKED]')));
    assert.ok((counts['p#0'] ?? 0) >= 3);
  }
  const event = { type: 'ADDED', object: secret('c') };
  const counts: MaskCounts = {};
  maskSecretsWatchEvent(event, redact, counts);
  assert.equal(event.object.data.password, b64('[MASKED]'));
  assert.deepEqual(counts, { 'p#0': 3 });
});

test('strategy null gives null data; Status bodies and unreadable annotations', () => {
  const body = secret('a');
  maskSecretsBody(body, { rule: 'n', mask: () => null }, {});
  assert.equal(body.data.password, null);
  const status = { kind: 'Status', message: 'pw' };
  maskSecretsBody(status, redact, {});
  assert.equal(status.message, 'pw');
  const odd = { metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'password: pw' } } };
  const counts: MaskCounts = {};
  maskSecretsBody(odd, redact, counts);
  assert.equal(odd.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'], '[MASKED]');
  assert.deepEqual(counts, { 'p#0': 1 });
});

test('a mask that leaves a value as it is does not count it', () => {
  const counts: MaskCounts = {};
  maskSecretsBody({ data: { a: b64('nothing here') } }, { rule: 'd', mask: (v) => v }, counts);
  assert.deepEqual(counts, {});
});
