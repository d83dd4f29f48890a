// Table tests from the API server's own RequestInfoFactory cases (requestinfo_test.go), plus the
// paths the proxy refuses rather than interpret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requestInfo, resourceKey } from './request-info.js';

// [method, target, verb, group, version, namespace, resource, name, subresource]
const CASES: [string, string, string, string, string, string, string, string, string][] = [
  ['GET', '/api/v1/namespaces', 'list', '', 'v1', '', 'namespaces', '', ''],
  ['GET', '/api/v1/namespaces/other', 'get', '', 'v1', 'other', 'namespaces', 'other', ''],
  ['GET', '/api/v1/namespaces/other/pods', 'list', '', 'v1', 'other', 'pods', '', ''],
  ['GET', '/api/v1/namespaces/other/pods/foo', 'get', '', 'v1', 'other', 'pods', 'foo', ''],
  ['HEAD', '/api/v1/namespaces/other/pods/foo', 'get', '', 'v1', 'other', 'pods', 'foo', ''],
  ['GET', '/api/v1/pods', 'list', '', 'v1', '', 'pods', '', ''],
  ['GET', '/api/v1/namespaces/other/pods?watch=true', 'watch', '', 'v1', 'other', 'pods', '', ''],
  ['GET', '/api/v1/namespaces/other/pods?watch=0', 'list', '', 'v1', 'other', 'pods', '', ''],
  ['GET', '/api/v1/namespaces/other/pods?watch=1', 'watch', '', 'v1', 'other', 'pods', '', ''],
  ['GET', '/api/v1/watch/namespaces/other/pods', 'watch', '', 'v1', 'other', 'pods', '', ''],
  ['GET', '/api/v1/watch/pods', 'watch', '', 'v1', '', 'pods', '', ''],
  ['GET', '/api/v1/namespaces/other/pods?fieldSelector=metadata.name%3Dfoo', 'list', '', 'v1', 'other', 'pods', 'foo', ''],
  ['GET', '/api/v1/namespaces/other/pods?watch=true&fieldSelector=metadata.name%3Dfoo', 'watch', '', 'v1', 'other', 'pods', 'foo', ''],
  ['GET', '/api/v1/namespaces/other/pods/foo/log', 'get', '', 'v1', 'other', 'pods', 'foo', 'log'],
  ['POST', '/api/v1/namespaces/other/pods/foo/exec', 'create', '', 'v1', 'other', 'pods', 'foo', 'exec'],
  ['GET', '/api/v1/proxy/namespaces/other/pods/foo/some/dir', 'proxy', '', 'v1', 'other', 'pods', 'foo', ''],
  ['POST', '/api/v1/namespaces/other/pods', 'create', '', 'v1', 'other', 'pods', '', ''],
  ['PUT', '/api/v1/namespaces/other/pods/foo', 'update', '', 'v1', 'other', 'pods', 'foo', ''],
  ['PATCH', '/api/v1/namespaces/other/pods/foo', 'patch', '', 'v1', 'other', 'pods', 'foo', ''],
  ['DELETE', '/api/v1/namespaces/other/pods/foo', 'delete', '', 'v1', 'other', 'pods', 'foo', ''],
  ['DELETE', '/api/v1/namespaces/other/pods', 'deletecollection', '', 'v1', 'other', 'pods', '', ''],
  ['PUT', '/api/v1/namespaces/other/finalize', 'update', '', 'v1', 'other', 'namespaces', 'other', 'finalize'],
  ['PUT', '/api/v1/namespaces/other/status', 'update', '', 'v1', 'other', 'namespaces', 'other', 'status'],
  ['GET', '/apis/extensions/v1beta1/namespaces/other/pods', 'list', 'extensions', 'v1beta1', 'other', 'pods', '', ''],
  ['GET', '/apis/apps/v1/deployments', 'list', 'apps', 'v1', '', 'deployments', '', ''],
  ['PATCH', '/apis/apps/v1/namespaces/p/deployments/web/scale', 'patch', 'apps', 'v1', 'p', 'deployments', 'web', 'scale'],
  ['GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/admin', 'get', 'rbac.authorization.k8s.io', 'v1', '', 'clusterroles', 'admin', ''],
  ['GET', '/api/v1/nodes/n1/proxy/metrics', 'get', '', 'v1', '', 'nodes', 'n1', 'proxy'],
];

test('resource requests get the attributes the API server computes', () => {
  for (const [method, target, verb, group, version, namespace, resource, name, subresource] of CASES) {
    const r = requestInfo(method, target);
    assert.ok(r.ok, `${method} ${target}`);
    const expected: Record<string, string> = { kind: 'resource', verb, group, version, resource, path: target.split('?')[0] ?? '' };
    if (namespace) expected.namespace = namespace;
    if (name) expected.name = name;
    if (subresource) expected.subresource = subresource;
    assert.deepEqual(r.info, expected, `${method} ${target}`);
  }
});

test('discovery and other non-resource paths', () => {
  for (const path of ['/', '/api', '/api/v1', '/apis', '/apis/apps', '/apis/apps/v1', '/version', '/healthz', '/openapi/v3', '/openapi/v2']) {
    const r = requestInfo('GET', path);
    assert.deepEqual(r, { ok: true, info: { kind: 'non-resource', verb: 'get', path } }, path);
  }
  assert.deepEqual(requestInfo('POST', '/version'), { ok: true, info: { kind: 'non-resource', verb: 'post', path: '/version' } });
});

test('paths the proxy will not interpret', () => {
  for (const [method, target] of [
    ['GET', '/api/v1/watch'], ['GET', '/api/v1/namespaces/a/../b/secrets'], ['GET', '/api/v1/namespaces/a/./secrets'],
    ['GET', '/api/v1//secrets'], ['GET', '/api/v1/namespaces/a%2Fb/secrets'], ['GET', 'http://x/api/v1/pods'],
    ['OPTIONS', '/api/v1/pods'], ['GET', '/api/v1/namespaces/%zz/pods'],
  ] as const) {
    const r = requestInfo(method, target);
    assert.equal(r.ok, false, `${method} ${target}`);
  }
});

test('resourceKey names group, resource and subresource as rules do', () => {
  const key = (m: string, t: string) => {
    const r = requestInfo(m, t);
    assert.ok(r.ok && r.info.kind === 'resource');
    return resourceKey(r.info);
  };
  assert.equal(key('GET', '/api/v1/namespaces/a/pods/p/log'), 'pods/log');
  assert.equal(key('GET', '/apis/apps/v1/namespaces/a/deployments'), 'apps/deployments');
});
