// The control-plane client against real HTTP(S) servers started here: status codes map to the
// documented error codes, the long-poll's 304, bearer grants, and TLS with a CA file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isChaperoneError } from '@chaperone/core/errors';
import { ControlPlaneClient, CP_ERR_REJECTED, CP_ERR_UNAUTHORIZED, CP_ERR_UNREACHABLE } from './control-plane-client.js';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function handler(h: Handler) {
  return (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => h(req, body, res));
  };
}

function reply(res: ServerResponse, status: number, body?: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

test('exchange, bundle long-poll and records speak /v1 with the right methods, bodies and grants', async (t) => {
  const seen: string[] = [];
  const server = createServer(handler((req, body, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'} ${body}`);
    if (req.url === '/v1/exchange') return reply(res, 200, { grant: 'g1', expiresAt: '2030-01-01T00:00:00Z', identity: { namespace: 'a', serviceAccount: 'b' }, bundle: { version: 'v1', connections: [], policies: [] }, credentials: {} });
    if (req.url?.startsWith('/v1/bundle?version=v1')) return reply(res, 304);
    if (req.url?.startsWith('/v1/bundle?version=v0')) return reply(res, 200, { version: 'v1', connections: [], policies: [] });
    if (req.url === '/v1/records') return reply(res, 200, { accepted: 0, duplicates: 0, broken: [] });
    if (req.url === '/v1/dev/tokens') return reply(res, 200, { token: 'dev', expiresAt: '2030-01-01T00:00:00Z' });
    reply(res, 404, { error: { code: 'X_ERR_NOT_FOUND', message: 'no' } });
  }));
  const host = await listen(server);
  t.after(() => server.close());
  const client = new ControlPlaneClient({ url: `http://${host}/` });
  t.after(() => client.close());

  const ex = await client.exchange('sa-token', ['orders-db']);
  assert.equal(ex.grant, 'g1');
  assert.deepEqual(await client.waitBundle('v1', 'g1', 1), { changed: false });
  const polled = await client.waitBundle('v0', 'g1', 1);
  assert.equal(polled.changed && polled.bundle.version, 'v1');
  assert.deepEqual(await client.sendRecords('g1', { records: [] }), { accepted: 0, duplicates: 0, broken: [] });
  // The recorder sends its batches as UTF-8 bytes.
  assert.deepEqual(await client.sendRecords('g1', Buffer.from('{"records":[{"x":"\u00e9"}]}')), { accepted: 0, duplicates: 0, broken: [] });
  assert.equal((await client.devToken({ namespace: 'a', serviceAccount: 'b' })).token, 'dev');
  assert.deepEqual(seen, [
    'POST /v1/exchange - {"token":"sa-token","connections":["orders-db"]}',
    'GET /v1/bundle?version=v1&wait=1 Bearer g1 ',
    'GET /v1/bundle?version=v0&wait=1 Bearer g1 ',
    'POST /v1/records Bearer g1 {"records":[]}',
    'POST /v1/records Bearer g1 {"records":[{"x":"\u00e9"}]}',
    'POST /v1/dev/tokens - {"namespace":"a","serviceAccount":"b"}',
  ]);
});

test('401, other 4xx, 5xx, refused connections and timeouts become distinct error codes', async (t) => {
  const server = createServer(handler((req, _body, res) => {
    if (req.url === '/v1/exchange') return reply(res, 401, { error: { code: 'AUTH_ERR_TOKEN_EXPIRED', message: 'expired' } });
    if (req.url === '/v1/records') return reply(res, 400, { error: { code: 'RECORDS_ERR_INVALID', message: 'bad' } });
    if (req.url === '/v1/dev/tokens') return reply(res, 503, { error: { code: 'STORE_ERR_DOWN', message: 'down' } });
    // /v1/bundle never answers: the client's own timeout must end it.
  }));
  const host = await listen(server);
  t.after(() => { server.closeAllConnections(); server.close(); });
  const client = new ControlPlaneClient({ url: `http://${host}`, requestTimeoutMs: 200 });
  t.after(() => client.close());

  await assert.rejects(client.exchange('t'), (e) => isChaperoneError(e, CP_ERR_UNAUTHORIZED) && e.details?.serverCode === 'AUTH_ERR_TOKEN_EXPIRED');
  await assert.rejects(client.sendRecords('g', { records: [] }), (e) => isChaperoneError(e, CP_ERR_REJECTED) && e.details?.status === 400 && e.details.serverCode === 'RECORDS_ERR_INVALID');
  await assert.rejects(client.devToken({ namespace: 'a', serviceAccount: 'b' }), (e) => isChaperoneError(e, CP_ERR_UNREACHABLE) && e.details?.status === 503);
  await assert.rejects(client.waitBundle('v', 'g', 0), (e) => isChaperoneError(e, CP_ERR_UNREACHABLE) && /timed out/.test(e.message));

  const closed = createServer();
  const closedHost = await listen(closed);
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const refused = new ControlPlaneClient({ url: `http://${closedHost}` });
  t.after(() => refused.close());
  await assert.rejects(refused.exchange('t'), (e) => isChaperoneError(e, CP_ERR_UNREACHABLE) && /ECONNREFUSED/.test(e.message));
});

test('TLS: trusts the server with the CA file, refuses it without', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cp-client-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' });
  } catch (err) {
    assert.fail(`openssl is needed to make a test certificate (apt-get install openssl): ${String(err)}`);
  }
  const server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, handler((_req, _body, res) => reply(res, 200, { token: 'tls', expiresAt: 'x' })));
  const host = await listen(server);
  t.after(() => { server.closeAllConnections(); server.close(); });

  const trusting = new ControlPlaneClient({ url: `https://${host}`, caFile: cert });
  t.after(() => trusting.close());
  assert.equal((await trusting.devToken({ namespace: 'a', serviceAccount: 'b' })).token, 'tls');
  const untrusting = new ControlPlaneClient({ url: `https://${host}` });
  t.after(() => untrusting.close());
  await assert.rejects(untrusting.devToken({ namespace: 'a', serviceAccount: 'b' }), (e) => isChaperoneError(e, CP_ERR_UNREACHABLE));
});
