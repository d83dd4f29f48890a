// Masking leaks found in review, through the real sidecar proxy with psql: RETURNING whose columns
// the server attributes to the written table while another table's masked value was written into
// them, functions judged from pg_proc, cursors read with FETCH, and multi-statement strings.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { psql, startPostgres } from '../harness/postgres.js';
import type { PostgresServer } from '../harness/postgres.js';
import { CUSTOMERS_SQL, MASK_RULES, startMaskingProxy } from './mask-support.js';
import type { CountingCounters } from './mask-support.js';
import type { ProxyUnderTest } from './support.js';

// Column rules only: the detector rule would hide these values on its own and mask the leak.
const COLUMN_RULES = MASK_RULES.filter((r) => r.match.detectors === undefined);

const SECRETS = ['ann@example.com', 'bob@example.com', '4111 1111 1111 1111', '123-45-6789', '234-56-7890'];

const EXTRA_SQL = `
create table notes(id int primary key, customer_id int, note text);
insert into notes values (1, 1, 'n1'), (2, 2, 'n2');
create function my_lower(t text) returns text language plpgsql immutable as $$ begin return lower(t); end $$;
create function leak(t text) returns text language sql stable as $$ select email from customers where id = 1 $$;
create schema evil;
grant usage on schema evil to public;
create function evil.lower(t text) returns text language sql as $$ select email from customers where id = 2 $$;
grant all on all tables in schema public to public;
`;

describe('masking hardened (psql through the proxy)', () => {
  let pg: PostgresServer;
  let p: ProxyUnderTest & { counters: CountingCounters };
  /** Output and errors of one psql run (errors do not stop it). */
  const run = async (sql: string): Promise<{ out: string[]; err: string }> => {
    const r = await psql(p.endpoint, ['-v', 'ON_ERROR_STOP=0', '-F', '|', '-P', 'null=∅'], { input: `${sql}\n` });
    return { out: r.stdout.split('\n').filter((l) => l !== ''), err: r.stderr };
  };
  const noSecret = (r: { out: string[]; err: string }, what: string): void => {
    const all = `${r.out.join('\n')}\n${r.err}`;
    for (const s of SECRETS) assert.ok(!all.includes(s), `${what}: ${s} reached the agent:\n${all}`);
  };

  before(async () => {
    pg = await startPostgres();
    await pg.sql(CUSTOMERS_SQL, 'app');
    await pg.sql(EXTRA_SQL, 'app');
    p = await startMaskingProxy(pg, COLUMN_RULES);
  });
  after(async () => {
    await p?.proxy.close();
    await pg?.destroy();
  });

  it('RETURNING of a column written from a masked column is masked (UPDATE … FROM)', async () => {
    const r = await run('update notes set note = c.email from customers c where c.id = notes.customer_id returning notes.id, note;');
    noSecret(r, 'UPDATE … FROM … RETURNING');
    assert.deepEqual(r.out.sort(), ['1|[MASKED]', '2|[MASKED]']);
  });

  it('RETURNING of INSERT … SELECT and of ON CONFLICT DO UPDATE SET … EXCLUDED is masked', async () => {
    const ins = await run('insert into notes(id, customer_id, note) select 100 + id, id, email from customers where id < 3 returning note;');
    noSecret(ins, 'INSERT … SELECT … RETURNING');
    assert.deepEqual(ins.out, ['[MASKED]', '[MASKED]']);
    const upsert = await run('insert into notes(id, note) select 1, card_number from customers where id = 1 on conflict (id) do update set note = excluded.note returning id, note;');
    noSecret(upsert, 'ON CONFLICT … RETURNING');
    assert.equal(upsert.out.length, 1);
    assert.match(upsert.out[0] ?? '', /^1\|\*+1111$/);
  });

  it('a data-modifying CTE feeding the result is traced through its RETURNING', async () => {
    const r = await run('with u as (update notes set note = c.ssn from customers c where c.id = notes.customer_id and notes.id < 3 returning notes.id, note) select id, note from u order by id;');
    noSecret(r, 'WITH … UPDATE … RETURNING');
    assert.equal(r.out.length, 2);
    for (const line of r.out) assert.match(line, /^\d\|h:[A-Za-z0-9_-]{16}$/);
  });

  it('EXECUTE of a prepared data-modifying statement is not taken at the server\'s word', async () => {
    const r = await run('prepare w as update notes set note = c.email from customers c where c.id = notes.customer_id returning note;\nexecute w;');
    noSecret(r, 'EXECUTE of UPDATE … RETURNING');
    assert.match(r.err, /result withheld/);
  });

  it('functions are judged from pg_proc: PostgreSQL\'s own compute, user functions stay untraceable', async () => {
    // pg_catalog functions outside the lineage's built-in list: traced instead of refused.
    assert.deepEqual((await run('select parse_ident(name) as a, xmlcomment(name) as b from customers where id = 1;')).out, ['{ann}|<!--Ann-->']);
    const masked = await run('select xmlcomment(email) from customers where id = 1;');
    assert.deepEqual(masked.out, ['[MASKED]']);
    // Functions that may run queries: refused whatever they declare (IMMUTABLE, STABLE).
    for (const sql of ["select leak('x');", 'select my_lower(name) from customers where id = 1;', "select evil.lower('A');"]) {
      const r = await run(sql);
      noSecret(r, sql);
      assert.match(r.err, /result withheld/, sql);
    }
  });

  it('an unqualified built-in name shadowed through search_path is not taken for the built-in', async () => {
    const r = await run("set search_path = evil, pg_catalog, public;\nselect lower('A');");
    noSecret(r, 'lower() resolved to evil.lower');
    assert.match(r.err, /result withheld/);
  });

  it('psql with FETCH_COUNT: computed columns read through its cursor are traced, not refused', async () => {
    const r = await psql(p.endpoint, ['-v', 'ON_ERROR_STOP=0', '-F', '|', '-v', 'FETCH_COUNT=1', '-c', 'select id, initcap(email) as e, upper(name) as n from customers order by id']);
    noSecret({ out: [r.stdout], err: r.stderr }, 'FETCH_COUNT');
    assert.equal(r.stderr, '');
    assert.deepEqual(r.stdout.split('\n').filter((l) => l !== ''), ['1|[MASKED]|ANN', '2|[MASKED]|BOB', '3|∅|CY'].map((l) => l.replace('∅', '')));
  });

  it('a cursor is traced only while it surely exists: after ROLLBACK TO SAVEPOINT its name is forgotten', async () => {
    const r = await run([
      'begin;', 'declare c cursor for select upper(name) from customers order by id;', 'fetch 1 from c;',
      'declare u cursor for select leak(name) from customers;', 'fetch 1 from u;', 'rollback;',
      'begin;', 'savepoint s;', 'declare k cursor for select upper(name) from customers;', 'rollback to s;', 'fetch 1 from k;', 'rollback;',
    ].join('\n'));
    noSecret(r, 'cursors');
    assert.deepEqual(r.out, ['ANN']);
    assert.match(r.err, /result withheld/); // leak() through the cursor: untraceable
    assert.match(r.err, /cursor "k" does not exist/);
  });

  it('a refused result in a multi-statement string: no value of it or of later results reaches the agent; later statements ran, and the error says so', async () => {
    const r = await psql(p.endpoint, ['-v', 'ON_ERROR_STOP=0', '-c', "select leak('x') as a; select email, ssn from customers where id = 2; insert into notes values (77, 0, 'ran')"]);
    noSecret({ out: [r.stdout], err: r.stderr }, 'multi-statement string');
    assert.match(r.stderr, /result withheld/);
    assert.match(r.stderr, /HINT: {2}statements after this one in the same query string, if any, were still run/);
    assert.equal(r.stdout, '');
    // Documented behaviour (README "Masking"): the server had the whole string and ran it.
    assert.deepEqual((await run('select note from notes where id = 77;')).out, ['ran']);
  });

  it('RETURNING through the extended protocol (postgres.js, parameters) is traced too', async () => {
    const sql = postgres({ host: '127.0.0.1', port: p.port, user: 'agent', database: 'x', max: 1, onnotice: () => undefined, connect_timeout: 10 });
    try {
      const rows = await sql`update notes set note = c.email from customers c where c.id = notes.customer_id and notes.id = ${1} returning notes.id, note`;
      assert.deepEqual(rows.map((r) => ({ ...r })), [{ id: 1, note: '[MASKED]' }]);
      const again = await sql`update notes set note = c.email from customers c where c.id = notes.customer_id and notes.id = ${2} returning notes.id, note`;
      assert.deepEqual(again.map((r) => ({ ...r })), [{ id: 2, note: '[MASKED]' }]);
    } finally { await sql.end({ timeout: 5 }); }
  });

  it('RETURNING plain columns of an unmasked table still passes (no false refusal)', async () => {
    const r = await run("update notes set note = 'plain' where id = 2 returning id, note;");
    assert.deepEqual(r.out, ['2|plain']);
    assert.equal(r.err, '');
  });
});
