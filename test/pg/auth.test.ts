// Upstream authentication through the proxy: SCRAM-SHA-256, MD5 and cleartext users, a TLS-only
// user (sslmode require and verify-full), and failures that reach the agent without the password.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { USERS, binary, psql, run, startPostgres } from '../harness/postgres.js';
import type { PostgresServer } from '../harness/postgres.js';
import postgres from 'postgres';
import { startProxy } from './support.js';
import type { ProxyUnderTest } from './support.js';

describe('upstream authentication through the PostgreSQL proxy', () => {
  let pg: PostgresServer;
  const proxies: ProxyUnderTest[] = [];
  before(async () => { pg = await startPostgres(); });
  after(async () => {
    for (const p of proxies) await p.proxy.close();
    await pg?.destroy();
  });

  /** psql prints no SQLSTATE for connection failures: ask postgres.js, which keeps every field. */
  async function connectError(port: number): Promise<{ code?: string; message: string }> {
    const sql = postgres({ host: '127.0.0.1', port, user: 'agent', database: 'x', max: 1, connect_timeout: 10 });
    try { await sql`select 1`; } catch (err) { return err as { code?: string; message: string }; } finally { await sql.end({ timeout: 1 }); }
    assert.fail('expected the connection to fail');
  }

  async function via(o: Parameters<typeof startProxy>[1]): Promise<ProxyUnderTest> {
    const p = await startProxy(pg, o);
    proxies.push(p);
    return p;
  }

  for (const [method, user] of [['scram-sha-256', USERS.scram], ['md5', USERS.md5], ['cleartext password', USERS.cleartext]] as const) {
    it(`logs in with ${method} and answers the agent itself`, async () => {
      const p = await via({ credential: user });
      const r = await psql(p.endpoint, ['-c', 'select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()']);
      assert.equal(r.stderr, '');
      assert.equal(r.stdout, `${user.username}|f\n`);
    });
  }

  it('uses TLS upstream with sslmode=verify-full and the server CA', async () => {
    const p = await via({ credential: USERS.tls, target: { host: pg.host, port: pg.port, database: 'app', sslmode: 'verify-full', ca: pg.ca } });
    const r = await psql(p.endpoint, ['-c', 'select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()']);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'tls_user|t\n');
  });

  it('uses TLS upstream with sslmode=require (no verification) and prefer', async () => {
    for (const sslmode of ['require', 'prefer'] as const) {
      const p = await via({ credential: USERS.tls, target: { host: pg.host, port: pg.port, database: 'app', sslmode } });
      const r = await psql(p.endpoint, ['-c', 'select ssl from pg_stat_ssl where pid = pg_backend_pid()']);
      assert.equal(r.stdout, 't\n', `${sslmode}: ${r.stderr}`);
    }
  });

  it('refuses a server certificate not signed by the configured CA under verify-full', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chaperone-ca-'));
    const made = await run(binary('openssl'), ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')]);
    assert.equal(made.code, 0, made.stderr);
    const other = readFileSync(join(dir, 'c.pem'), 'utf8');
    rmSync(dir, { recursive: true, force: true });
    const p = await via({ credential: USERS.tls, target: { host: pg.host, port: pg.port, database: 'app', sslmode: 'verify-full', ca: other } });
    const r = await psql(p.endpoint, ['-c', 'select 1']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /SSL connection to upstream failed: self[- ]signed certificate/);
  });

  it('passes the server refusal on to the agent when the TLS-only user comes without TLS', async () => {
    const p = await via({ credential: USERS.tls, target: { host: pg.host, port: pg.port, database: 'app', sslmode: 'disable' } });
    const err = await connectError(p.port);
    assert.equal(err.code, '28000');
    assert.match(err.message, /no encryption/);
  });

  it('passes a wrong-password failure on with its SQLSTATE but never the credential', async () => {
    const secret = 'wrong-secret-3141';
    for (const user of [USERS.scram, USERS.md5, USERS.cleartext]) {
      const p = await via({ credential: { username: user.username, password: secret } });
      const err = await connectError(p.port);
      assert.equal(err.code, '28P01', user.username);
      assert.ok(!JSON.stringify(err).includes(secret), 'the credential is never echoed');
    }
  });

  it('reports an unreachable upstream as 08001 and keeps serving once it is fixed', async () => {
    const p = await via({ target: { host: '127.0.0.1', port: 1, database: 'app', sslmode: 'disable' } });
    const err = await connectError(p.port);
    assert.equal(err.code, '08001');
    p.proxy.update({ target: { host: pg.host, port: pg.port, database: 'app', sslmode: 'disable' } });
    const r = await psql(p.endpoint, ['-c', 'select 1']);
    assert.equal(r.stdout, '1\n');
  });
});
