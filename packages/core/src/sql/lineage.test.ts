// Table of SQL → expected lineage for every construct masking must see through.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { loadSqlParser } from './classify.js';
import { declaredCursors, resultLineage } from './lineage.js';
import { LINEAGE_CASES } from './lineage-cases.js';
import { statementText, testCatalog } from './lineage-test-support.js';

describe('resultLineage', () => {
  before(() => loadSqlParser());
  for (const [sql, expected] of LINEAGE_CASES) {
    it(sql, () => {
      assert.deepEqual(resultLineage(sql, testCatalog()).map(statementText), expected);
    });
  }

  it('gives the unknown reason', () => {
    assert.deepEqual(resultLineage('SELECT * FROM my_srf(1)', testCatalog()), [
      { kind: 'unknown', reason: '* over a relation whose columns are unknown (no catalog, or a function without a column list)' },
    ]);
  });

  it('traces views through their definitions when the catalog gives them', () => {
    const catalog = testCatalog({ views: true });
    assert.deepEqual(resultLineage('SELECT mail, lower(mail), * FROM customer_emails', catalog).map(statementText),
      [['mail=customers.email', 'lower~customers.email', 'id=customers.id', 'mail=customers.email']]);
    assert.deepEqual(resultLineage('SELECT * FROM vip_emails', catalog).map(statementText), [['mail~customers.email']]);
    // A view's lineage is the lineage of its definition, by position.
    assert.deepEqual(resultLineage('SELECT customers.id, customers.email AS mail FROM customers;', catalog).map(statementText),
      [['id=customers.id', 'mail=customers.email']]);
  });

  it('a view whose definition cannot be traced makes its columns unknown', () => {
    const catalog = { ...testCatalog(), viewDefinition: (_s: string | undefined, t: string) => (t === 'customer_emails' ? 'SELECT * FROM my_srf(1)' : undefined) };
    assert.deepEqual(resultLineage('SELECT mail FROM customer_emails', catalog).map(statementText), [['mail~ ?']]);
  });

  describe('without a catalog', () => {
    it('takes an unqualified column from any table that may have it', () => {
      assert.deepEqual(resultLineage('SELECT email, o.note FROM customers c JOIN orders o ON true').map(statementText),
        [['email=customers.email,orders.email', 'note=orders.note']]);
    });
    it('counts a name that may be a column or a whole row as both', () => {
      assert.deepEqual(resultLineage('SELECT c FROM customers c').map(statementText), [['c~customers.c,customers.*']]);
    });
    it('cannot expand * over a table', () => {
      assert.deepEqual(resultLineage('SELECT * FROM customers').map(statementText), ['unknown']);
      assert.deepEqual(resultLineage('COPY customers TO STDOUT').map(statementText), ['unknown']);
    });
    it('still expands * over what the statement defines', () => {
      assert.deepEqual(resultLineage('SELECT * FROM (SELECT email AS e FROM customers) s').map(statementText), [['e=customers.email']]);
    });
    it('treats RETURNING * of an INSERT whose column order is unknown as fed by everything inserted', () => {
      assert.deepEqual(resultLineage('INSERT INTO orders SELECT id, email FROM customers RETURNING note').map(statementText),
        [['note~orders.note,customers.id,customers.email']]);
    });
  });

  it('never throws on deep nesting', () => {
    const deep = `SELECT ${'email || '.repeat(5000)}'x' FROM customers`;
    const result = resultLineage(deep, testCatalog());
    assert.equal(result.length, 1);
    const only = result[0];
    assert.ok(only !== undefined && (only.kind === 'unknown' || (only.kind === 'rows' && only.columns[0]?.sources.length === 1)));
  });

  it('gives the lineage of declared cursors, for a later FETCH', () => {
    const declared = declaredCursors('BEGIN; DECLARE k CURSOR FOR SELECT lower(email) FROM customers; DECLARE j CURSOR FOR SELECT * FROM my_srf(1)', testCatalog());
    assert.deepEqual(declared.map((d) => [d.name, statementText(d.lineage)]), [['k', ['lower~customers.email']], ['j', 'unknown']]);
  });

  it('refuses a NUL character', () => {
    assert.deepEqual(resultLineage('SELECT 1\0', testCatalog()).map(statementText), ['unknown']);
  });
});
