// postgres.js through the proxy: the extended protocol (named and unnamed statements, pipelining,
// a denial mid-pipeline answered in place), COPY streams, LISTEN/NOTIFY and query cancel.
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { startPostgres } from '../harness/postgres.js';
import type { PostgresServer } from '../harness/postgres.js';
import { DENY_DROP_MESSAGE, eventually, startProxy } from './support.js';
import type { ProxyUnderTest } from './support.js';

function client(port: number, o: { prepare?: boolean; max?: number } = {}): postgres.Sql {
  return postgres({ host: '127.0.0.1', port, user: 'agent', database: 'ignored', max: o.max ?? 1, prepare: o.prepare ?? true, onnotice: () => undefined, connect_timeout: 10 });
}

async function rejection(p: Promise<unknown>): Promise<{ code?: string; message: string; detail?: string }> {
  try { await p; } catch (err) { return err as { code?: string; message: string }; }
  assert.fail('expected the query to fail');
}

describe('postgres.js (extended protocol) through the PostgreSQL proxy', () => {
  let pg: PostgresServer;
  let p: ProxyUnderTest;
  let sql: postgres.Sql;
  before(async () => {
    pg = await startPostgres();
    p = await startProxy(pg);
    sql = client(p.port);
    await sql`create table items(id int primary key, name text)`;
    await sql`insert into items select g, 'item-' || g from generate_series(1, 100) g`;
  });
  after(async () => {
    await sql?.end({ timeout: 5 });
    await p?.proxy.close();
    await pg?.destroy();
  });

  it('runs named prepared statements repeatedly with parameters', async () => {
    for (const id of [1, 2, 3, 1, 2]) {
      const rows = await sql`select name from items where id = ${id}`;
      assert.deepEqual(rows.map((r) => r.name), [`item-${id}`]);
    }
  });

  it('runs unnamed statements (prepare: false)', async () => {
    const u = client(p.port, { prepare: false });
    try {
      const rows = await u`select count(*)::int as n from items where id <= ${10}`;
      assert.equal(rows[0]?.n, 10);
    } finally { await u.end({ timeout: 5 }); }
  });

  it('denies a prepared statement with 42501 and the rule, and stays usable', async () => {
    const err = await rejection(sql`drop table items`);
    assert.equal(err.code, '42501');
    assert.equal(err.message, DENY_DROP_MESSAGE);
    assert.equal(err.detail, 'chaperone rule test-policy#0 (policy test-policy)');
    const rows = await sql`select count(*)::int as n from items`;
    assert.equal(rows[0]?.n, 100);
  });

  it('keeps pipelined results in order with a denial in the middle, in its place', async () => {
    const results = await Promise.allSettled([
      sql`select 1::int as v`,
      sql`select 2::int as v`,
      sql`drop table items`,
      sql`select 4::int as v`,
      sql.unsafe('select 5::int as v'),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    assert.deepEqual(results.filter((r) => r.status === 'fulfilled').map((r) => (r.value as unknown as { v: number }[])[0]?.v), [1, 2, 4, 5]);
    const denied = results[2] as PromiseRejectedResult;
    assert.equal((denied.reason as { code: string }).code, '42501');
  });

  it('rolls back a transaction whose statement was denied, as PostgreSQL does after an error', async () => {
    const err = await rejection(sql.begin(async (tx) => {
      await tx`insert into items values (1000, 'in-tx')`;
      await tx`drop table items`;
    }));
    assert.equal(err.code, '42501');
    const rows = await sql`select count(*)::int as n from items where id = 1000`;
    assert.equal(rows[0]?.n, 0);
  });

  it('never executes a denied statement re-used by name after a policy update', async () => {
    const u = client(p.port);
    try {
      await u`select count(*) from items where id > ${0}`; // prepared and allowed
      const strict = () => ({ decision: { action: 'deny' as const, message: 'policy changed', policy: 'p2', rule: 'p2#0' }, kinds: [], tables: [], redactLiterals: false });
      const original = p.proxy.settings().enforce;
      p.proxy.update({ enforce: strict });
      try {
        const err = await rejection(u`select count(*) from items where id > ${0}`);
        assert.equal(err.code, '42501');
        assert.equal(err.message, 'policy changed');
      } finally { p.proxy.update({ enforce: original }); }
    } finally { await u.end({ timeout: 5 }); }
  });

  it('streams COPY in and out', async () => {
    await sql`create table copy_stream(id int, v text)`;
    const lines = Array.from({ length: 20_000 }, (_, i) => `${i}\tv${i}\n`);
    const writable = await sql`copy copy_stream from stdin`.writable();
    await pipeline(Readable.from(lines), writable);
    const count = await sql`select count(*)::int as n from copy_stream`;
    assert.equal(count[0]?.n, 20_000);
    const readable = await sql`copy (select * from copy_stream order by id) to stdout`.readable();
    const chunks: Buffer[] = [];
    await pipeline(readable, new Writable({ write(c: Buffer, _e, cb) { chunks.push(c); cb(); } }));
    assert.equal(Buffer.concat(chunks).toString(), lines.join(''));
  });

  it('relays LISTEN/NOTIFY notifications', async () => {
    const received: string[] = [];
    const listener = client(p.port, { max: 2 });
    try {
      await listener.listen('chan', (payload) => { received.push(payload); });
      await sql.notify('chan', 'hello');
      await sql`select pg_notify('chan', 'world')`;
      await eventually(() => received.length === 2, 'two notifications');
      assert.deepEqual(received, ['hello', 'world']);
    } finally { await listener.end({ timeout: 5 }); }
  });

  it('cancels a running query through the proxy (57014), and the connection goes on', async () => {
    const q = sql`select pg_sleep(30)`;
    setTimeout(() => q.cancel(), 300);
    const err = await rejection(q);
    assert.equal(err.code, '57014');
    const rows = await sql`select 1::int as v`;
    assert.equal(rows[0]?.v, 1);
  });

  it('records extended-protocol statements with their tags and rows', async () => {
    const n = p.observer.statements.length;
    await sql`select id from items where id <= ${3}`;
    await eventually(() => p.observer.statements.length > n, 'a statement event');
    const e = p.observer.statements.at(-1);
    assert.equal(e?.flow, 'extended');
    assert.equal(e?.tag, 'SELECT 3');
    assert.equal(e?.rows, 3);
    assert.match(e?.text ?? '', /select id from items where id <= \$1/);
  });
});
