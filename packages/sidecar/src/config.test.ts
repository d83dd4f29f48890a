// Sidecar configuration: defaults filled in, bad input reported by path, never thrown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSpoolDir, parseSidecarConfig } from './config.js';

test('a minimal config gets every default', () => {
  const r = parseSidecarConfig({ controlPlane: { url: 'https://cp.chaperone.svc:8443' }, token: { type: 'file' } }, { KUBERNETES_SERVICE_HOST: '10.0.0.1' });
  assert.ok(r.ok, r.ok ? '' : r.error);
  assert.deepEqual(r.config, {
    controlPlane: { url: 'https://cp.chaperone.svc:8443', requestTimeoutMs: 10_000 },
    token: { type: 'file', path: '/var/run/secrets/chaperone/token' },
    spoolDir: '/var/run/chaperone/spool',
    admin: { host: '127.0.0.1', port: 9090 },
    listenHost: '127.0.0.1',
    ports: {},
    logLevel: 'info',
    bundleWaitSeconds: 30,
  });
});

test('the local stack: dev token, port overrides, XDG spool', () => {
  const r = parseSidecarConfig({
    controlPlane: { url: 'http://127.0.0.1:8080' }, token: { type: 'dev', namespace: 'agents', serviceAccount: 'bot' },
    connections: ['orders-db'], ports: { 'orders-db': 0 }, admin: { port: 0 },
  }, { XDG_STATE_HOME: '/home/u/.state' });
  assert.ok(r.ok, r.ok ? '' : r.error);
  assert.equal(r.config.spoolDir, '/home/u/.state/chaperone/spool');
  assert.deepEqual(r.config.admin, { host: '127.0.0.1', port: 0 });
  assert.deepEqual(r.config.ports, { 'orders-db': 0 });
  assert.equal(defaultSpoolDir({ HOME: '/home/u' }, 1000), '/home/u/.local/state/chaperone/spool');
  assert.equal(defaultSpoolDir({ HOME: '/root' }, 0), '/var/run/chaperone/spool');
});

test('bad configs are values with the failing paths', () => {
  for (const [input, path] of [
    [{ controlPlane: { url: 'ftp://x' }, token: { type: 'file' } }, 'controlPlane.url'],
    [{ controlPlane: { url: 'http://x' }, token: { type: 'magic' } }, 'token.type'],
    [{ controlPlane: { url: 'http://x' }, token: { type: 'dev', namespace: 'a' } }, 'token.serviceAccount'],
    [{ controlPlane: { url: 'http://x' }, token: { type: 'file' }, ports: { db: 70000 } }, 'ports.db'],
    [{ controlPlane: { url: 'http://x' }, token: { type: 'file' }, connections: [] }, 'connections'],
    [null, '(root)'],
  ] as const) {
    const r = parseSidecarConfig(input, {});
    assert.equal(r.ok, false);
    if (!r.ok) assert.ok(r.error.includes(path), `${r.error} should name ${path}`);
  }
});
