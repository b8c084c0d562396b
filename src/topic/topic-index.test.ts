// TopicIndex: the API around matching (matching itself: match.test.ts, match-property.test.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicValidationError } from './errors.js';
import { TopicIndex } from './topic-index.js';

function topics<T>(index: TopicIndex<T>, filter: string): string[] {
  const out: string[] = [];
  index.match(filter, (topic) => out.push(topic));
  return out.sort();
}

describe('TopicIndex', () => {
  test('set reports new topics, replaces values, and get/has/size follow', () => {
    const index = new TopicIndex<string>();
    assert.equal(index.set('a/b', 'one'), true);
    assert.equal(index.set('a/b', 'two'), false);
    assert.equal(index.set('a', 'three'), true);
    assert.equal(index.get('a/b'), 'two');
    assert.equal(index.get('a'), 'three');
    assert.equal(index.get('a/c'), undefined);
    assert.equal(index.has('a/b'), true);
    assert.equal(index.has('a/c'), false);
    assert.equal(index.size, 2);
  });

  test('[MQTT-4.7.1-1] [MQTT-4.7.3-1] set rejects an invalid topic name with a typed error', () => {
    const index = new TopicIndex<number>();
    for (const bad of ['', 'a/+', '#', 'a\u0000']) {
      assert.throws(() => index.set(bad, 1), TopicValidationError, JSON.stringify(bad));
    }
    assert.equal(index.size, 0);
    assert.equal(index.nodeCount, 0);
  });

  test('match passes the stored topic and value', () => {
    const index = new TopicIndex<number>();
    index.set('sport/tennis/player1', 1);
    index.set('sport/tennis/player2', 2);
    const seen: Array<[string, number]> = [];
    index.match('sport/tennis/+', (t, v) => seen.push([t, v]));
    assert.deepEqual(
      seen.sort((x, y) => x[1] - y[1]),
      [
        ['sport/tennis/player1', 1],
        ['sport/tennis/player2', 2],
      ],
    );
  });

  test('a filter without wildcards is a direct lookup', () => {
    const index = new TopicIndex<number>();
    index.set('a/b', 1);
    index.set('$SYS/uptime', 2);
    assert.deepEqual(topics(index, 'a/b'), ['a/b']);
    assert.deepEqual(topics(index, '$SYS/uptime'), ['$SYS/uptime']);
    assert.deepEqual(topics(index, 'a'), []);
  });

  test('[MQTT-4.7.2-1] retained "$" topics are found only by filters spelling the first level', () => {
    const index = new TopicIndex<number>();
    for (const t of ['$SYS/broker/uptime', '$SYS/monitor/Clients', 'sys/monitor/Clients', '$', 'a/$b']) index.set(t, 0);
    assert.deepEqual(topics(index, '#'), ['a/$b', 'sys/monitor/Clients']);
    assert.deepEqual(topics(index, '+/monitor/Clients'), ['sys/monitor/Clients']);
    assert.deepEqual(topics(index, '$SYS/#'), ['$SYS/broker/uptime', '$SYS/monitor/Clients']);
    assert.deepEqual(topics(index, '$SYS/+/Clients'), ['$SYS/monitor/Clients']);
    assert.deepEqual(topics(index, '+'), []);
    assert.deepEqual(topics(index, '+/+'), ['a/$b']);
  });

  test('[MQTT-4.7.1-2] "#" matches the parent level and everything below', () => {
    const index = new TopicIndex<number>();
    for (const t of ['sport', 'sport/', 'sport/tennis', 'sport/tennis/player1', 'sports']) index.set(t, 0);
    assert.deepEqual(topics(index, 'sport/#'), ['sport', 'sport/', 'sport/tennis', 'sport/tennis/player1']);
  });

  test('delete returns whether the topic existed and prunes empty nodes', () => {
    const index = new TopicIndex<number>();
    index.set('a/b/c', 1);
    index.set('a/b', 2);
    index.set('a/x', 3);
    assert.equal(index.nodeCount, 4);
    assert.equal(index.delete('a/b/c'), true);
    assert.equal(index.delete('a/b/c'), false);
    assert.equal(index.delete('a'), false, 'an interior node is not an entry');
    assert.equal(index.nodeCount, 3);
    assert.equal(index.delete('a/b'), true);
    assert.equal(index.nodeCount, 2);
    assert.deepEqual(topics(index, '#'), ['a/x']);
    assert.equal(index.delete('a/x'), true);
    assert.equal(index.size, 0);
    assert.equal(index.nodeCount, 0);
    assert.deepEqual(topics(index, '#'), []);
  });

  test('an interior node that is also an entry survives the deletion of its children', () => {
    const index = new TopicIndex<number>();
    index.set('a', 1);
    index.set('a/b', 2);
    index.delete('a/b');
    assert.deepEqual(topics(index, 'a/#'), ['a']);
    assert.equal(index.nodeCount, 1);
  });

  test('entries and clear', () => {
    const index = new TopicIndex<number>();
    index.set('x', 1);
    index.set('y/z', 2);
    assert.deepEqual([...index.entries()], [
      ['x', 1],
      ['y/z', 2],
    ]);
    index.clear();
    assert.equal(index.size, 0);
    assert.equal(index.nodeCount, 0);
    assert.deepEqual(topics(index, '#'), []);
    index.set('x', 3);
    assert.deepEqual(topics(index, '+'), ['x']);
  });

  test('deleting from a visit callback does not break the match', () => {
    const index = new TopicIndex<number>();
    for (const t of ['a/1', 'a/2', 'a/3/4']) index.set(t, 0);
    const seen: string[] = [];
    index.match('a/#', (t) => {
      seen.push(t);
      for (const u of ['a/1', 'a/2', 'a/3/4']) index.delete(u);
    });
    assert.ok(seen.length >= 1);
    assert.equal(index.size, 0);
    assert.equal(index.nodeCount, 0);
  });

  test('topics of 65536 empty levels are stored and matched without recursion', () => {
    const index = new TopicIndex<string>();
    const deep = '/'.repeat(65535);
    index.set(deep, 'deep');
    assert.deepEqual(topics(index, '#'), [deep]);
    assert.deepEqual(topics(index, `${'/'.repeat(65533)}#`), [deep]);
    assert.deepEqual(topics(index, `+${'/+'.repeat(32767)}`), []);
    assert.equal(index.delete(deep), true);
    assert.equal(index.nodeCount, 0);
  });
});
