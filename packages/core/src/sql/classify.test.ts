// Table-driven tests of classifySql: kinds, tables and functions from PostgreSQL's own parser.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { classifySql, classifyTree, loadSqlParser } from './classify.js';
import type { StatementFacts } from './facts.js';

before(() => loadSqlParser());

const facts = (kinds: string[], tables: string[] = [], functions: string[] = []): StatementFacts =>
  ({ kinds, tables, functions }) as StatementFacts;

const CASES: [sql: string, expected: StatementFacts[]][] = [
  ['select 1', [facts(['select'])]],
  ['SELECT a FROM Public.Users u JOIN "Orders" o ON o.uid = u.id', [facts(['select'], ['public.users', 'Orders'])]],
  ['select * from cat.sch.tbl', [facts(['select'], ['cat.sch.tbl'])]],
  ['select now(), pg_catalog.lower(x), "MyFn"(1) from t', [facts(['select'], ['t'], ['now', 'pg_catalog.lower', 'MyFn'])]],
  ['select 1; drop table t', [facts(['select']), facts(['drop'], ['t'])]],
  ['insert into t (a) values (1) returning a', [facts(['insert'], ['t'])]], // a bare VALUES list reads nothing
  ['insert into t (a) values ((select s from secrets))', [facts(['insert', 'select'], ['t', 'secrets'])]],
  ['values (1), (2)', [facts(['select'], [])]],
  ['update t set a = (select max(b) from u)', [facts(['update', 'select'], ['t', 'u'], ['max'])]],
  ['merge into t using s on t.id = s.id when matched then delete', [facts(['merge'], ['t', 's'])]],
  ['with d as (delete from x returning *) select * from d', [facts(['select', 'delete'], ['d', 'x'])]],
  ['select * from t where id in (select id from u where exists (select 1 from v))', [facts(['select'], ['t', 'u', 'v'])]],
  ['select 1 union all select 2 from x', [facts(['select'], ['x'])]],
  ['explain analyze delete from t', [facts(['explain', 'delete'], ['t'])]],
  ['explain select 1', [facts(['explain', 'select'])]],
  ['prepare p (int) as update t set a = $1', [facts(['prepare', 'update'], ['t'])]],
  ['execute p(1)', [facts(['execute'])]],
  ['deallocate all', [facts(['deallocate'])]],
  ['create table n as select * from t', [facts(['create', 'select'], ['t', 'n'])]],
  ['select * into n from t', [facts(['select', 'create'], ['n', 't'])]],
  ['declare c cursor for select * from t', [facts(['declare', 'select'], ['t'])]],
  ['fetch 10 from c', [facts(['fetch'])]],
  ['close c', [facts(['close'])]],
  ['create view v as select * from t', [facts(['create', 'select'], ['v', 't'])]],
  ['create rule r as on insert to t do instead delete from u', [facts(['create', 'delete'], ['t', 'u'])]],
  ['copy t to stdout', [facts(['copy_to'], ['t'])]],
  ['copy t from stdin', [facts(['copy_from'], ['t'])]],
  ["copy (select * from t) to program 'gzip'", [facts(['copy_program', 'copy_to', 'select'], ['t'])]],
  ["copy t from program 'cat /etc/passwd'", [facts(['copy_program', 'copy_from'], ['t'])]],
  ['truncate only a, b', [facts(['truncate'], ['a', 'b'])]],
  ['alter table t add column c int', [facts(['alter'], ['t'])]],
  ['alter table t rename to u', [facts(['alter'], ['t'])]],
  ['create index on t (a)', [facts(['create'], ['t'])]],
  ['drop index if exists s.i', [facts(['drop'], ['s.i'])]],
  ['drop function f(int)', [facts(['drop'])]],
  ["create function f() returns int language sql as 'select 1'", [facts(['create'])]],
  ['create function f() returns int begin atomic delete from t; end', [facts(['create', 'delete'], ['t'])]],
  ['grant select on t to bob', [facts(['grant'], ['t'])]],
  ['revoke select on t from bob', [facts(['revoke'], ['t'])]],
  ['grant admin to bob', [facts(['grant'])]],
  ['revoke admin from bob', [facts(['revoke'])]],
  ['alter default privileges grant select on tables to bob', [facts(['alter', 'grant'])]],
  ["do $$ begin drop table t; end $$", [facts(['do'])]],
  ['call p.proc(1)', [facts(['call'], [], ['p.proc'])]],
  ['set role admin', [facts(['set_role'])]],
  ['set local role admin', [facts(['set_role'])]],
  ['reset role', [facts(['set_role'])]],
  ['set role none', [facts(['set_role'])]],
  ['set session authorization bob', [facts(['set_session_authorization'])]],
  ['reset session authorization', [facts(['set_session_authorization'])]],
  ["set application_name = 'x'", [facts(['set'])]],
  ['set search_path to a, b', [facts(['set'])]],
  ['reset all', [facts(['reset'])]],
  ['reset work_mem', [facts(['reset'])]],
  ['show work_mem', [facts(['show'])]],
  ['discard plans', [facts(['discard'])]],
  ['discard all', [facts(['discard', 'set_session_authorization', 'set_role'])]],
  ["select set_config('role', 'admin', false)", [facts(['select'], [], ['set_config'])]],
  ['begin', [facts(['transaction'])]],
  ['commit', [facts(['transaction'])]],
  ['start transaction isolation level serializable', [facts(['transaction'])]],
  ['listen ch', [facts(['listen'])]],
  ["notify ch, 'x'", [facts(['notify'])]],
  ['unlisten *', [facts(['unlisten'])]],
  ['lock table t in exclusive mode', [facts(['lock'], ['t'])]],
  ['vacuum t', [facts(['vacuum'], ['t'])]],
  ['analyze t', [facts(['analyze'], ['t'])]],
  ['refresh materialized view m', [facts(['refresh'], ['m'])]],
  ['checkpoint', [facts(['checkpoint'])]],
  ["load 'auto_explain'", [facts(['load'])]],
  ["comment on table t is 'x'", [facts(['comment'])]],
  ['reassign owned by a to b', [facts(['reassign'])]],
  ['drop owned by a', [facts(['drop'])]],
  ['alter role bob set role = admin', [facts(['alter', 'set_role'])]],
  ['create schema s create table t (a int)', [facts(['create'], ['t'])]],
  ['select 1 -- only a comment after', [facts(['select'])]],
];

test('classifySql: table of statements', async (t) => {
  for (const [sql, expected] of CASES) {
    await t.test(sql, () => assert.deepEqual(classifySql(sql), { ok: true, statements: expected }));
  }
});

test('classifySql: empty and comment-only text is ok with no statements', () => {
  assert.deepEqual(classifySql(''), { ok: true, statements: [] });
  assert.deepEqual(classifySql('  \n\t'), { ok: true, statements: [] });
  assert.deepEqual(classifySql('-- nothing'), { ok: true, statements: [] });
  assert.deepEqual(classifySql('/* nothing */ ;'), { ok: true, statements: [] });
});

test('classifySql: unparseable text fails closed without echoing the text', () => {
  for (const sql of ['selec 1', "select 'secret-password", 'drop table', 'select 1::float(99)', 'select 1\0; drop table t']) {
    const result = classifySql(sql);
    assert.equal(result.ok, false, sql);
    if (!result.ok) {
      assert.ok(result.error.length > 0);
      assert.doesNotMatch(result.error, /secret|selec\b/);
    }
  }
});

test('classifyTree: nodes it does not know fail closed', () => {
  const select = (where: unknown) => ({ stmts: [{ stmt: { SelectStmt: { whereClause: where } } }] });
  assert.equal(classifyTree(select({ A_Const: { ival: { ival: 1 } } })).ok, true);
  // A node type this build has never heard of, anywhere in the tree.
  assert.equal(classifyTree(select({ FancyNewExpr: { x: 1 } })).ok, false);
  // Statement-like nodes that are not statements of their own, at the top.
  assert.equal(classifyTree({ stmts: [{ stmt: { ReturnStmt: {} } }] }).ok, false);
  assert.equal(classifyTree({ stmts: [{ stmt: { A_Const: {} } }] }).ok, false);
  // Malformed trees are values, not crashes.
  assert.equal(classifyTree({ stmts: 'nope' }).ok, false);
  assert.equal(classifyTree({ stmts: [{}] }).ok, false);
  assert.deepEqual(classifyTree({ version: 180004 }), { ok: true, statements: [] });
});
