// Hard cases through the proxy: very large rows and messages, an upstream restart mid-session,
// malformed frontend bytes (table-driven and a fast-check property), with other sessions unharmed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import postgres from 'postgres';
import { encodeQuery } from '@chaperone/sidecar/pg/encode';
import { psql, startPostgres } from '../harness/postgres.js';
import type { PostgresServer } from '../harness/postgres.js';
import { RawClient } from './raw-client.js';
import { startProxy } from './support.js';
import type { ProxyUnderTest } from './support.js';

function client(port: number): postgres.Sql {
  return postgres({ host: '127.0.0.1', port, user: 'agent', database: 'x', max: 1, onnotice: () => undefined, connect_timeout: 10 });
}

describe('PostgreSQL proxy under hard conditions', () => {
  let pg: PostgresServer;
  let p: ProxyUnderTest;
  before(async () => { pg = await startPostgres(); p = await startProxy(pg); });
  after(async () => { await p?.proxy.close(); await pg?.destroy(); });

  it('streams a 10 MB value and an 18 MB row both ways', async () => {
    const sql = client(p.port);
    try {
      const big = 'x'.repeat(10 * 1024 * 1024);
      await sql`create table big(v text)`;
      await sql`insert into big values (${big})`; // a 10 MB Bind message from the agent
      const [row] = await sql`select v, length(v)::int as n from big`;
      assert.equal(row?.n, big.length);
      assert.ok(row?.v === big);
      const [huge] = await sql`select repeat('ab', 9 * 1024 * 1024) as v`;
      assert.equal((huge?.v as string).length, 18 * 1024 * 1024);
      const [after_] = await sql`select 1::int as v`;
      assert.equal(after_?.v, 1);
    } finally { await sql.end({ timeout: 5 }); }
  });

  it('passes the server shutdown error (57P01) on, closes, and serves the next connection', async () => {
    const raw = await RawClient.ready(p.port);
    raw.send(encodeQuery('select 1'));
    await raw.until((m) => m.filter((x) => x.type === 'ReadyForQuery').length === 2, 'first query');
    await pg.restart();
    await raw.waitClosed();
    assert.equal(raw.errors().at(-1)?.C, '57P01');
    const r = await psql(p.endpoint, ['-c', 'select 42']);
    assert.equal(r.stdout, '42\n', r.stderr);
  });

  it('tells the agent 08006 when the upstream backend dies without a word', async () => {
    const raw = await RawClient.ready(p.port, { application_name: 'kill-me' });
    const pid = Number((await pg.sql("select pid from pg_stat_activity where application_name = 'kill-me'")).trim());
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL'); // the postmaster then resets every backend; the proxy must cope
    await raw.waitClosed();
    const codes = raw.errors().map((e) => e.C);
    assert.ok(codes.includes('08006') || codes.includes('57P01'), `got ${codes.join(',')}`);
    let r = await psql(p.endpoint, ['-c', 'select 43']);
    for (let attempt = 0; r.stdout !== '43\n' && attempt < 50; attempt++) { // crash recovery takes a moment
      await new Promise((res) => setTimeout(res, 200));
      r = await psql(p.endpoint, ['-c', 'select 43']);
    }
    assert.equal(r.stdout, '43\n', r.stderr);
  });

  const malformed: [string, Buffer][] = [
    ['a length below 4', Buffer.from([0x51, 0, 0, 0, 2])],
    ['a negative length', Buffer.from([0x51, 0xff, 0xff, 0xff, 0xf0])],
    ['an unknown message type', Buffer.from([0x7a, 0, 0, 0, 4])],
    ['a Query without its terminating NUL', Buffer.from([0x51, 0, 0, 0, 7, 0x61, 0x62, 0x63])],
    ['a Describe of neither statement nor portal', Buffer.from([0x44, 0, 0, 0, 6, 0x58, 0])],
    ['a password message after start-up', Buffer.from([0x70, 0, 0, 0, 8, 0x61, 0x62, 0x63, 0])],
  ];
  for (const [what, bytes] of malformed) {
    it(`answers ${what} with 08P01 and closes only that connection`, async () => {
      const bystander = client(p.port);
      try {
        await bystander`select 1`;
        const raw = await RawClient.ready(p.port);
        raw.send(bytes);
        await raw.waitClosed();
        assert.equal(raw.errors().at(-1)?.C, '08P01');
        const [row] = await bystander`select 2::int as v`;
        assert.equal(row?.v, 2);
      } finally { await bystander.end({ timeout: 5 }); }
    });
  }

  it('refuses an oversized startup packet (PostgreSQL limit 10 000 bytes)', async () => {
    const raw = await RawClient.open(p.port);
    const packet = Buffer.alloc(8); packet.writeInt32BE(20_000, 0); packet.writeInt32BE(196608, 4);
    raw.send(packet);
    await raw.waitClosed();
    assert.equal(raw.errors().at(-1)?.C, '08P01');
  });

  it('survives random and garbled frames: each connection errors or closes, the proxy keeps serving', async () => {
    const validFrames = [encodeQuery('select 1'), Buffer.from('P\0\0\0\x10\0select 1\0\0\0', 'latin1'), Buffer.from('S\0\0\0\x04', 'latin1')];
    const garbled = fc.tuple(fc.constantFrom(...validFrames), fc.nat(), fc.integer({ min: 0, max: 255 }))
      .map(([frame, at, byte]) => { const b = Buffer.from(frame); b[at % b.length] = byte; return b; });
    const frames = fc.array(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 64 }).map((a) => Buffer.from(a)), garbled), { minLength: 1, maxLength: 6 });
    await fc.assert(fc.asyncProperty(fc.boolean(), frames, async (afterStartup, chunks) => {
      const raw = afterStartup ? await RawClient.ready(p.port) : await RawClient.open(p.port);
      for (const c of chunks) raw.send(c);
      // Whatever the proxy made of it, it answers or waits for more; ending our side must close it.
      await new Promise((r) => setTimeout(r, 20));
      raw.socket.end();
      await raw.waitClosed();
      const r = await psql(p.endpoint, ['-c', 'select 7']);
      return r.stdout === '7\n';
    }), { numRuns: 40 });
  });
});
