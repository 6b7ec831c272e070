import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LruCache } from '../../../src/retrieve/lru-cache.js';

test('evicts the least recently used entries to stay within capacity', () => {
  const cache = new LruCache<string, string>(10, (v) => v.length);
  cache.set('a', 'aaaa');
  cache.set('b', 'bbbb');
  assert.equal(cache.get('a'), 'aaaa'); // a is now the most recent
  cache.set('c', 'cccc');
  assert.equal(cache.get('b'), undefined, 'b was the least recently used');
  assert.equal(cache.get('a'), 'aaaa');
  assert.equal(cache.get('c'), 'cccc');
  assert.equal(cache.size, 8);
});

test('updating a key replaces its size; values larger than the cache are not kept', () => {
  const cache = new LruCache<string, string>(10, (v) => v.length);
  cache.set('a', 'aa');
  cache.set('a', 'aaaaaa');
  assert.equal(cache.size, 6);
  cache.set('huge', 'x'.repeat(11));
  assert.equal(cache.get('huge'), undefined);
  assert.equal(cache.get('a'), 'aaaaaa');
});
