// Tests of subject matching: service accounts, namespaces, pod selectors; groups not yet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needsPodLabels, policiesForIdentity, subjectMatches, type PodLabels } from './subjects.js';
import type { AccessPolicyDoc, Subject } from './types.js';

const bot = { namespace: 'agents', serviceAccount: 'support-bot' };
const labels: PodLabels = { app: 'support', tier: 'batch' };

test('subjectMatches', () => {
  const sel = (matchLabels: Record<string, string>) => ({ matchLabels });
  const table: [Subject, PodLabels | undefined, boolean][] = [
    [{ serviceAccount: { namespace: 'agents', name: 'support-bot' } }, undefined, true],
    [{ serviceAccount: { namespace: 'agents', name: '*' } }, undefined, true],
    [{ serviceAccount: { namespace: 'agents', name: 'other-bot' } }, undefined, false],
    [{ serviceAccount: { namespace: 'agent', name: 'support-bot' } }, undefined, false],
    [{ serviceAccount: { namespace: '*', name: 'support-bot' } }, undefined, false], // only the name takes `*`
    [{ serviceAccount: { namespace: 'agents', name: 'support-*' } }, undefined, false], // `*` is the whole name, not a glob
    [{ group: 'agents' }, undefined, false],
    [{ namespace: 'agents' }, undefined, true],
    [{ namespace: 'agent' }, undefined, false],
    [{ namespace: 'agents', podSelector: sel({ app: 'support' }) }, labels, true],
    [{ namespace: 'agents', podSelector: sel({ app: 'support', tier: 'batch' }) }, labels, true],
    [{ namespace: 'agents', podSelector: sel({ app: 'support', tier: 'web' }) }, labels, false],
    [{ namespace: 'agents', podSelector: sel({ zone: '' }) }, labels, false], // an absent label is not an empty one
    [{ namespace: 'agents', podSelector: sel({ app: 'support' }) }, undefined, false], // pod unknown: fail closed
    [{ namespace: 'agents', podSelector: sel({ app: 'support' }) }, {}, false],
    [{ namespace: 'other', podSelector: sel({ app: 'support' }) }, labels, false],
    [{ serviceAccount: { namespace: 'agents', name: 'support-bot' }, podSelector: sel({ tier: 'batch' }) }, labels, true],
    [{ serviceAccount: { namespace: 'agents', name: 'other-bot' }, podSelector: sel({ tier: 'batch' }) }, labels, false],
    [{ namespace: 'agents', podSelector: sel({ toString: 'x' }) }, {}, false], // no prototype keys
  ];
  for (const [subject, podLabels, expected] of table) {
    assert.equal(subjectMatches(subject, bot, podLabels), expected, `${JSON.stringify(subject)} with ${JSON.stringify(podLabels)}`);
  }
});

const policy = (name: string, subjects: Subject[]): AccessPolicyDoc => ({
  apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name },
  spec: { subjects, connections: ['db'], rules: [], default: 'deny' },
});

test('policiesForIdentity keeps the policies with any matching subject, in order', () => {
  const docs = [
    policy('a', [{ group: 'x' }, { serviceAccount: { namespace: 'agents', name: '*' } }]),
    policy('b', [{ serviceAccount: { namespace: 'ops', name: 'support-bot' } }]),
    policy('c', [{ serviceAccount: { namespace: 'agents', name: 'support-bot' } }]),
    policy('d', [{ namespace: 'agents', podSelector: { matchLabels: { app: 'support' } } }]),
    policy('e', [{ namespace: 'agents' }]),
  ];
  assert.deepEqual(policiesForIdentity(docs, bot).map((p) => p.metadata.name), ['a', 'c', 'e']);
  assert.deepEqual(policiesForIdentity(docs, bot, labels).map((p) => p.metadata.name), ['a', 'c', 'd', 'e']);
});

test('needsPodLabels: only a podSelector in the identity\'s namespace', () => {
  const selector = { matchLabels: { app: 'support' } };
  assert.equal(needsPodLabels([policy('a', [{ namespace: 'agents' }])], bot), false);
  assert.equal(needsPodLabels([policy('a', [{ namespace: 'ops', podSelector: selector }])], bot), false);
  assert.equal(needsPodLabels([policy('a', [{ group: 'g' }, { namespace: 'agents', podSelector: selector }])], bot), true);
  assert.equal(needsPodLabels([policy('a', [{ serviceAccount: { namespace: 'agents', name: 'x' }, podSelector: selector }])], bot), true);
});
