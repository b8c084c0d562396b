// Property tests: TopicTrie.match and TopicIndex.match agree with the brute-force
// topicMatches over random filters and topics drawn from a small alphabet of levels
// (with `$` levels and empty levels), before and after random removals; removing
// everything prunes both structures back to an empty root.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { topicMatches } from './match.js';
import { TopicIndex } from './topic-index.js';
import { TopicTrie } from './trie.js';
import { isValidTopicFilter, isValidTopicName } from './validate.js';

const topicLevel = fc.constantFrom('a', 'b', 'c', '', '$SYS', '$');
// A lone empty level would be the empty string, which is not a topic [MQTT-4.7.3-1].
const topicArb = fc
  .array(topicLevel, { minLength: 1, maxLength: 5 })
  .map((levels) => levels.join('/'))
  .filter((topic) => topic !== '');

const filterLevel = fc.constantFrom('a', 'b', '', '$SYS', '+', '+');
const filterArb = fc
  .tuple(fc.array(filterLevel, { minLength: 0, maxLength: 4 }), fc.boolean())
  .map(([levels, hash]) => (hash || levels.length === 0 ? [...levels, '#'] : levels).join('/'))
  .filter((filter) => filter !== '');

const keyArb = fc.constantFrom('k1', 'k2', 'k3');

/** More `+` levels than TopicTrie recurses through (its RECURSION_LIMIT is 256). */
const DEEP_PLUS_FILTER = `+${'/+'.repeat(300)}`;

/** An independent, obviously-correct matcher to check topicMatches itself. */
function naiveMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '#' || f[0] === '+')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

const sortNumbers = (xs: number[]): number[] => [...xs].sort((x, y) => x - y);

describe('property: matchers agree', () => {
  test('the generators produce valid filters and topic names', () => {
    fc.assert(fc.property(filterArb, topicArb, (f, t) => isValidTopicFilter(f) && isValidTopicName(t)));
  });

  test('[MQTT-4.7.2-1] topicMatches agrees with a naive split-based matcher', () => {
    fc.assert(
      fc.property(filterArb, topicArb, (filter, topic) => {
        assert.equal(topicMatches(filter, topic), naiveMatches(filter, topic), `${filter} vs ${topic}`);
      }),
      { numRuns: 2000 },
    );
  });

  test('TopicTrie.match agrees with topicMatches, before and after removals; removal prunes', () => {
    const entryArb = fc.record({ filter: filterArb, key: keyArb });
    fc.assert(
      fc.property(
        fc.array(entryArb, { minLength: 1, maxLength: 30 }),
        fc.array(topicArb, { minLength: 1, maxLength: 10 }),
        fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
        (entries, topics, removeMask) => {
          const trie = new TopicTrie<number>();
          // The model: (filter, key) -> value, the last add winning.
          const model = new Map<string, { filter: string; key: string; value: number }>();
          entries.forEach(({ filter, key }, value) => {
            const id = `${filter}\u0000${key}`;
            assert.equal(trie.add(filter, key, value), !model.has(id));
            model.set(id, { filter, key, value });
          });

          const checkMatches = (): void => {
            for (const topic of topics) {
              const expected = [...model.values()].filter((e) => topicMatches(e.filter, topic)).map((e) => e.value);
              const actual: number[] = [];
              trie.match(topic, (v) => actual.push(v));
              assert.deepEqual(sortNumbers(actual), sortNumbers(expected), `topic ${JSON.stringify(topic)}`);
            }
          };
          const check = (): void => {
            assert.equal(trie.size, model.size);
            assert.equal(trie.filterCount, new Set([...model.values()].map((e) => e.filter)).size);
            checkMatches();
            // A filter with hundreds of `+` levels (it matches none of these short topics)
            // switches match() to its non-recursive walk, which must agree as well.
            trie.add(DEEP_PLUS_FILTER, 'deep', -1);
            checkMatches();
            assert.equal(trie.remove(DEEP_PLUS_FILTER, 'deep'), -1);
          };
          check();

          [...model.entries()].forEach(([id, e], i) => {
            if (removeMask[i] !== true) return;
            assert.equal(trie.remove(e.filter, e.key), e.value);
            assert.equal(trie.remove(e.filter, e.key), undefined);
            model.delete(id);
          });
          check();

          for (const [id, e] of model) {
            assert.equal(trie.remove(e.filter, e.key), e.value);
            model.delete(id);
          }
          assert.equal(trie.size, 0);
          assert.equal(trie.filterCount, 0);
          assert.equal(trie.nodeCount, 0);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('TopicIndex.match agrees with topicMatches, before and after deletions; deletion prunes', () => {
    fc.assert(
      fc.property(
        fc.array(topicArb, { minLength: 1, maxLength: 30 }),
        fc.array(filterArb, { minLength: 1, maxLength: 10 }),
        fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
        (topics, filters, deleteMask) => {
          const index = new TopicIndex<number>();
          const model = new Map<string, number>();
          topics.forEach((topic, value) => {
            assert.equal(index.set(topic, value), !model.has(topic));
            model.set(topic, value);
          });

          const check = (): void => {
            assert.equal(index.size, model.size);
            for (const filter of filters) {
              const expected = [...model.keys()].filter((t) => topicMatches(filter, t)).sort();
              const actual: string[] = [];
              index.match(filter, (t, v) => {
                assert.equal(v, model.get(t));
                actual.push(t);
              });
              assert.deepEqual(actual.sort(), expected, `filter ${JSON.stringify(filter)}`);
            }
          };
          check();

          [...model.keys()].forEach((topic, i) => {
            if (deleteMask[i] !== true) return;
            assert.equal(index.delete(topic), true);
            assert.equal(index.delete(topic), false);
            model.delete(topic);
          });
          check();

          for (const topic of [...model.keys()]) {
            assert.equal(index.delete(topic), true);
            model.delete(topic);
          }
          assert.equal(index.size, 0);
          assert.equal(index.nodeCount, 0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
