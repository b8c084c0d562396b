// FilterSet answers "does any filter match?" like a scan with topicMatches, both while it
// scans (few wildcard filters) and after it switched to a trie (more than 16).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { topicMatches } from '../../topic/index.js';
import { FilterSet } from './filter-set.js';

const filterArb = fc
  .tuple(fc.array(fc.constantFrom('a', 'b', '', '$SYS', '+', 'c'), { minLength: 0, maxLength: 4 }), fc.boolean())
  .map(([l, hash]) => (hash || l.length === 0 ? [...l, '#'] : l).join('/'))
  .filter((f) => f !== '');
const topicArb = fc
  .array(fc.constantFrom('a', 'b', '', '$SYS', 'c', 'd'), { minLength: 1, maxLength: 5 })
  .map((l) => l.join('/'))
  .filter((t) => t !== '');

describe('FilterSet', () => {
  test('property: matches() equals "some filter matches", for small and large sets', () => {
    fc.assert(
      fc.property(fc.array(filterArb, { maxLength: 60 }), fc.array(topicArb, { minLength: 1, maxLength: 20 }), (filters, topics) => {
        const set = new FilterSet();
        for (const f of filters) assert.equal(set.add(f), true);
        return topics.every((t) => set.matches(t) === filters.some((f) => topicMatches(f, t)));
      }),
      { numRuns: 500 },
    );
  });

  test('invalid filters are refused and match nothing', () => {
    const set = new FilterSet();
    for (const bad of ['', 'a/+b', 'a/#/b', 'a\u0000']) assert.equal(set.add(bad), false, JSON.stringify(bad));
    assert.equal(set.size, 0);
    assert.equal(set.matches('a'), false);
  });

  test('an exact topic, and duplicates counted once', () => {
    const set = new FilterSet();
    set.add('a/b');
    set.add('a/b');
    set.add('x/+');
    set.add('x/+');
    assert.equal(set.size, 2);
    assert.equal(set.matches('a/b'), true);
    assert.equal(set.matches('a/c'), false);
    assert.equal(set.matches('x/1'), true);
  });
});
