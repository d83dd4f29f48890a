// ShapeLru: eviction of the least recently used key, uses counted by get and touch, not by peek.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ShapeLru } from './shape-lru.js';

test('get counts a use: the least recently used key is evicted when full', () => {
  const lru = new ShapeLru<number>(2);
  lru.add('a', 1);
  lru.add('b', 2);
  assert.equal(lru.get('a'), 1);
  lru.add('c', 3); // evicts b
  assert.deepEqual([lru.peek('a'), lru.peek('b'), lru.peek('c'), lru.size], [1, undefined, 3, 2]);
});

test('peek counts no use, touch does', () => {
  const peeked = new ShapeLru<number>(2);
  peeked.add('a', 1);
  peeked.add('b', 2);
  assert.equal(peeked.peek('a'), 1);
  peeked.add('c', 3); // a is still the oldest
  assert.equal(peeked.peek('a'), undefined);
  assert.equal(peeked.peek('b'), 2);

  const touched = new ShapeLru<number>(2);
  touched.add('a', 1);
  touched.add('b', 2);
  touched.touch('a');
  touched.add('c', 3);
  assert.equal(touched.peek('a'), 1);
  assert.equal(touched.peek('b'), undefined);
});

test('a nonsensical bound falls back to 10 000', () => {
  for (const max of [0, -1, 1.5, Number.NaN, undefined]) assert.equal(new ShapeLru(max).maxEntries, 10_000);
  assert.equal(new ShapeLru(3).maxEntries, 3);
});
