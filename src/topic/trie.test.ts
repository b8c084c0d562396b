// TopicTrie: the API around matching (matching itself: match.test.ts, match-property.test.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicValidationError } from './errors.js';
import { TopicTrie } from './trie.js';

function collect<T>(trie: TopicTrie<T>, topic: string): T[] {
  const out: T[] = [];
  trie.match(topic, (v) => out.push(v));
  return out;
}

const sorted = (xs: string[]): string[] => [...xs].sort();

describe('TopicTrie', () => {
  test('add reports new entries, replaces existing ones, and counts entries and filters', () => {
    const trie = new TopicTrie<number>();
    assert.equal(trie.add('a/b', 'c1', 1), true);
    assert.equal(trie.add('a/b', 'c2', 2), true);
    assert.equal(trie.add('a/b', 'c1', 3), false);
    assert.equal(trie.add('a/+', 'c1', 4), true);
    assert.equal(trie.get('a/b', 'c1'), 3);
    assert.equal(trie.get('a/b', 'c2'), 2);
    assert.equal(trie.get('a/+', 'c1'), 4);
    assert.equal(trie.get('a/+', 'c2'), undefined);
    assert.equal(trie.get('a', 'c1'), undefined);
    assert.equal(trie.size, 3);
    assert.equal(trie.filterCount, 2);
    assert.equal(trie.hasFilter('a/b'), true);
    assert.equal(trie.hasFilter('a'), false);
  });

  test('[MQTT-4.7.1-2] [MQTT-4.7.1-3] add rejects an invalid filter with a typed error', () => {
    const trie = new TopicTrie<number>();
    for (const bad of ['', 'a/#/b', 'a+', 'sport/tennis#', 'a\u0000']) {
      assert.throws(() => trie.add(bad, 'k', 1), TopicValidationError, JSON.stringify(bad));
    }
    assert.equal(trie.size, 0);
    assert.equal(trie.nodeCount, 0);
  });

  test('every filter matching a topic is visited, once per (filter, key)', () => {
    const trie = new TopicTrie<string>();
    trie.add('sport/tennis/player1', 'exact', 'exact');
    trie.add('sport/tennis/+', 'plus', 'plus');
    trie.add('sport/#', 'hash', 'hash');
    trie.add('#', 'all', 'all');
    trie.add('+/+/+', 'three', 'three');
    trie.add('sport/golf/+', 'golf', 'golf');
    trie.add('sport/#', 'hash2', 'hash2');
    assert.deepEqual(sorted(collect(trie, 'sport/tennis/player1')), ['all', 'exact', 'hash', 'hash2', 'plus', 'three']);
    assert.deepEqual(sorted(collect(trie, 'sport')), ['all', 'hash', 'hash2']);
    assert.deepEqual(sorted(collect(trie, 'news')), ['all']);
  });

  test('one key under two overlapping filters is visited twice (the broker merges)', () => {
    const trie = new TopicTrie<string>();
    trie.add('a/+', 'c1', 'via plus');
    trie.add('a/#', 'c1', 'via hash');
    assert.deepEqual(sorted(collect(trie, 'a/b')), ['via hash', 'via plus']);
  });

  test('[MQTT-4.7.2-1] "$" topics: only filters spelling the first level match', () => {
    const trie = new TopicTrie<string>();
    for (const f of ['#', '+/#', '+/monitor/Clients', '$SYS/#', '$SYS/monitor/+']) trie.add(f, 'k', f);
    assert.deepEqual(sorted(collect(trie, '$SYS/monitor/Clients')), ['$SYS/#', '$SYS/monitor/+']);
    assert.deepEqual(sorted(collect(trie, 'x/monitor/Clients')), ['#', '+/#', '+/monitor/Clients']);
  });

  test('remove returns the value, prunes empty nodes and leaves siblings alone', () => {
    const trie = new TopicTrie<number>();
    trie.add('a/b/c', 'k1', 1);
    trie.add('a/b/c', 'k2', 2);
    trie.add('a/+/#', 'k1', 3);
    trie.add('a', 'k1', 4);
    const nodes = trie.nodeCount;
    assert.equal(trie.remove('a/b/c', 'k1'), 1);
    assert.equal(trie.remove('a/b/c', 'k1'), undefined);
    assert.equal(trie.nodeCount, nodes, 'k2 still holds a/b/c');
    assert.equal(trie.remove('a/b/c', 'k2'), 2);
    assert.equal(trie.get('a/b/c', 'k2'), undefined);
    assert.deepEqual(collect(trie, 'a/b/c'), [3]);
    assert.equal(trie.remove('a/+/#', 'k1'), 3);
    assert.equal(trie.nodeCount, 1, 'only "a" is left');
    assert.deepEqual(collect(trie, 'a'), [4]);
    assert.equal(trie.remove('a', 'k1'), 4);
    assert.equal(trie.size, 0);
    assert.equal(trie.filterCount, 0);
    assert.equal(trie.nodeCount, 0);
  });

  test('remove of an unknown filter or key changes nothing', () => {
    const trie = new TopicTrie<number>();
    trie.add('a/b', 'k', 1);
    assert.equal(trie.remove('a', 'k'), undefined);
    assert.equal(trie.remove('a/b/c', 'k'), undefined);
    assert.equal(trie.remove('a/b', 'other'), undefined);
    assert.equal(trie.remove('a/#/b', 'k'), undefined);
    assert.equal(trie.size, 1);
    assert.equal(trie.nodeCount, 2);
  });

  test('a stored undefined value is still an entry', () => {
    const trie = new TopicTrie<undefined>();
    assert.equal(trie.add('a', 'k', undefined), true);
    assert.equal(trie.add('a', 'k', undefined), false);
    let visits = 0;
    trie.match('a', () => visits++);
    assert.equal(visits, 1);
    assert.equal(trie.remove('a', 'k'), undefined);
    assert.equal(trie.size, 0);
    assert.equal(trie.nodeCount, 0);
  });

  test('match may be re-entered from a visit callback', () => {
    const trie = new TopicTrie<string>();
    trie.add('a/+', 'k', 'outer');
    trie.add('b/#', 'k', 'inner');
    const seen: string[] = [];
    trie.match('a/x', (v) => {
      seen.push(v);
      trie.match('b/y/z', (w) => seen.push(w));
    });
    assert.deepEqual(seen, ['outer', 'inner']);
  });

  test('a throwing visit callback leaves the trie usable', () => {
    const trie = new TopicTrie<number>();
    trie.add('a/+', 'k', 1);
    trie.add('a/#', 'k', 2);
    assert.throws(() =>
      trie.match('a/b', () => {
        throw new Error('boom');
      }),
    );
    assert.deepEqual(collect(trie, 'a/b').sort(), [1, 2]);
  });

  test('entries removed by a visit callback during match do not break it', () => {
    const trie = new TopicTrie<string>();
    for (const k of ['k1', 'k2', 'k3']) trie.add('a/b', k, k);
    trie.add('a/+', 'k1', 'plus');
    const seen: string[] = [];
    trie.match('a/b', (v) => {
      seen.push(v);
      trie.remove('a/b', 'k1');
      trie.remove('a/b', 'k2');
      trie.remove('a/b', 'k3');
      trie.remove('a/+', 'k1');
    });
    assert.ok(seen.length >= 1);
    assert.equal(trie.size, 0);
    assert.equal(trie.nodeCount, 0);
  });

  test('filters of 65536 empty levels are added, matched and removed without recursion', () => {
    const trie = new TopicTrie<string>();
    const deep = '/'.repeat(65535);
    trie.add(deep, 'k', 'deep');
    trie.add(`${'/'.repeat(65533)}#`, 'k', 'deep-hash');
    trie.add('#', 'k', 'all');
    assert.deepEqual(sorted(collect(trie, deep)), ['all', 'deep', 'deep-hash']);
    assert.equal(trie.remove(deep, 'k'), 'deep');
    assert.equal(trie.remove(`${'/'.repeat(65533)}#`, 'k'), 'deep-hash');
    assert.equal(trie.nodeCount, 1);
  });

  test('a filter of 32768 "+" levels switches match to the non-recursive walk, and back', () => {
    const trie = new TopicTrie<string>();
    const deepPlus = `+${'/+'.repeat(32767)}`;
    const deepTopic = `a${'/a'.repeat(32767)}`;
    for (const f of ['a/+', 'a/#', '+/+', '#', '$SYS/#', 'a/b']) trie.add(f, 'k', f);
    const before = sorted(collect(trie, 'a/b'));
    trie.add(deepPlus, 'k', 'deep');
    assert.deepEqual(sorted(collect(trie, deepTopic)), ['#', 'a/#', 'deep']);
    assert.deepEqual(sorted(collect(trie, 'a/b')), before);
    assert.deepEqual(sorted(collect(trie, '$SYS/x')), ['$SYS/#']);
    assert.deepEqual(sorted(collect(trie, 'a')), ['#', 'a/#']);
    assert.equal(trie.remove(deepPlus, 'k'), 'deep');
    assert.deepEqual(sorted(collect(trie, 'a/b')), before);
    for (const f of ['a/+', 'a/#', '+/+', '#', '$SYS/#', 'a/b']) trie.remove(f, 'k');
    assert.equal(trie.nodeCount, 0);
  });

  test('match on an empty trie visits nothing', () => {
    const trie = new TopicTrie<number>();
    assert.deepEqual(collect(trie, 'a'), []);
  });
});
