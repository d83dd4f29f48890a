// Tests of subject matching: namespace exact, name exact or `*`, groups not yet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { policiesForIdentity, subjectMatches } from './subjects.js';
import type { AccessPolicyDoc, Subject } from './types.js';

const bot = { namespace: 'agents', serviceAccount: 'support-bot' };

test('subjectMatches', () => {
  const table: [Subject, boolean][] = [
    [{ serviceAccount: { namespace: 'agents', name: 'support-bot' } }, true],
    [{ serviceAccount: { namespace: 'agents', name: '*' } }, true],
    [{ serviceAccount: { namespace: 'agents', name: 'other-bot' } }, false],
    [{ serviceAccount: { namespace: 'agent', name: 'support-bot' } }, false],
    [{ serviceAccount: { namespace: '*', name: 'support-bot' } }, false], // only the name takes `*`
    [{ serviceAccount: { namespace: 'agents', name: 'support-*' } }, false], // `*` is the whole name, not a glob
    [{ group: 'agents' }, false],
  ];
  for (const [subject, expected] of table) assert.equal(subjectMatches(subject, bot), expected, JSON.stringify(subject));
});

test('policiesForIdentity keeps the policies with any matching subject, in order', () => {
  const policy = (name: string, subjects: Subject[]): AccessPolicyDoc => ({
    apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name },
    spec: { subjects, connections: ['db'], rules: [], default: 'deny' },
  });
  const docs = [
    policy('a', [{ group: 'x' }, { serviceAccount: { namespace: 'agents', name: '*' } }]),
    policy('b', [{ serviceAccount: { namespace: 'ops', name: 'support-bot' } }]),
    policy('c', [{ serviceAccount: { namespace: 'agents', name: 'support-bot' } }]),
  ];
  assert.deepEqual(policiesForIdentity(docs, bot).map((p) => p.metadata.name), ['a', 'c']);
});
