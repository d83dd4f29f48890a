// The Accept rewrite and the headers passed upstream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonAccept, upstreamHeaders } from './http.js';

test('Accept: protobuf, YAML and CBOR never reach the API server for masked requests', () => {
  const cases: [string | undefined, string][] = [
    [undefined, 'application/json'],
    ['application/vnd.kubernetes.protobuf', 'application/json'],
    ['application/vnd.kubernetes.protobuf, application/json', 'application/json'],
    ['application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json',
      'application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json'],
    ['application/vnd.kubernetes.protobuf;stream=watch', 'application/json;stream=watch'],
    ['application/yaml', 'application/json'],
    ['application/cbor', 'application/json'],
    ['*/*', 'application/json'],
  ];
  for (const [given, expected] of cases) assert.equal(jsonAccept(given), expected, String(given));
});

test('the agent\'s credentials, impersonation and hop-by-hop headers stay behind', () => {
  const h = upstreamHeaders({
    authorization: 'Bearer agent', 'impersonate-user': 'root', 'impersonate-group': 'system:masters', 'impersonate-extra-scopes': 'x',
    'x-remote-user': 'root', host: 'localhost', connection: 'keep-alive, x-private', 'x-private': '1', 'user-agent': 'kubectl', accept: 'application/vnd.kubernetes.protobuf',
  }, 'sidecar', { jsonOnly: true, identity: true });
  assert.deepEqual(h, { 'user-agent': 'kubectl', accept: 'application/json', authorization: 'Bearer sidecar', 'accept-encoding': 'identity' });
});
