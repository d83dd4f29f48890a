// LineageAnalyzer: one analysis per statement shape and catalog, bounded, failures not cached.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { loadSqlParser } from './classify.js';
import { resultLineage } from './lineage.js';
import { LineageAnalyzer } from './lineage-cache.js';
import { statementText, testCatalog } from './lineage-test-support.js';
import { shapeKey } from './shape-key.js';

describe('LineageAnalyzer', () => {
  before(() => loadSqlParser());

  it('analyses a shape once for all its literal values', () => {
    const analyzer = new LineageAnalyzer();
    const catalog = testCatalog();
    const first = analyzer.lineage("SELECT lower(email) FROM customers WHERE id = 1 AND name = 'a'", catalog);
    const second = analyzer.lineage("SELECT lower(email) FROM customers WHERE id = 2 AND name = 'b'", catalog);
    assert.equal(second, first);
    assert.deepEqual(first.map(statementText), [['lower~customers.email']]);
    assert.deepEqual(analyzer.stats(), { hits: 1, misses: 1, uncacheable: 0, size: 1 });
  });

  it('gives the same lineage as resultLineage', () => {
    const analyzer = new LineageAnalyzer();
    const catalog = testCatalog();
    const sql = 'SELECT * FROM customers c JOIN orders o ON o.customer_id = c.id';
    assert.deepEqual(analyzer.lineage(sql, catalog), resultLineage(sql, catalog));
  });

  it('keeps one result per catalog object', () => {
    const analyzer = new LineageAnalyzer();
    const sql = 'SELECT * FROM customers';
    assert.deepEqual(analyzer.lineage(sql).map(statementText), ['unknown']);
    const before = testCatalog();
    assert.deepEqual(analyzer.lineage(sql, before).map(statementText),
      [['id=customers.id', 'email=customers.email', 'name=customers.name', 'card=customers.card']]);
    const after = { ...before, columns: () => ['id'] };
    assert.deepEqual(analyzer.lineage(sql, after).map(statementText), [['id=customers.id']]);
    assert.equal(analyzer.lineage(sql, before), analyzer.lineage(sql, before));
    assert.deepEqual(analyzer.stats(), { hits: 2, misses: 3, uncacheable: 0, size: 1 });
  });

  it('finds a repeated text without literals by the text itself, or by a key the caller passes', () => {
    const analyzer = new LineageAnalyzer();
    const sql = 'SELECT email FROM customers WHERE id = $1';
    const first = analyzer.lineage(sql, undefined);
    assert.equal(analyzer.lineage(sql), first);
    assert.equal(analyzer.lineage(`${sql} `, undefined, shapeKey(sql)), first);
    assert.deepEqual(analyzer.stats(), { hits: 2, misses: 1, uncacheable: 0, size: 1 });
  });

  it('does not cache a text that fails to parse, and analyses uncacheable texts each time', () => {
    const analyzer = new LineageAnalyzer();
    assert.deepEqual(analyzer.lineage('SELECT FROM WHERE').map(statementText), ['unknown']);
    assert.deepEqual(analyzer.lineage('SELECT FROM WHERE').map(statementText), ['unknown']);
    assert.deepEqual(analyzer.lineage('SELECT $$x$$, email FROM customers').map(statementText), [['?column?~', 'email=customers.email']]);
    assert.deepEqual(analyzer.stats(), { hits: 0, misses: 2, uncacheable: 1, size: 0 });
  });

  it('stays within its bound', () => {
    const analyzer = new LineageAnalyzer({ maxEntries: 2 });
    for (const col of ['id', 'email', 'name', 'card']) analyzer.lineage(`SELECT ${col} FROM customers`);
    assert.equal(analyzer.stats().size, 2);
    assert.deepEqual(analyzer.lineage('SELECT card FROM customers').map(statementText), [['card=customers.card']]);
  });

  it('hands out frozen results', () => {
    const analyzer = new LineageAnalyzer();
    const result = analyzer.lineage('SELECT email FROM customers', testCatalog());
    const only = result[0];
    assert.ok(Object.isFrozen(result) && only !== undefined && only.kind === 'rows');
    assert.ok(Object.isFrozen(only.columns[0]?.sources[0]));
  });
});
