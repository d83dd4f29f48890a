// Masking through the proxy with psql (simple protocol, text format): each strategy on real rows,
// detectors in free text, the escape attempts of issue 4 (aliases, expressions, sub-queries, a
// view, whole rows, aggregates, COPY, RETURNING), refusals, NULLs and per-rule counts in records.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { psql, startPostgres } from '../harness/postgres.js';
import type { PostgresServer } from '../harness/postgres.js';
import { CUSTOMERS_SQL, startMaskingProxy } from './mask-support.js';
import type { CountingCounters } from './mask-support.js';
import { eventually } from './support.js';
import type { ProxyUnderTest } from './support.js';

const HASH = /^h:[A-Za-z0-9_-]{16}$/;

describe('masking through the proxy (psql)', () => {
  let pg: PostgresServer;
  let p: ProxyUnderTest & { counters: CountingCounters };
  const q = async (sql: string): Promise<string[]> => {
    const r = await psql(p.endpoint, ['-F', '|', '-P', 'null=∅', '-c', sql]);
    assert.equal(r.stderr, '', `stderr for ${sql}`);
    return r.stdout.split('\n').filter((l) => l !== '');
  };
  const refused = async (sql: string): Promise<string> => {
    const r = await psql(p.endpoint, ['-c', sql]);
    assert.notEqual(r.code, 0, `expected a refusal for ${sql}`);
    return r.stderr;
  };

  before(async () => {
    pg = await startPostgres();
    await pg.sql(CUSTOMERS_SQL, 'app');
    p = await startMaskingProxy(pg);
  });
  after(async () => {
    await p?.proxy.close();
    await pg?.destroy();
  });

  it('masks columns by rule: redact, partial, hash, null; NULL stays NULL', async () => {
    const rows = await q('select id, name, email, card_number, ssn, phone from customers order by id');
    assert.equal(rows.length, 3);
    const [a, b, c] = rows.map((r) => r.split('|'));
    assert.deepEqual(a?.slice(0, 4), ['1', 'Ann', '[MASKED]', '***************1111']);
    assert.match(a?.[4] ?? '', HASH);
    assert.equal(a?.[5], '∅');
    assert.deepEqual(b?.slice(0, 4), ['2', 'Bob', '[MASKED]', '***************0004']);
    assert.notEqual(a?.[4], b?.[4]);
    assert.deepEqual(c, ['3', 'Cy', '∅', '∅', '∅', '∅']);
  });

  it('hashes deterministically, so joins and grouping still work', async () => {
    const one = await q("select ssn from customers where id = 1");
    const two = await q("select ssn from customers where id = 1");
    assert.deepEqual(one, two);
    const grouped = await q('select ssn, count(*) from customers where ssn is not null group by ssn order by 1');
    assert.equal(grouped.length, 2);
  });

  it('masks detected spans in free text and leaves the rest', async () => {
    const rows = await q('select notes from customers order by id');
    assert.deepEqual(rows.slice(1), ['card [MASKED] on file', 'nothing to see']);
    assert.equal(rows[0], 'call me at [MASKED]');
  });

  it('is not escaped by renaming or deriving the column', async () => {
    for (const sql of [
      'select email as e from customers where id = 1',
      'select lower(email) from customers where id = 1',
      "select email || '' from customers where id = 1",
      'select e from (select email as e from customers) s where e is not null order by 1 limit 1',
      'select (select email from customers where id = 1)',
      'with c as (select email from customers) select email from c where email is not null limit 1',
      'select contact from customer_contacts where id = 1',
      "select string_agg(email, ',') from customers",
      'select coalesce(email, name) from customers where id = 1',
    ]) {
      const rows = await q(sql);
      assert.deepEqual(rows, ['[MASKED]'], sql);
    }
    // A whole row carries every masked column: the strongest of their rules (here `null`) applies.
    assert.deepEqual(await q('select row_to_json(c) from customers c where id = 1'), ['∅']);
    assert.deepEqual(await q('select to_jsonb(c.*) from customers c where id = 1'), ['∅']);
  });

  it('masks plain columns fetched from a cursor, and computed ones through the declared query; refuses what it cannot trace', async () => {
    const r = await psql(p.endpoint, ['-v', 'ON_ERROR_STOP=0', '-F', '|'], {
      input: 'begin;\ndeclare c cursor for select id, email from customers order by id;\nfetch 1 from c;\ncommit;\n'
        + 'begin;\ndeclare d cursor for select lower(email) from customers;\nfetch 1 from d;\ncommit;\n'
        + 'begin;\ndeclare f cursor for select first_email();\nfetch 1 from f;\ncommit;\n',
    });
    assert.equal(r.stdout, '1|[MASKED]\n[MASKED]\n');
    assert.match(r.stderr, /result withheld/);
    assert.ok(!r.stdout.includes('@example.com') && !r.stderr.includes('@example.com'));
  });

  it('masks values quoted by server errors and RAISE notices', async () => {
    const cast = await psql(p.endpoint, ['-c', 'select email::int from customers where id = 1']);
    assert.match(cast.stderr, /invalid input syntax for type integer: "\[MASKED\]"/);
    const raise = await psql(p.endpoint, ['-c', "do $$ begin raise notice '%', (select email from customers where id = 1); end $$"]);
    assert.match(raise.stderr, /NOTICE: {2}\[MASKED\]/);
    const dup = await psql(p.endpoint, ['-c', "insert into customers(id, email) values (1, 'x')"]);
    assert.match(dup.stderr, /Key \(id\)=\(\[MASKED\]\) already exists/);
    for (const r of [cast, raise, dup]) assert.ok(!r.stderr.includes('ann@example.com'), r.stderr);
  });

  it('masks RETURNING rows', async () => {
    const rows = await q("update customers set name = name where id = 1 returning id, email, lower(email)");
    assert.deepEqual(rows, ['1|[MASKED]|[MASKED]']);
  });

  it('masks COPY … TO STDOUT in text and CSV; refuses binary COPY of masked columns', async () => {
    const text = await q('copy (select id, email, card_number from customers order by id) to stdout');
    assert.deepEqual(text, ['1\t[MASKED]\t***************1111', '2\t[MASKED]\t***************0004', '3\t\\N\t\\N']);
    const whole = await q('copy customers to stdout');
    assert.ok(whole.every((l) => !l.includes('@example.com')), whole.join('\n'));
    const csv = await q('copy (select id, email from customers where id < 3 order by id) to stdout with (format csv, header)');
    assert.deepEqual(csv, ['id,email', '1,[MASKED]', '2,[MASKED]']);
    const err = await refused('copy customers to stdout with (format binary)');
    assert.match(err, /result withheld/);
  });

  it('passes rows of unmasked tables and columns untouched', async () => {
    assert.deepEqual(await q('select id, customer_id, total from orders order by id'), ['1|1|99', '2|2|5']);
    assert.deepEqual(await q('select name, balance from customers order by id'), ['Ann|10.5', 'Bob|20', 'Cy|0']);
  });

  it('refuses a result it cannot trace (fail closed) and the session stays usable', async () => {
    const r = await psql(p.endpoint, ['-v', 'ON_ERROR_STOP=0', '-c', 'select first_email()', '-c', 'select name from customers where id = 2']);
    assert.match(r.stderr, /result withheld/);
    assert.equal(r.stdout, 'Bob\n');
  });

  it('counts masked values per rule in records and metrics', async () => {
    const before = p.observer.statements.length;
    await q('select email, card_number from customers');
    await eventually(() => p.observer.statements.length > before, 'the statement record');
    const event = p.observer.statements.at(-1);
    assert.deepEqual(event?.masked, { emails: 2, cards: 2 });
    assert.ok((p.counters.counts.get('emails|') ?? 0) >= 2);
    assert.ok((p.counters.counts.get('free-text|email') ?? 0) >= 1);
  });

  it('sees a schema change made outside the proxy once the catalog TTL has passed', async () => {
    const short = await startMaskingProxy(pg, undefined, 100);
    try {
      await pg.sql("create table accounts(id int, ssn text, other text); insert into accounts values (1, '111', '222'); grant all on accounts to public", 'app');
      const run = async (sql: string): Promise<string[]> => (await psql(short.endpoint, ['-F', '|', '-c', sql])).stdout.split('\n').filter((l) => l !== '');
      const [first] = await run('select ssn, other from accounts');
      assert.match(first ?? '', /^h:[A-Za-z0-9_-]{16}\|222$/);
      await pg.sql('alter table accounts rename column ssn to tmp; alter table accounts rename column other to ssn', 'app');
      await new Promise((r) => setTimeout(r, 150));
      const [after] = await run('select tmp, ssn from accounts');
      assert.match(after ?? '', /^111\|h:[A-Za-z0-9_-]{16}$/);
    } finally { await short.proxy.close(); }
  });

  it('picks up a renamed and an added column', async () => {
    await pg.sql('alter table customers rename column email to mail; alter table customers add column email text; update customers set email = \'new@example.com\'', 'app');
    // DDL outside the proxy: seen after the TTL; through the proxy it is seen at once.
    await pg.sql('alter table customers owner to scram_user', 'app');
    await q('alter table customers add column extra int');
    const before = p.observer.statements.length;
    // mail is no longer a masked column: only the e-mail detector masks it; email is the new column.
    assert.deepEqual(await q('select mail, email, extra from customers where id = 1'), ['[MASKED]|[MASKED]|∅']);
    await eventually(() => p.observer.statements.length > before, 'the statement record');
    assert.deepEqual(p.observer.statements.at(-1)?.masked, { 'free-text': 1, emails: 1 });
  });
});
