// The kubernetes-rule decider: precedence, wildcards, resource spelling, defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AccessPolicyDoc, Rule } from '../policy/types.js';
import { compileKubePolicies, decideKube } from './decide.js';
import { requestInfo } from './request-info.js';
import type { RequestInfo } from './request-info.js';

function policy(rules: Rule[], def: 'allow' | 'deny' = 'allow'): AccessPolicyDoc {
  return {
    apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'p' },
    spec: { subjects: [{ namespace: 'agents' }], connections: ['cluster'], rules, default: def },
  };
}

function info(method: string, target: string): RequestInfo {
  const r = requestInfo(method, target);
  assert.ok(r.ok, target);
  return r.info;
}

function decide(rules: Rule[], method: string, target: string, def: 'allow' | 'deny' = 'allow') {
  return decideKube(compileKubePolicies([policy(rules, def)], 'cluster'), info(method, target));
}

test('deny wins over approve over allow, whatever the order in the document', () => {
  const rules: Rule[] = [
    { action: 'allow', match: { resources: ['secrets'] } },
    { action: 'approve', match: { verbs: ['delete'] }, approvers: ['group:sre'], timeout: '30s' },
    { action: 'deny', match: { verbs: ['delete'], resources: ['namespaces'] }, message: 'no namespace deletes' },
  ];
  assert.deepEqual(decide(rules, 'DELETE', '/api/v1/namespaces/prod'), { action: 'deny', policy: 'p', rule: 'p#2', message: 'no namespace deletes' });
  const held = decide(rules, 'DELETE', '/api/v1/namespaces/prod/secrets/s');
  assert.equal(held.action, 'approve');
  assert.equal(held.action === 'approve' && held.timeoutSeconds, 30);
  assert.equal(decide(rules, 'GET', '/api/v1/namespaces/prod/secrets').action, 'allow');
});

test('a rule without a message: the request, the rule and the policy are named', () => {
  const rules: Rule[] = [
    { action: 'deny', name: 'no-secrets', match: { resources: ['secrets'] } },
    { action: 'approve', match: { verbs: ['delete'] }, approvers: ['group:sre'], timeout: '30s' },
  ];
  assert.deepEqual(decide(rules, 'GET', '/api/v1/namespaces/prod/secrets/s'), {
    action: 'deny', policy: 'p', rule: 'no-secrets', message: 'get secrets "s" in namespace prod denied by rule no-secrets of policy p',
  });
  assert.deepEqual(decide(rules, 'DELETE', '/api/v1/namespaces/prod/pods/web'), {
    action: 'approve', policy: 'p', rule: 'p#1', approvers: ['group:sre'], timeoutSeconds: 30,
    message: 'delete pods "web" in namespace prod needs approval under rule p#1 of policy p',
  });
});

test('default deny names the request; no covering policy denies', () => {
  const d = decide([{ action: 'allow', match: { verbs: ['get', 'list'] } }], 'POST', '/apis/apps/v1/namespaces/a/deployments', 'deny');
  assert.equal(d.action, 'deny');
  assert.match(d.action === 'deny' ? d.message : '', /create apps\/deployments in namespace a is not allowed by any rule of policy p/);
  const none = decideKube(compileKubePolicies([], 'cluster'), info('GET', '/api/v1/pods'));
  assert.equal(none.action, 'deny');
});

test('resource patterns: bare, group-qualified, subresources, wildcards', () => {
  const deny = (resources: string[], method: string, target: string) => decide([{ action: 'deny', match: { resources } }], method, target).action;
  assert.equal(deny(['pods'], 'GET', '/api/v1/namespaces/a/pods'), 'deny');
  assert.equal(deny(['pods'], 'GET', '/api/v1/namespaces/a/pods/x/log'), 'allow', 'as RBAC: pods does not cover pods/log');
  assert.equal(deny(['pods/*'], 'GET', '/api/v1/namespaces/a/pods/x/log'), 'deny');
  assert.equal(deny(['pods/log'], 'GET', '/api/v1/namespaces/a/pods/x/log'), 'deny');
  assert.equal(deny(['apps/deployments'], 'GET', '/apis/apps/v1/deployments'), 'deny');
  assert.equal(deny(['apps/deployments'], 'GET', '/apis/apps/v1/namespaces/a/deployments/w/scale'), 'allow');
  assert.equal(deny(['apps/deployments/scale'], 'GET', '/apis/apps/v1/namespaces/a/deployments/w/scale'), 'deny');
  assert.equal(deny(['*'], 'GET', '/apis/apps/v1/namespaces/a/deployments/w/scale'), 'deny');
  assert.equal(deny(['*/deployments'], 'GET', '/apis/apps/v1/deployments'), 'deny');
  // A bare name in a deny rule catches the resource in any group (fail closed)…
  assert.equal(deny(['deployments'], 'GET', '/apis/apps/v1/deployments'), 'deny');
  // …in an allow rule only the core group.
  assert.equal(decide([{ action: 'allow', match: { resources: ['deployments'] } }], 'GET', '/apis/apps/v1/deployments', 'deny').action, 'deny');
  assert.equal(decide([{ action: 'allow', match: { resources: ['apps/*'] } }], 'GET', '/apis/apps/v1/deployments', 'deny').action, 'allow');
});

test('namespaces and names: only requests that carry them', () => {
  const rules: Rule[] = [{ action: 'deny', match: { namespaces: ['prod-*'], names: ['db-*'] } }];
  assert.equal(decide(rules, 'GET', '/api/v1/namespaces/prod-eu/secrets/db-admin').action, 'deny');
  assert.equal(decide(rules, 'GET', '/api/v1/namespaces/prod-eu/secrets?fieldSelector=metadata.name%3Ddb-admin').action, 'deny');
  assert.equal(decide(rules, 'GET', '/api/v1/namespaces/prod-eu/secrets').action, 'allow');
  assert.equal(decide(rules, 'GET', '/api/v1/namespaces/dev/secrets/db-admin').action, 'allow');
  assert.equal(decide([{ action: 'deny', match: { namespaces: ['*'] } }], 'GET', '/api/v1/nodes').action, 'allow');
});

test('non-resource paths are read-only, and SQL rules are ignored', () => {
  const rules: Rule[] = [{ action: 'deny', match: { statements: ['select'] } }];
  assert.equal(decide(rules, 'GET', '/version').action, 'allow');
  assert.equal(decide(rules, 'GET', '/api/v1/pods').action, 'allow');
  assert.equal(decide(rules, 'POST', '/version').action, 'deny');
  for (const path of ['/api', '/apis/apps/v1', '/openapi/v3/apis/apps/v1', '/healthz', '/livez/ping', '/.well-known/openid-configuration']) {
    assert.equal(decide(rules, 'GET', path).action, 'allow', path);
  }
  for (const path of ['/logs/', '/metrics', '/debug/pprof/profile', '/', '/apisx']) assert.equal(decide(rules, 'GET', path).action, 'deny', path);
});
