// shapeKey: which texts share a key, which are refused, and (property) that sharing is sound.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import fc from 'fast-check';
import { classifySql, loadSqlParser } from './classify.js';
import { shapeKey } from './shape-key.js';

before(() => loadSqlParser());

test('texts differing only in literals, whitespace and comments share a key', () => {
  const groups: string[][] = [
    ['SELECT abalance FROM pgbench_accounts WHERE aid = 48213;', 'SELECT abalance FROM pgbench_accounts WHERE aid = 7;',
      'SELECT abalance FROM pgbench_accounts WHERE aid = 2147483647;', '  SELECT  abalance\nFROM pgbench_accounts -- c\n WHERE aid = 0;'],
    ["select * from t where name = 'bob' and x = 1.5", "select * from t where name = 'it''s' and x = 2e10",
      "select * from t /* hi */ where name = '' and x = 0.0001", "select * from t where name = 'ünïcode' and x = 99999999999"],
    ['select $1, "Quoted ""id""" from t', 'select $1,  "Quoted ""id""" from t'],
    ['', '   ', '-- only a comment', '/* only */'],
  ];
  for (const group of groups) {
    const keys = group.map(shapeKey);
    assert.ok(keys[0] !== null, group[0]);
    for (let i = 1; i < keys.length; i++) assert.equal(keys[i], keys[0], `${group[i]} vs ${group[0]}`);
  }
});

test('texts that must not share a key do not', () => {
  const pairs: [string, string][] = [
    ['select 1', 'select 1.5'], // ICONST vs FCONST: FETCH n takes only integers
    ['select 1', 'select 2147483648'], // beyond int32 PostgreSQL lexes FCONST
    ['select 1', "select '1'"],
    ['select a', 'select A'], // identifiers keep their case (the parser folds, not the key)
    ['select "a"', 'select a'],
    ['select 1::float(10)', 'select 1::float(60)'], // precision checked while parsing
    ['alter index i alter column 1 set statistics 5', 'alter index i alter column 0 set statistics 5'],
    ['alter index i alter 1 set statistics 5', 'alter index i alter 0 set statistics 5'],
    ['select $1', 'select $2'],
    ['select a-b', 'select a - b'],
    ['select 1; drop table t', 'select 1'],
  ];
  for (const [a, b] of pairs) {
    const ka = shapeKey(a);
    assert.ok(ka !== null, a);
    assert.notEqual(ka, shapeKey(b), `${a} | ${b}`);
  }
});

test('texts the lexer cannot be certain about are not cacheable', () => {
  const refused = [
    "select 'a\\'; drop table t; --'", // backslash in a string
    "select E'\\x41'", "select e'x'", "select N'x'", "select B'01'", "select X'ff'", "select U&'d\\0061t'",
    'select U&"d\\0061t" from t', "select u&'x' uescape '!'",
    'select $$x$$', 'select $tag$x$tag$', 'select $', 'select $1a', 'select $1.2',
    "select 'a'\n'b'", "select 'a' 'b'", "select 'a' /* c */ 'b'", "select 'a' -- c\n 'b'",
    "select 'unterminated", 'select "unterminated', 'select 1 /* unterminated', '/* a /* nested */ */ select 1',
    'select 1a', 'select 1_000', 'select 0x1f', 'select 1e', 'select 1e+', 'select 1.', 'select 1..2', 'select .5',
    'select x.1', "select 1'a'", 'select 1.5.5',
    'select é', 'select 1 —', 'select \u0001', 'select 1\0', 'select\u000b1',
    `select ${'x'.repeat(8200)}`,
  ];
  for (const sql of refused) assert.equal(shapeKey(sql), null, JSON.stringify(sql));
});

test('keys are not valid SQL and cannot be confused with text', () => {
  const key = shapeKey("select 'x', 1, 1.5");
  assert.ok(key !== null);
  assert.ok(!key.includes("'x'") && ['\u0001', '\u0002', '\u0003'].every((mark) => key.includes(mark)));
  assert.equal(shapeKey('select "a\u0001"'), null); // control characters refused even in identifiers
});

// ---- property: same key ⇒ same classification ---------------------------------------------

/** Pieces of SQL: fixed tokens, and slots filled with literals of one lexical class. */
type Piece = { fixed: string } | { literal: 'int' | 'bigint' | 'float' | 'string' };
const FIXED = [
  'select', 'SELECT', 'from', 'where', 'delete', 'drop', 'table', 'truncate', 'set', 'role', 'fetch', 'limit',
  'offset', 'and', 'or', 'in', 'into', 'values', 'insert', 'update', 'with', 'as', 'copy', 'to', 'program',
  'explain', 'analyze', 'prepare', 'alter', 'column', 'float', 'interval', 'set_config', 't', 'u', 'x', 'Ab',
  '"q"', '"W x"', '$1', '(', ')', ',', ';', '=', '<', '-', '+', '*', '::', '.', '[', ']', 'int', 'numeric',
  'varchar', 'timestamp', 'e', 'E', 'n', 'from t', 'select 1', 'statistics', 'abs', 'is', 'not', 'null',
];
const piece: fc.Arbitrary<Piece> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...FIXED).map((fixed) => ({ fixed })) },
  { weight: 1, arbitrary: fc.constantFrom('int', 'bigint', 'float', 'string').map((literal) => ({ literal }) as Piece) },
);
const SEPARATORS = [' ', '  ', '\n', '\t', ' /* c */ ', ' -- c\n', '\r\n', ''];
const LITERALS = {
  int: ['0', '1', '7', '42', '2147483647', '0010', '999999999'],
  bigint: ['2147483648', '99999999999', '12345678901234567890'],
  float: ['1.5', '0.0', '2e10', '3E-2', '1.25e+3', '9999999999.5'],
  string: ["''", "'x'", "'it''s'", "'drop table t'", "'ü'", "'a\nb'", "';'"],
} as const;

const render = (pieces: Piece[], choices: number[]): string => {
  let out = '';
  pieces.forEach((p, i) => {
    const c = choices[i % choices.length] ?? 0;
    if (i > 0) out += SEPARATORS[c % SEPARATORS.length];
    out += 'fixed' in p ? p.fixed : LITERALS[p.literal][c % LITERALS[p.literal].length];
  });
  return out;
};

const factsOf = (sql: string) => {
  const result = classifySql(sql);
  return result.ok ? { ok: true, statements: result.statements } : { ok: false };
};

test('property: texts with the same shape key classify the same', () => {
  let compared = 0;
  fc.assert(
    fc.property(
      fc.array(piece, { minLength: 1, maxLength: 12 }),
      fc.array(fc.nat(50), { minLength: 1, maxLength: 12 }),
      fc.array(fc.nat(50), { minLength: 1, maxLength: 12 }),
      (pieces, choicesA, choicesB) => {
        const a = render(pieces, choicesA);
        const b = render(pieces, choicesB);
        const ka = shapeKey(a);
        if (ka === null || ka !== shapeKey(b)) return;
        compared++;
        assert.deepEqual(factsOf(a), factsOf(b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      },
    ),
    { numRuns: 3000 },
  );
  assert.ok(compared > 100, `only ${compared} pairs shared a key`);
});

test('property: statements of real shapes, with any literals, classify the same', () => {
  const shapes: Piece[][] = [
    [{ fixed: 'select * from t where x =' }, { literal: 'int' }, { fixed: 'and y =' }, { literal: 'string' }],
    [{ fixed: 'fetch' }, { literal: 'int' }, { fixed: 'from c' }],
    [{ fixed: 'select 1::float(' }, { literal: 'int' }, { fixed: ')' }],
    [{ fixed: 'select' }, { literal: 'int' }, { fixed: ';' }, { fixed: 'delete from t where a =' }, { literal: 'float' }],
    [{ fixed: "select set_config('role'," }, { literal: 'string' }, { fixed: ', false)' }],
    [{ fixed: 'select' }, { literal: 'string' }, { literal: 'string' }], // concatenated only across a newline
    [{ fixed: 'select * from t limit' }, { literal: 'bigint' }, { fixed: 'offset' }, { literal: 'int' }],
  ];
  fc.assert(
    fc.property(fc.constantFrom(...shapes), fc.array(fc.nat(50), { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(50), { minLength: 1, maxLength: 6 }), (pieces, ca, cb) => {
        const a = render(pieces, ca);
        const b = render(pieces, cb);
        if (shapeKey(a) !== null && shapeKey(a) === shapeKey(b)) assert.deepEqual(factsOf(a), factsOf(b), `${a} | ${b}`);
      }),
    { numRuns: 2000 },
  );
});
