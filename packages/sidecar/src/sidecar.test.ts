// runSidecar end to end against the test control-plane server (testing/records-server.ts; the
// real control plane is exercised under test/): readiness waits for the exchange, listeners
// follow bundle updates, sessions are recorded, the token file is re-read on re-exchange.
// No PostgreSQL here: an agent connection whose upstream is unreachable still starts and ends
// a session, which is what the runtime wires up; the proxy's own tests cover real servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { ConnectionDoc, PolicyBundle } from '@chaperone/core/policy/types';
import { RecordsServer } from './testing/records-server.js';
import { runSidecar } from './sidecar.js';

function connection(name: string): ConnectionDoc {
  return {
    apiVersion: 'chaperone.dev/v1alpha1', kind: 'Connection', metadata: { name },
    // Port 1 on loopback: nothing listens there, so the upstream connection is refused.
    spec: { type: 'postgres', target: { host: '127.0.0.1', port: 1, database: 'app', sslmode: 'disable' }, credentials: { secretRef: { name } }, listen: { port: 5432 } },
  };
}

function bundle(version: string, names: string[]): PolicyBundle {
  return {
    version, connections: names.map(connection),
    policies: [{ apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'p' }, spec: { subjects: [{ serviceAccount: { namespace: 'agents', name: 'bot' } }], connections: names, rules: [{ action: 'deny', match: { statements: ['drop'] } }], default: 'allow' } }],
  };
}

function startupMessage(params: Record<string, string>): Buffer {
  const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), ...Object.entries(params).map(([k, v]) => Buffer.from(`${k}\0${v}\0`)), Buffer.from([0])]);
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length + 4);
  return Buffer.concat([len, body]);
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!(await cond())) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('the sidecar becomes ready after the exchange, records sessions and follows bundle updates', async (t) => {
  const server = await RecordsServer.start();
  const dir = mkdtempSync(join(tmpdir(), 'sidecar-'));
  t.after(async () => { await server.stop().catch(() => undefined); rmSync(dir, { recursive: true, force: true }); });
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, 'sa-token-1');
  const spoolDir = join(dir, 'spool');

  const sidecar = await runSidecar({
    controlPlane: { url: server.url }, token: { type: 'file', path: tokenFile }, spoolDir,
    admin: { port: 0 }, ports: { 'orders-db': 0, 'billing-db': 0 }, bundleWaitSeconds: 1,
  }, { logger: pino({ level: 'silent' }) });
  let closed = false;
  t.after(async () => { if (!closed) await sidecar.close(); });
  const admin = `http://127.0.0.1:${sidecar.adminPort}`;

  // The control plane answers 503 to the exchange: not ready, and the sidecar keeps trying.
  await waitFor('exchange attempts', () => server.exchangedTokens.length >= 2);
  const notReady = await fetch(`${admin}/readyz`);
  assert.equal(notReady.status, 503);
  assert.deepEqual(await notReady.json(), { status: 'not ready', waitingFor: ['exchange', 'listeners'] });

  server.setBundle(bundle('v1', ['orders-db']));
  server.exchangeResponse = {
    grant: 'grant-1', expiresAt: new Date(Date.now() + 3_600_000).toISOString(), identity: { namespace: 'agents', serviceAccount: 'bot' },
    credentials: { 'orders-db': { type: 'password', username: 'u', password: 'p' } }, maskKey: Buffer.alloc(32, 7).toString('base64'),
  };
  await sidecar.ready;
  assert.equal((await fetch(`${admin}/readyz`)).status, 200);
  const ordersPort = sidecar.ports['orders-db'];
  assert.ok(typeof ordersPort === 'number' && ordersPort > 0);
  assert.match(await (await fetch(`${admin}/metrics`)).text(), /chaperone_sidecar_bundle_version_info\{version="v1"\} 1/);

  // An agent connects; the upstream is unreachable, so the session starts and ends at once.
  const socket = connect(ordersPort, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  socket.write(startupMessage({ user: 'agent', database: 'app', application_name: 'test' }));
  await waitFor('the session recorded', () => [...server.sessions.values()].some((r) => r.some((x) => x?.event.type === 'session.end')));
  socket.destroy();
  const [records] = [...server.sessions.values()];
  assert.ok(records);
  const start = records[0]?.event;
  assert.equal(start?.type, 'session.start');
  if (start?.type === 'session.start') {
    assert.deepEqual(start.identity, { namespace: 'agents', serviceAccount: 'bot' });
    assert.equal(start.connection, 'orders-db');
    assert.equal(start.client.user, 'agent');
  }
  assert.ok(server.seenGrants.every((g) => g === 'grant-1'));
  assert.match(await (await fetch(`${admin}/metrics`)).text(), /chaperone_sidecar_connections_total\{protocol="postgres",connection="orders-db"\} 1/);

  // A new connection in the bundle: its credential comes with a re-exchange, which re-reads the token.
  writeFileSync(tokenFile, 'sa-token-2');
  server.exchangeResponse.credentials['billing-db'] = { type: 'password', username: 'b', password: 'q' };
  server.setBundle(bundle('v2', ['orders-db', 'billing-db']));
  await waitFor('billing-db listener', () => typeof sidecar.ports['billing-db'] === 'number');
  assert.equal(server.exchangedTokens.at(-1), 'sa-token-2');

  // A connection dropped from the bundle loses its listener.
  server.setBundle(bundle('v3', ['billing-db']));
  await waitFor('orders-db closed', () => sidecar.ports['orders-db'] === undefined);
  assert.match(await (await fetch(`${admin}/metrics`)).text(), /chaperone_sidecar_bundle_version_info\{version="v3"\} 1/);

  closed = true;
  await sidecar.close();
  assert.deepEqual(readdirSync(spoolDir).filter((n) => n.startsWith('seg-')), [], 'every record was delivered before close');
});

test('an invalid configuration is refused with SIDECAR_ERR_CONFIG', async () => {
  await assert.rejects(runSidecar({ controlPlane: { url: 'not a url' }, token: { type: 'file' } }), (e: Error & { code?: string }) => e.code === 'SIDECAR_ERR_CONFIG');
});
