// Routing (MQTT 3.1.1 sections 3.3.5, 4.6, 4.7): overlapping subscriptions, wildcard
// semantics end to end, fan-out, publishers subscribed to their own topics, ordering.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketType } from '../../src/protocol/types.js';
import type { TestClient } from '../helpers/mqtt-test-client.js';
import {
  assertNothingDelivered,
  brokerFor,
  connected,
  nextPublishes,
  pendingPublishes,
  settle,
  subscriber,
  text,
} from './pubsub-support.js';

describe('Overlapping subscriptions', () => {
  test('a client with several matching subscriptions gets one copy at the highest granted QoS [MQTT-3.3.5-1]', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx);
    await c.subscribe([
      { topicFilter: 'ov/+', qos: 0 },
      { topicFilter: 'ov/#', qos: 2 },
      { topicFilter: 'ov/x', qos: 1 },
      { topicFilter: '#', qos: 0 },
    ]);
    const pub = await connected(fx);
    await pub.publish('ov/x', 'once', 2);
    const got = await c.nextPublish();
    assert.deepEqual([text(got), got.qos], ['once', 2]);
    await assertNothingDelivered(c, 'one delivery for overlapping subscriptions');
  });

  test('the copy is capped by the published QoS, whatever the subscriptions grant [MQTT-3.3.5-1] [MQTT-3.8.4-6]', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx);
    await c.subscribe([
      { topicFilter: 'cap/+', qos: 2 },
      { topicFilter: 'cap/#', qos: 1 },
    ]);
    const pub = await connected(fx);
    await pub.publish('cap/x', 'q1', 1);
    assert.equal((await c.nextPublish()).qos, 1);
    await assertNothingDelivered(c);
  });

  test('overlapping subscriptions of different clients: each client gets its own copy at its own QoS', async (t) => {
    const fx = brokerFor(t);
    const a = await subscriber(fx, 'multi/+', 0);
    const b = await subscriber(fx, 'multi/#', 1);
    const c = await subscriber(fx, 'multi/x', 2);
    const pub = await connected(fx);
    await pub.publish('multi/x', 'm', 2);
    const qos = [];
    for (const s of [a, b, c]) {
      qos.push((await s.nextPublish()).qos);
      await assertNothingDelivered(s);
    }
    assert.deepEqual(qos, [0, 1, 2]);
  });
});

describe('Wildcards end to end [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.2-1]', () => {
  const topics = [
    'sport',
    'sport/',
    'sport/tennis',
    'sport/tennis/player1',
    'sport/tennis/player1/ranking',
    'sport/tennis/player2',
    'sport/golf/player1',
    '/',
    '/finance',
    'finance',
    'a/b/c/d',
    'a//d',
    '$SYS/broker/load',
    '$other',
  ];
  const cases: [filter: string, matches: string[]][] = [
    ['sport/tennis/player1/#', ['sport/tennis/player1', 'sport/tennis/player1/ranking']],
    ['sport/#', ['sport', 'sport/', 'sport/tennis', 'sport/tennis/player1', 'sport/tennis/player1/ranking', 'sport/tennis/player2', 'sport/golf/player1']],
    ['sport/tennis/+', ['sport/tennis/player1', 'sport/tennis/player2']],
    ['sport/+', ['sport/', 'sport/tennis']],
    ['+/tennis/#', ['sport/tennis', 'sport/tennis/player1', 'sport/tennis/player1/ranking', 'sport/tennis/player2']],
    ['+/+', ['sport/', 'sport/tennis', '/', '/finance']],
    ['/+', ['/', '/finance']],
    ['+', ['sport', 'finance']],
    ['#', topics.filter((x) => !x.startsWith('$'))],
    ['+/+/+/+', ['sport/tennis/player1/ranking', 'a/b/c/d']],
    ['a/+/c/#', ['a/b/c/d']],
    ['a/+/d', ['a//d']],
    ['a/#', ['a/b/c/d', 'a//d']],
    ['$SYS/#', ['$SYS/broker/load']],
    ['+/broker/#', []],
    ['$other', ['$other']],
    ['sport/tennis', ['sport/tennis']],
  ];

  test('each filter receives exactly the topics it matches (`$` topics only via `$` filters)', async (t) => {
    const fx = brokerFor(t);
    const subs: [filter: string, expected: string[], client: TestClient][] = [];
    for (const [filter, expected] of cases) subs.push([filter, expected, await subscriber(fx, filter, 1)]);
    const pub = await connected(fx);
    for (const topic of topics) await pub.publish(topic, topic, 1);
    await settle([pub], subs.map(([, , c]) => c));
    for (const [filter, expected, client] of subs) {
      const got = pendingPublishes(client).map((p) => p.topic);
      assert.deepEqual(got, topics.filter((x) => expected.includes(x)), `filter ${filter}`);
      for (const p of pendingPublishes(client)) assert.equal(text(p), p.topic);
    }
  });

  test('`sport/#` also matches the parent level `sport` [MQTT-4.7.1-2]', async (t) => {
    const fx = brokerFor(t);
    const sub = await subscriber(fx, 'sport/#', 0);
    const pub = await connected(fx);
    await pub.publish('sport', 'parent', 1);
    assert.equal((await sub.nextPublish()).topic, 'sport');
  });

  test('`+/+` matches `/` (two empty levels) and `+` does not [MQTT-4.7.1-3]', async (t) => {
    const fx = brokerFor(t);
    const two = await subscriber(fx, '+/+', 0);
    const one = await subscriber(fx, '+', 0);
    const pub = await connected(fx);
    await pub.publish('/', 'slash', 1);
    assert.equal((await two.nextPublish()).topic, '/');
    await assertNothingDelivered(one);
  });

  test('a `$` topic published live reaches `$app/#` but not `#` or `+/...` [MQTT-4.7.2-1]', async (t) => {
    const fx = brokerFor(t);
    const hash = await subscriber(fx, '#', 0);
    const plus = await subscriber(fx, '+/x', 0);
    const dollar = await subscriber(fx, '$app/#', 0);
    fx.broker.publish({ topic: '$app/x', payload: 'd' });
    assert.equal((await dollar.nextPublish()).topic, '$app/x');
    await assertNothingDelivered(hash);
    await assertNothingDelivered(plus);
  });
});

describe('Fan-out', () => {
  test('every one of many subscribers receives the message once', async (t) => {
    const fx = brokerFor(t);
    const subs: TestClient[] = [];
    for (let i = 0; i < 60; i++) subs.push(await subscriber(fx, i % 3 === 0 ? 'fan/#' : 'fan/out', (i % 3) as 0 | 1 | 2));
    const pub = await connected(fx);
    await pub.publish('fan/out', 'to all', 2);
    await pub.publish('fan/out', 'and again', 0);
    for (const [i, sub] of subs.entries()) {
      const [a, b] = await nextPublishes(sub, 2);
      assert.deepEqual([text(a!), a?.qos, text(b!), b?.qos], ['to all', i % 3, 'and again', 0], `subscriber ${i}`);
      await assertNothingDelivered(sub);
    }
  });

  test('a subscriber leaving does not disturb the others', async (t) => {
    const fx = brokerFor(t);
    const stay = await subscriber(fx, 'leave/x', 1);
    const leave = await subscriber(fx, 'leave/x', 1);
    leave.destroy();
    await leave.closedWithin();
    const pub = await connected(fx);
    await pub.publish('leave/x', 'still delivered', 1);
    assert.equal(text(await stay.nextPublish()), 'still delivered');
  });
});

describe('Publisher and subscriber', () => {
  test('3.1.1: a client subscribed to its own topic receives its own messages (no No Local in 3.1.1)', async (t) => {
    const fx = brokerFor(t);
    const c = await subscriber(fx, 'self/#', 2);
    await c.publish('self/echo', 'q0', 0);
    await c.publish('self/echo', 'q1', 1);
    await c.publish('self/echo', 'q2', 2);
    const got = await nextPublishes(c, 3);
    assert.deepEqual(got.map((p) => [text(p), p.qos]), [['q0', 0], ['q1', 1], ['q2', 2]]);
  });

  test('messages from one publisher arrive in order at each subscriber (QoS 0 and QoS 1) [MQTT-4.6.0-5] [MQTT-4.6.0-6]', async (t) => {
    const fx = brokerFor(t);
    const subs = [await subscriber(fx, 'seq/q0', 0), await subscriber(fx, 'seq/+', 1), await subscriber(fx, '#', 2)];
    const pub = await connected(fx);
    const count = 100;
    for (let i = 0; i < count; i++) {
      pub.send({ type: PacketType.PUBLISH, topic: 'seq/q0', payload: Buffer.from(String(i)), qos: 0, retain: false, dup: false });
    }
    for (let i = 0; i < count; i++) {
      pub.send({ type: PacketType.PUBLISH, topic: 'seq/q1', payload: Buffer.from(String(i)), qos: 1, packetId: i + 1, retain: false, dup: false });
    }
    await settle([pub], []);
    const expected = Array.from({ length: count }, (_, i) => String(i));
    const [q0only, both, all] = subs as [TestClient, TestClient, TestClient];
    assert.deepEqual((await nextPublishes(q0only, count)).map(text), expected);
    for (const sub of [both, all]) {
      const got = await nextPublishes(sub, 2 * count);
      assert.deepEqual(got.filter((p) => p.topic === 'seq/q0').map(text), expected, 'QoS 0 stream in order');
      assert.deepEqual(got.filter((p) => p.topic === 'seq/q1').map(text), expected, 'QoS 1 stream in order');
    }
  });

  test('messages from several publishers each arrive in their publisher\'s order', async (t) => {
    const fx = brokerFor(t);
    const sub = await subscriber(fx, 'many/#', 1);
    const pubs = [await connected(fx), await connected(fx), await connected(fx)];
    const count = 30;
    for (let i = 0; i < count; i++) {
      for (const [n, pub] of pubs.entries()) {
        pub.send({ type: PacketType.PUBLISH, topic: `many/${n}`, payload: Buffer.from(`${n}:${i}`), qos: 1, packetId: i + 1, retain: false, dup: false });
      }
    }
    const got = await nextPublishes(sub, count * pubs.length);
    for (let n = 0; n < pubs.length; n++) {
      assert.deepEqual(
        got.filter((p) => p.topic === `many/${n}`).map(text),
        Array.from({ length: count }, (_, i) => `${n}:${i}`),
        `publisher ${n}`,
      );
    }
  });
});
