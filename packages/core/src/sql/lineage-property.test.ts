// Property: renaming output columns (AS aliases, column alias lists) never changes what feeds them.
import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import fc from 'fast-check';
import { loadSqlParser } from './classify.js';
import { resultLineage } from './lineage.js';
import type { StatementLineage } from './lineage-types.js';
import { testCatalog } from './lineage-test-support.js';

/** Select-list expressions over `customers c` ({c} is the table alias). */
const EXPRESSIONS = [
  '{c}.email', 'lower({c}.email)', "{c}.email || ''", 'coalesce({c}.name, {c}.card)', '{c}.id + 1', 'row_to_json({c})',
  '(SELECT o.note FROM orders o WHERE o.customer_id = {c}.id)', 'CASE WHEN {c}.id > 0 THEN {c}.email END', '1',
  'email', 'ARRAY[{c}.card]', '{c}.email::text',
];
const NAMES = ['e', 'x', 'email', 'id', 'c', 'note', 'card', 'a1', 'w', 's'];
const WRAPPERS = ['subquery', 'renamed', 'cte', 'union', 'copy'] as const;
type Wrapper = (typeof WRAPPERS)[number];

interface Shape { exprs: number[]; table: string; wrappers: Wrapper[] }

function render(shape: Shape, names: number[]): string {
  const name = (i: number): string => NAMES[(names[i % names.length] ?? 0) % NAMES.length] as string;
  let k = 0;
  const items = shape.exprs.map((e) => {
    const expr = (EXPRESSIONS[e % EXPRESSIONS.length] as string).replaceAll('{c}', shape.table);
    const alias = name(k++);
    return alias === 's' ? expr : `${expr} AS ${alias}`; // some items keep PostgreSQL's own name
  });
  let sql = `SELECT ${items.join(', ')} FROM customers ${shape.table}`;
  for (const w of shape.wrappers) {
    if (w === 'subquery') sql = `SELECT * FROM (${sql}) AS ${name(k++)}`;
    if (w === 'renamed') sql = `SELECT * FROM (${sql}) AS q(${shape.exprs.map(() => name(k++)).join(', ')})`;
    if (w === 'cte') sql = `WITH ${name(k++)}_cte AS (${sql}) SELECT * FROM ${name(k - 1)}_cte`;
    if (w === 'union') sql = `(${sql}) UNION ALL (${sql})`;
    if (w === 'copy') return `COPY (${sql}) TO STDOUT`;
  }
  return sql;
}

function withoutNames(result: StatementLineage[]): unknown {
  return result.map((s) => (s.kind === 'rows' ? s.columns.map(({ name: _name, ...rest }) => rest) : s));
}

before(() => loadSqlParser());

it('renaming output aliases never changes sources', () => {
  const catalog = testCatalog();
  const shape = fc.record({
    exprs: fc.array(fc.nat(EXPRESSIONS.length - 1), { minLength: 1, maxLength: 5 }),
    table: fc.constantFrom('c', 'cust', 'customers'),
    wrappers: fc.array(fc.constantFrom(...WRAPPERS), { maxLength: 3 }),
  });
  const names = fc.array(fc.nat(NAMES.length - 1), { minLength: 1, maxLength: 12 });
  fc.assert(fc.property(shape, names, names, (s, a, b) => {
    const left = resultLineage(render(s, a), catalog);
    const right = resultLineage(render(s, b), catalog);
    assert.equal(left[0]?.kind, 'rows', render(s, a));
    assert.deepEqual(withoutNames(left), withoutNames(right));
    // Every column that reads customers.email keeps it as a source, however renamed.
    const first = left[0];
    if (first?.kind === 'rows') {
      s.exprs.forEach((e, i) => {
        const expr = EXPRESSIONS[e] as string;
        if (expr.includes('email') && !expr.includes('CASE')) {
          assert.ok(first.columns[i]?.sources.some((src) => src.column === 'email'), `${render(s, a)} column ${i}`);
        }
      });
    }
  }), { numRuns: 300 });
});

/** Ways to compute a value from `%`; `(SELECT %)` alone passes it on unchanged. */
const DERIVATIONS = [
  'lower(%::text)', "(%)::text || 'x'", "coalesce((%)::text, 'y')", 'CASE WHEN 1 = 1 THEN % END', '(SELECT %)',
  'ARRAY[%]', 'string_agg((%)::text, \',\')', 'max(%)', 'row_to_json(ROW(%))', 'md5((%)::text)',
  'lag(%) OVER (ORDER BY 1)', '(SELECT x FROM (SELECT % AS x) s)', 'jsonb_build_object(\'k\', %)',
];

it('computing a value from a column never loses the column', () => {
  const catalog = testCatalog();
  const lineageOf = (expr: string) => {
    const [only] = resultLineage(`SELECT ${expr} FROM customers c`, catalog);
    assert.equal(only?.kind, 'rows', expr);
    return only?.kind === 'rows' ? only.columns[0] : undefined;
  };
  fc.assert(fc.property(fc.nat(EXPRESSIONS.length - 1), fc.array(fc.nat(DERIVATIONS.length - 1), { minLength: 1, maxLength: 4 }), (e, ds) => {
    const base = (EXPRESSIONS[e] as string).replaceAll('{c}', 'c');
    const wrapped = ds.reduce((acc, d) => (DERIVATIONS[d] as string).replaceAll('%', acc), base);
    const from = lineageOf(base);
    const to = lineageOf(wrapped);
    for (const s of from?.sources ?? []) assert.ok(to?.sources.some((t) => t.table === s.table && t.column === s.column), wrapped);
    for (const w of from?.wholeRows ?? []) assert.ok(to?.wholeRows.some((t) => t.table === w.table), wrapped);
    if (ds.some((d) => d !== 4 && d !== 11)) assert.equal(to?.direct, false, wrapped);
  }), { numRuns: 300 });
});
