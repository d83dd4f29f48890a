// SqlClassifier: one parse per shape, identity of cached results, LRU bound, failures uncached.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadSqlParser } from './classify.js';
import { SqlClassifier } from './classifier.js';

before(() => loadSqlParser());

test('statements of one shape are parsed once and share one Classification object', () => {
  const c = new SqlClassifier();
  const first = c.classify('SELECT abalance FROM pgbench_accounts WHERE aid = 1;');
  const second = c.classify('SELECT abalance FROM pgbench_accounts WHERE aid = 99;');
  assert.equal(second, first);
  assert.deepEqual(first, { ok: true, statements: [{ kinds: ['select'], tables: ['pgbench_accounts'], functions: [] }] });
  assert.deepEqual(c.stats(), { hits: 1, misses: 1, uncacheable: 0, size: 1 });
});

test('uncacheable text is parsed every time and not stored', () => {
  const c = new SqlClassifier();
  const a = c.classify('do $$ begin end $$');
  const b = c.classify('do $$ begin end $$');
  assert.notEqual(a, b);
  assert.deepEqual(a, b);
  assert.deepEqual(c.stats(), { hits: 0, misses: 0, uncacheable: 2, size: 0 });
});

test('failures are not cached', () => {
  const c = new SqlClassifier();
  assert.equal(c.classify('selec 1').ok, false);
  assert.equal(c.classify('selec 2').ok, false);
  assert.deepEqual(c.stats(), { hits: 0, misses: 2, uncacheable: 0, size: 0 });
});

test('the cache is a bounded LRU: the least recently used shape goes first', () => {
  const c = new SqlClassifier({ maxEntries: 2 });
  const a = c.classify('select a from t');
  c.classify('select b from t');
  assert.equal(c.classify('select a from t'), a); // a is now the most recent
  c.classify('select c from t'); // evicts b
  assert.equal(c.stats().size, 2);
  assert.equal(c.classify('select a from t'), a);
  const before = c.stats().misses;
  c.classify('select b from t');
  assert.equal(c.stats().misses, before + 1);
  assert.equal(c.stats().size, 2);
});

test('a shape in steady use survives a stream of new shapes', () => {
  const c = new SqlClassifier({ maxEntries: 4 });
  const hot = c.classify('select hot from t where a = 1');
  for (let i = 0; i < 50; i++) {
    c.classify(`select cold${i} from t`);
    assert.equal(c.classify(`select hot from t where a = ${i}`), hot, `round ${i}`);
    assert.ok(c.stats().size <= 4);
  }
  assert.equal(c.stats().misses, 51);
});

test('a nonsensical bound falls back to the default', () => {
  const c = new SqlClassifier({ maxEntries: 0 });
  c.classify('select 1');
  assert.equal(c.stats().size, 1);
});
