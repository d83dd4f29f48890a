// Masking through the proxy in the extended protocol: postgres.js (named and unnamed statements,
// pipelining, cursors), binary result format from a byte-level client, and a large result
// streamed through with the proxy's memory bounded.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import postgres from 'postgres';
import { Framer } from '@chaperone/sidecar/pg/codec';
import { encodeParse, SYNC } from '@chaperone/sidecar/pg/encode';
import { psql, startPostgres } from '../harness/postgres.js';
import type { PostgresServer } from '../harness/postgres.js';
import { CUSTOMERS_SQL, MASK_RULES, startMaskingProxy } from './mask-support.js';
import type { CountingCounters } from './mask-support.js';
import { RawClient } from './raw-client.js';
import { startProxy } from './support.js';
import type { ProxyUnderTest } from './support.js';
import { LineageAnalyzer } from '@chaperone/core/sql/lineage-cache';
import { coreLineage } from '@chaperone/sidecar/pg/mask-lineage';

const RULES = [...MASK_RULES, { action: 'mask' as const, name: 'totals', match: { columns: ['orders.total'] }, strategy: 'redact' as const }];

function client(port: number, o: { prepare?: boolean } = {}): postgres.Sql {
  return postgres({ host: '127.0.0.1', port, user: 'agent', database: 'x', max: 1, prepare: o.prepare ?? true, onnotice: () => undefined, connect_timeout: 10 });
}

/** Bind of the unnamed statement to the unnamed portal, no parameters, every result column in `format`. */
function bindAll(format: 0 | 1): Buffer {
  const body = Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 0, format]);
  const out = Buffer.alloc(5 + body.length);
  out[0] = 0x42; out.writeInt32BE(4 + body.length, 1); body.copy(out, 5);
  return out;
}
/** Bind of statement `name` to the unnamed portal, text results. */
function bindNamed(name: string): Buffer {
  const body = Buffer.concat([Buffer.from([0]), Buffer.from(name + '\0'), Buffer.from([0, 0, 0, 0, 0, 0])]);
  const out = Buffer.alloc(5 + body.length);
  out[0] = 0x42; out.writeInt32BE(4 + body.length, 1); body.copy(out, 5);
  return out;
}
function describeStatement(name: string): Buffer {
  const out = Buffer.alloc(7 + Buffer.byteLength(name));
  out[0] = 0x44; out.writeInt32BE(out.length - 1, 1); out[5] = 0x53; out.write(name, 6);
  return out;
}
const DESCRIBE_PORTAL = Buffer.from([0x44, 0, 0, 0, 6, 0x50, 0]);
const EXECUTE = Buffer.from([0x45, 0, 0, 0, 9, 0, 0, 0, 0, 0]);

/** Runs one statement with binary results on a raw connection; the DataRows' values as bytes (null for NULL). */
function binaryRows(port: number, sql: string): Promise<{ rows: (Buffer | null)[][]; error?: string }> {
  return rawRows(port, [[encodeParse('', sql), bindAll(1), DESCRIBE_PORTAL, EXECUTE, SYNC]]);
}

/** Sends each batch (waiting for its ReadyForQuery) on one raw connection; DataRows' values, the last error. */
async function rawRows(port: number, batches: Buffer[][]): Promise<{ rows: (Buffer | null)[][]; error?: string }> {
  const c = await RawClient.ready(port);
  const frames: Buffer[] = [];
  const framer = new Framer({ startup: false });
  c.socket.on('data', (chunk: Buffer) => framer.push(chunk, (_t, f) => { frames.push(Buffer.from(f)); }));
  for (const batch of batches) {
    c.messages.length = 0;
    c.send(Buffer.concat(batch));
    await c.until((m) => m.some((x) => x.type === 'ReadyForQuery'), 'ReadyForQuery');
  }
  c.socket.destroy();
  const rows: (Buffer | null)[][] = [];
  let error: string | undefined;
  for (const f of frames) {
    if (f[0] === 0x45) error = f.toString('utf8', 5);
    if (f[0] !== 0x44) continue;
    const n = f.readInt16BE(5);
    let pos = 7;
    const row: (Buffer | null)[] = [];
    for (let i = 0; i < n; i++) {
      const len = f.readInt32BE(pos); pos += 4;
      row.push(len < 0 ? null : f.subarray(pos, pos + len)); if (len > 0) pos += len;
    }
    rows.push(row);
  }
  return error === undefined ? { rows } : { rows, error };
}

describe('masking through the proxy (extended protocol, binary format, large results)', () => {
  let pg: PostgresServer;
  let p: ProxyUnderTest & { counters: CountingCounters };
  let sql: postgres.Sql;
  before(async () => {
    pg = await startPostgres();
    await pg.sql(CUSTOMERS_SQL, 'app');
    p = await startMaskingProxy(pg, RULES);
    sql = client(p.port);
  });
  after(async () => {
    await sql?.end({ timeout: 5 });
    await p?.proxy.close();
    await pg?.destroy();
  });

  it('masks named prepared statements run again and again (described once)', async () => {
    for (const id of [1, 2, 1, 2]) {
      const rows = await sql`select id, email, card_number, phone from customers where id = ${id}`;
      assert.equal(rows[0]?.email, '[MASKED]');
      assert.match(String(rows[0]?.card_number), /^\*+\d{4}$/);
      assert.equal(rows[0]?.phone, null);
    }
  });

  it('masks unnamed statements and the escape attempts with parameters', async () => {
    const u = client(p.port, { prepare: false });
    try {
      const rows = await u`select lower(email) as l, email || ${'x'} as c, (select email from customers where id = ${2}) as s from customers where id = ${1}`;
      assert.deepEqual(rows.map((r) => ({ ...r })), [{ l: '[MASKED]', c: '[MASKED]', s: '[MASKED]' }]);
      const agg = await u`select string_agg(email, ${','}) as all from customers`;
      assert.equal(agg[0]?.all, '[MASKED]');
    } finally { await u.end({ timeout: 5 }); }
  });

  it('masks pipelined queries each with its own plan', async () => {
    const [a, b, c] = await Promise.all([
      sql`select email from customers where id = 1`,
      sql`select name from customers where id = 1`,
      sql`select total from orders where id = 1`,
    ]);
    assert.equal(a[0]?.email, '[MASKED]');
    assert.equal(b[0]?.name, 'Ann');
    assert.equal(c[0]?.total, '[MASKED]');
  });

  it('masks rows fetched through a cursor (Execute with a row limit, PortalSuspended)', async () => {
    const seen: string[] = [];
    await sql`select email, notes from customers order by id`.cursor(1, (rows) => { for (const r of rows) seen.push(`${r.email}|${r.notes}`); });
    assert.deepEqual(seen, ['[MASKED]|call me at [MASKED]', '[MASKED]|card [MASKED] on file', 'null|nothing to see']);
  });

  it('refuses an untraceable result with 42501 and the connection stays usable', async () => {
    await assert.rejects(sql`select first_email() as e`, (err: { code?: string; message?: string }) => err.code === '42501' && /result withheld/.test(err.message ?? ''));
    const rows = await sql`select name from customers where id = 2`;
    assert.equal(rows[0]?.name, 'Bob');
  });

  it('masks binary-format results: text types rewritten, other types NULL, lengths right', async () => {
    const r = await binaryRows(p.port, 'select id, email, card_number, balance, profile, notes, ssn from customers where id = 1');
    assert.equal(r.error, undefined);
    const row = r.rows[0];
    assert.ok(row);
    assert.equal(row[0]?.readInt32BE(0), 1);
    assert.equal(row[1]?.toString(), '[MASKED]');
    assert.equal(row[2]?.toString(), '***************1111');
    assert.ok(row[3] && row[3].length > 0); // numeric, not masked: the server's bytes
    assert.deepEqual(row[4], Buffer.concat([Buffer.from([1]), Buffer.from('{"k": "v"}')]));
    assert.equal(row[5]?.toString(), 'call me at [MASKED]');
    assert.match(row[6]?.toString() ?? '', /^h:/);
    const totals = await binaryRows(p.port, 'select id, total from orders order by id');
    assert.deepEqual(totals.rows.map((x) => x[1]), [null, null]);
  });

  it('keeps what a statement name runs when a second Parse of that name fails', async () => {
    const r = await rawRows(p.port, [
      [encodeParse('s1', 'select lower(email) as x from customers where id = 1'), describeStatement('s1'), SYNC],
      [encodeParse('s1', "select 'harmless'::text as x"), SYNC],
      [bindNamed('s1'), EXECUTE, SYNC],
    ]);
    assert.deepEqual(r.rows.map((row) => row[0]?.toString()), ['[MASKED]']);
  });

  it('a policy update that turns masking on ends open sessions; new ones are masked', async () => {
    const plain = await startProxy(pg);
    const c = client(plain.port);
    try {
      const before = await c`select email from customers where id = 1`;
      assert.equal(before[0]?.email, 'ann@example.com');
      const masked = await startMaskingProxy(pg, RULES);
      const settings = masked.proxy.settings();
      await masked.proxy.close();
      plain.proxy.update({ masking: { policy: settings.masking?.policy ?? assert.fail('masking'), lineage: coreLineage(new LineageAnalyzer()) } });
      await assert.rejects(c`select email from customers where id = 1`);
      const d = client(plain.port);
      try {
        const after = await d`select email from customers where id = 1`;
        assert.equal(after[0]?.email, '[MASKED]');
      } finally { await d.end({ timeout: 5 }); }
    } finally {
      await c.end({ timeout: 1 }).catch(() => undefined);
      await plain.proxy.close();
    }
  });

  it('streams a 200k-row result through with bounded proxy memory, every row masked', async () => {
    await pg.sql(`create table people(id int, email text, pad text);
      insert into people select g, 'user' || g || '@example.com', repeat('x', 200) from generate_series(1, 200000) g;
      grant all on people to public`, 'app');
    // Live memory, after a collection: what the proxy holds, not the garbage it made.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const live = (): number => { gc(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
    const base = live();
    let peak = 0;
    const timer = setInterval(() => { peak = Math.max(peak, live() - base); }, 20);
    // psql writes to a file: the test process must not hold the result itself.
    const dir = mkdtempSync(join(tmpdir(), 'chaperone-mask-'));
    const out = join(dir, 'rows.txt');
    const r = await psql(p.endpoint, ['-o', out, '-c', "select count(*) filter (where email = '[MASKED]') from (select email from people) s", '-c', 'select id, email, pad from people']);
    clearInterval(timer);
    assert.equal(r.stderr, '');
    const lines = readFileSync(out, 'utf8').split('\n');
    rmSync(dir, { recursive: true, force: true });
    assert.equal(lines[0], '0'); // masking applies to results, not inside the server's own computation
    const rows = lines.slice(1).filter((l) => l !== '');
    assert.equal(rows.length, 200_000);
    assert.ok(rows.every((l) => l.split('|')[1] === '[MASKED]'));
    // About 48 MB of rows passed: the proxy held a few chunks at a time, not the result.
    assert.ok(peak < 24 * 1024 * 1024, `proxy memory grew by ${Math.round(peak / 1024 / 1024)} MB`);
  });
});
