// DENY CORPUS: ways to smuggle dangerous statements past a classifier; BENIGN CORPUS: everyday SQL.
// Every entry goes through SqlClassifier twice (miss, then hit) so the cache cannot launder it.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadSqlParser } from './classify.js';
import { SqlClassifier } from './classifier.js';
import type { Classification } from './facts.js';
import type { StatementKind } from './kinds.js';

before(() => loadSqlParser());

/** `kind`: must appear in some statement's kinds; `fn`: must appear as a function fact; `fail`: ok:false. */
type Expect = { kind: StatementKind } | { fn: string } | { fail: true } | { kindOrFail: StatementKind };

const DENY: [sql: string, expect: Expect][] = [
  // plain, casing, whitespace
  ['DROP TABLE t', { kind: 'drop' }],
  ['dRoP tAbLe t', { kind: 'drop' }],
  ['drop\ttable\nt', { kind: 'drop' }],
  ['\n\n   drop\r\n table\f t   ', { kind: 'drop' }],
  ['DROP TABLE IF EXISTS t', { kind: 'drop' }],
  ['drop table "T"', { kind: 'drop' }],
  ['drop table "drop"."table"', { kind: 'drop' }],
  ['drop table U&"d\\0061ta"', { kind: 'drop' }],
  ['drop table U&"!0064ata" uescape \'!\'', { kind: 'drop' }],
  // comments
  ['/* select */ drop table t', { kind: 'drop' }],
  ['drop/**/table/**/t', { kind: 'drop' }],
  ['-- select 1\ndrop table t', { kind: 'drop' }],
  ['select 1 -- ;\n; drop table t', { kind: 'drop' }],
  ['/* outer /* nested */ still comment */ drop table t', { kind: 'drop' }],
  ['/* unterminated drop table t', { fail: true }],
  ['select 1 /* ; */; truncate t', { kind: 'truncate' }],
  // multi-statement
  ['select 1; drop table t', { kind: 'drop' }],
  ['select 1;drop table t;', { kind: 'drop' }],
  ["select ';'; delete from t", { kind: 'delete' }],
  ['select 1; select 2; alter table t owner to x', { kind: 'alter' }],
  // literals and quoting tricks
  ["select 'x'; drop table t; --'", { kind: 'drop' }],
  ["select E'\\''; drop table t; --'", { kind: 'drop' }],
  ["select E'\\\\'; drop table t; --'", { kind: 'drop' }],
  ["select 'a\\'; drop table t; --'", { kind: 'drop' }], // standard strings: the backslash is literal
  ["select U&'\\0027'; drop table t", { kind: 'drop' }],
  ['select $a$ $$ $a$; drop table t', { kind: 'drop' }],
  ['select $a$; $a$$; drop table t; --$', { kindOrFail: 'drop' }],
  ['select $a$ x $a$; drop table t', { kind: 'drop' }],
  ['select "a;"; drop table t', { kind: 'drop' }],
  ["select 'it''s'; delete from t", { kind: 'delete' }],
  // writes hidden in CTEs, sub-statements, EXPLAIN, PREPARE, cursors, rules
  ['with d as (delete from t returning *) select * from d', { kind: 'delete' }],
  ['WITH a AS (SELECT 1), b AS (UPDATE t SET x = 1 RETURNING *) SELECT * FROM a, b', { kind: 'update' }],
  ['with x as (with y as (delete from t returning 1) select * from y) select * from x', { kind: 'delete' }],
  ['explain analyze delete from t', { kind: 'delete' }],
  ['explain (analyze, buffers) drop table t', { fail: true }], // EXPLAIN of DDL is a syntax error
  ['explain analyze with d as (delete from t returning 1) select 1', { kind: 'delete' }],
  ['prepare p as delete from t', { kind: 'delete' }],
  ['PREPARE p(int) AS UPDATE t SET a = $1', { kind: 'update' }],
  ['declare c cursor for delete from t returning *', { kindOrFail: 'delete' }],
  ['declare c cursor for with d as (delete from t returning *) select * from d', { kind: 'delete' }],
  ['create rule r as on select to t do instead delete from u', { kind: 'delete' }],
  ['create rule r as on insert to t do also (delete from u; truncate v)', { kindOrFail: 'delete' }],
  ['create view v as with d as (delete from t returning *) select * from d', { kindOrFail: 'delete' }],
  ['select * into new_t from t', { kind: 'create' }],
  ['create table n as select * from t', { kind: 'create' }],
  ['copy (delete from t returning *) to stdout', { kind: 'delete' }],
  ['create function f() returns void begin atomic delete from t; end', { kind: 'delete' }],
  // truncate, alter, rename
  ['truncate t', { kind: 'truncate' }],
  ['truncate only t', { kind: 'truncate' }],
  ['TRUNCATE TABLE ONLY a, b RESTART IDENTITY CASCADE', { kind: 'truncate' }],
  ['alter table t rename to u', { kind: 'alter' }],
  ['alter table t rename column a to b', { kind: 'alter' }],
  ['alter schema s rename to x', { kind: 'alter' }],
  ['alter table t drop column c', { kind: 'alter' }],
  ['alter system set fsync = off', { kind: 'alter' }],
  // COPY PROGRAM
  ["copy t to program 'rm -rf /'", { kind: 'copy_program' }],
  ["COPY t FROM PROGRAM 'curl evil'", { kind: 'copy_program' }],
  ["copy (select 1) to program 'sh'", { kind: 'copy_program' }],
  ["copy t from '/etc/passwd'", { kind: 'copy_from' }],
  // role changes
  ['set role admin', { kind: 'set_role' }],
  ['SET LOCAL ROLE admin', { kind: 'set_role' }],
  ['set session role admin', { kind: 'set_role' }],
  ["set role to 'admin'", { kind: 'set_role' }],
  ['set "role" = admin', { kind: 'set_role' }],
  ['reset role', { kind: 'set_role' }],
  ['set session authorization postgres', { kind: 'set_session_authorization' }],
  ['set session authorization default', { kind: 'set_session_authorization' }],
  ['reset session authorization', { kind: 'set_session_authorization' }],
  ["select set_config('role', 'admin', false)", { fn: 'set_config' }],
  ["select pg_catalog.set_config('role', 'admin', false)", { fn: 'pg_catalog.set_config' }],
  ["select * from t where set_config('role','x',true) is not null", { fn: 'set_config' }],
  ['grant admin to me', { kind: 'grant' }],
  ['alter role me superuser', { kind: 'alter' }],
  // procedural code
  ['do $$ begin execute \'drop table t\'; end $$', { kind: 'do' }],
  ["do language plpgsql 'begin drop table t; end'", { kind: 'do' }],
  ['DO $body$ DECLARE r record; BEGIN DELETE FROM t; END $body$', { kind: 'do' }],
  ["create function f() returns void as $$ drop table t $$ language sql", { kind: 'create' }],
  ['create or replace function f() returns void language plpgsql as $f$ begin drop table t; end $f$', { kind: 'create' }],
  ['call do_bad_things()', { kind: 'call' }],
  // garbage
  ['drop table', { fail: true }],
  ['select 1; drop tabel t', { fail: true }],
];

const BENIGN: [sql: string, kinds: StatementKind[]][] = [
  ['SELECT abalance FROM pgbench_accounts WHERE aid = 48213;', ['select']],
  ['UPDATE pgbench_accounts SET abalance = abalance + -2345 WHERE aid = 48213;', ['update']],
  ['UPDATE pgbench_tellers SET tbalance = tbalance + 12 WHERE tid = 3;', ['update']],
  ['UPDATE pgbench_branches SET bbalance = bbalance + 12 WHERE bid = 1;', ['update']],
  ['INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 48213, 12, CURRENT_TIMESTAMP);', ['insert']],
  ['BEGIN;', ['transaction']],
  ['END;', ['transaction']],
  ['COMMIT', ['transaction']],
  ['ROLLBACK', ['transaction']],
  ["SET application_name = 'report'", ['set']],
  ['SET statement_timeout TO 5000', ['set']],
  ['SHOW server_version', ['show']],
  ['select o.id, c.name, sum(i.qty * i.price) as total from orders o join customers c on c.id = o.customer_id ' +
    'left join items i on i.order_id = o.id where o.created_at > now() - interval \'7 days\' group by o.id, c.name ' +
    'having sum(i.qty) > 1 order by total desc limit 50', ['select']],
  ['select id, rank() over (partition by region order by revenue desc) from sales', ['select']],
  ['with recent as (select * from orders where created_at > now() - interval \'1 day\') select count(*) from recent', ['select']],
  ['with recursive r(n) as (select 1 union all select n + 1 from r where n < 10) select * from r', ['select']],
  ['select * from t where id = any($1) for update skip locked', ['select']],
  ["select jsonb_build_object('a', 1) -> 'a', coalesce(x, 0) from t", ['select']],
  ['explain select * from orders where id = 1', ['explain', 'select']],
  ['insert into t (a) values ($1) on conflict (a) do update set a = excluded.a returning id', ['insert']],
  ['delete from sessions where expires_at < now()', ['delete']],
  ['select pg_sleep(0)', ['select']],
  ['VALUES (1), (2)', ['select']],
  ['TABLE orders', ['select']],
  ['select $$; drop table t; $$', ['select']], // a dollar-quoted string, not a statement
];

function assertExpect(result: Classification, expect: Expect, sql: string): void {
  const kinds = result.ok ? result.statements.flatMap((s) => s.kinds) : [];
  const fns = result.ok ? result.statements.flatMap((s) => s.functions) : [];
  if ('fail' in expect) assert.equal(result.ok, false, sql);
  else if ('kindOrFail' in expect) assert.ok(!result.ok || kinds.includes(expect.kindOrFail), sql);
  else if ('kind' in expect) assert.ok(result.ok && kinds.includes(expect.kind), `${sql} → ${JSON.stringify(result)}`);
  else assert.ok(result.ok && fns.includes(expect.fn), `${sql} → ${JSON.stringify(result)}`);
}

test('DENY CORPUS: the forbidden kind shows (or the text fails closed), on a miss and on a hit', async (t) => {
  const c = new SqlClassifier();
  for (const [sql, expect] of DENY) {
    await t.test(sql, () => {
      assertExpect(c.classify(sql), expect, sql);
      assertExpect(c.classify(sql), expect, sql);
    });
  }
  assert.ok(c.stats().hits > 0);
});

test('DENY CORPUS: a benign statement of some shape does not launder a dangerous one', () => {
  const c = new SqlClassifier();
  for (const [benign, dangerous, kind] of [
    ["select 'x' from t", "select 'x' from t; drop table t", 'drop'],
    ["select * from t where a = 'q'", "select * from t where a = 'q\\'; drop table t; --'", 'drop'],
    ["select * from t where a = 'q' -- c", "select * from t where a = 'q' -- c\n; delete from t", 'delete'],
    ['select 1', 'select 1 /* */; truncate t', 'truncate'],
  ] as const) {
    c.classify(benign);
    assertExpect(c.classify(dangerous), { kind }, dangerous);
  }
});

test('BENIGN CORPUS: everyday statements classify as expected, on a miss and on a hit', async (t) => {
  const c = new SqlClassifier();
  for (const [sql, kinds] of BENIGN) {
    await t.test(sql, () => {
      for (let round = 0; round < 2; round++) {
        const result = c.classify(sql);
        assert.ok(result.ok, sql);
        assert.deepEqual(result.statements.flatMap((s) => s.kinds), kinds);
      }
    });
  }
});
