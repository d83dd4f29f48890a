// KubeProxy against a small HTTPS upstream standing in for the API server where the test cluster
// cannot serve the real thing: pod logs need a kubelet (there is none in the harness), and a
// protobuf answer to a JSON-only Accept needs a misbehaving server. The real API server paths
// are covered by test/kube/proxy.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request } from 'node:https';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { compileKubePolicies } from '@chaperone/core/kube/decide';
import type { AccessPolicyDoc } from '@chaperone/core/policy/types';
import type { KubernetesRequestEvent } from '@chaperone/core/records/types';
import { generateLocalTls } from './local-ca.js';
import type { LocalTls } from './local-ca.js';
import { buildKubeMasks } from './masks.js';
import { KubeProxy } from './proxy.js';

const CARD = '4111 1111 1111 1111';
const policy: AccessPolicyDoc = {
  apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'p' },
  spec: {
    subjects: [{ namespace: 'agents' }], connections: ['c'], default: 'allow',
    rules: [{ action: 'mask', match: { detectors: ['credit_card', 'email'] } }, { action: 'mask', match: { resources: ['secrets'] } }],
  },
};

let tls: LocalTls;
let upstream: Server;
let proxy: KubeProxy;
let port = 0;
const seen: IncomingHttpHeaders[] = [];
const events: KubernetesRequestEvent[] = [];

before(async () => {
  tls = await generateLocalTls();
  upstream = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    seen.push(req.headers);
    if (req.url?.includes('/log')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      // Lines split across writes, as a follow stream delivers them.
      res.write(`pay with ${CARD.slice(0, 7)}`);
      setTimeout(() => { res.write(`${CARD.slice(7)} now\nmail bob@example.com\n`); res.end('tail without newline'); }, 20);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/vnd.kubernetes.protobuf' });
    res.end(Buffer.from([0x6b, 0x38, 0x73, 0x00, 1, 2, 3]));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const address = upstream.address();
  const upstreamPort = typeof address === 'object' && address ? address.port : 0;
  proxy = new KubeProxy({
    listen: { host: '127.0.0.1', port: 0 }, connectionName: 'c',
    target: { server: `https://127.0.0.1:${upstreamPort}`, caBundle: tls.caCert }, credential: { token: 'sidecar-token' },
    policy: compileKubePolicies([policy], 'c'), masks: buildKubeMasks([policy], 'c', new Uint8Array(32)), tls,
    observer: { sessionStarted: () => undefined, request: (_s, e) => events.push(e), approval: () => undefined, sessionEnded: () => undefined },
  });
  port = (await proxy.start()).port;
});

after(async () => {
  await proxy?.close();
  await new Promise((r) => upstream?.close(r));
});

function get(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, ca: tls.caCert, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}

test('pod logs are masked line by line, lines split across chunks included; the agent\'s headers stay behind', async () => {
  const r = await get('/api/v1/namespaces/a/pods/p/log?follow=true', { authorization: 'Bearer agent-token', 'x-remote-user': 'root', 'accept-encoding': 'gzip' });
  assert.equal(r.status, 200);
  assert.ok(!r.body.includes(CARD) && !r.body.includes('bob@example.com'), r.body);
  assert.match(r.body, /^pay with .+ now\nmail .+\ntail without newline$/);
  const h = seen.at(-1);
  assert.equal(h?.authorization, 'Bearer sidecar-token');
  assert.equal(h?.['x-remote-user'], undefined);
  assert.equal(h?.['accept-encoding'], 'identity');
  await new Promise((resolve) => setTimeout(resolve, 20));
  const e = events.at(-1);
  assert.equal(e?.subresource, 'log');
  assert.deepEqual(e?.masked, { 'p#0': 2 });
});

test('a request asking to impersonate is refused with a Status saying so, and never reaches the upstream', async () => {
  for (const header of ['impersonate-user', 'impersonate-group', 'impersonate-uid', 'impersonate-extra-scopes']) {
    const before = seen.length;
    const r = await get('/api/v1/namespaces/a/pods/p/log', { [header]: 'system:admin' });
    assert.equal(r.status, 403, header);
    const status = JSON.parse(r.body) as { kind: string; reason: string; code: number; message: string };
    assert.deepEqual([status.kind, status.reason, status.code], ['Status', 'Forbidden', 403]);
    assert.match(status.message, new RegExp(`impersonation \\(${header}\\) is not allowed through chaperone`));
    assert.equal(seen.length, before, `${header}: nothing sent upstream`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(events.at(-1)?.decision, { action: 'deny', policy: '', rule: 'impersonation', message: status.message });
  }
});

test('a Secret answer the proxy cannot read (protobuf) is refused, and JSON was asked for', async () => {
  const r = await get('/api/v1/namespaces/a/secrets/s', { accept: 'application/vnd.kubernetes.protobuf, application/json' });
  assert.equal(r.status, 403);
  assert.match(r.body, /cannot be masked/);
  assert.equal(seen.at(-1)?.accept, 'application/json');
});

test('the credential is renewed before it expires and the new one is used upstream', async () => {
  const address = upstream.address();
  const upstreamPort = typeof address === 'object' && address ? address.port : 0;
  let expiring!: () => void;
  const asked = new Promise<void>((resolve) => { expiring = resolve; });
  const p = new KubeProxy({
    listen: { host: '127.0.0.1', port: 0 }, connectionName: 'c',
    target: { server: `https://127.0.0.1:${upstreamPort}`, caBundle: tls.caCert },
    credential: { token: 'old-token', expiresAt: new Date(Date.now() + 1_200).toISOString() },
    policy: compileKubePolicies([policy], 'c'), masks: buildKubeMasks([policy], 'c', new Uint8Array(32)), tls,
    observer: { sessionStarted: () => undefined, request: () => undefined, approval: () => undefined, sessionEnded: () => undefined },
    onCredentialExpiring: () => expiring(),
  });
  const saved = port;
  try {
    port = (await p.start()).port;
    await asked;
    p.update({ credential: { token: 'new-token', expiresAt: new Date(Date.now() + 3_600_000).toISOString() } });
    await get('/api/v1/namespaces/a/pods/p/log', {});
    assert.equal(seen.at(-1)?.authorization, 'Bearer new-token');
  } finally {
    port = saved;
    await p.close();
  }
});
