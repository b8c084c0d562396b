// SUBSCRIBE / UNSUBSCRIBE conformance (MQTT 3.1.1 sections 3.8-3.11; MQTT 5.0 subscription
// options, subscription identifiers and reason codes where Culex implements them).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReasonCode, SUBACK_FAILURE } from '../../src/protocol/reason-codes.js';
import { PacketType, type SubackPacket, type UnsubackPacket } from '../../src/protocol/types.js';
import {
  DenyPrefixAuthorizer,
  assertNothingDelivered,
  brokerFor,
  connected,
  nextPublishes,
  settle,
  subscribeWith,
  subscriber,
  text,
} from './pubsub-support.js';

describe('SUBSCRIBE and SUBACK', () => {
  test('SUBACK carries the packet id of the SUBSCRIBE [MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-2.3.1-7]', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx);
    for (const packetId of [1, 513, 65535]) {
      c.send({ type: PacketType.SUBSCRIBE, packetId, subscriptions: [{ topicFilter: `s/${packetId}`, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
      const suback = await c.nextOfType<SubackPacket>(PacketType.SUBACK);
      assert.equal(suback.packetId, packetId);
      assert.deepEqual(suback.reasonCodes, [1]);
    }
  });

  test('one return code per topic filter, in request order, granting the requested QoS [MQTT-3.8.4-5] [MQTT-3.9.3-1]', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx);
    const suback = await c.subscribe([
      { topicFilter: 'a/2', qos: 2 },
      { topicFilter: 'a/0', qos: 0 },
      { topicFilter: 'a/1', qos: 1 },
      { topicFilter: 'a/#', qos: 0 },
    ]);
    assert.deepEqual(suback.reasonCodes, [2, 0, 1, 0]);
  });

  test('each filter of a multi-filter SUBSCRIBE is in force, as if subscribed separately [MQTT-3.8.4-4]', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx);
    await c.subscribe([
      { topicFilter: 'm/one', qos: 1 },
      { topicFilter: 'm/two', qos: 2 },
    ]);
    const pub = await connected(fx);
    await pub.publish('m/one', '1', 2);
    await pub.publish('m/two', '2', 2);
    const [a, b] = await nextPublishes(c, 2);
    assert.deepEqual([a?.topic, a?.qos, b?.topic, b?.qos], ['m/one', 1, 'm/two', 2]);
  });

  for (const bad of ['a/#/b', 'a+', 'a/b#', '', '#/', 'x/+y']) {
    test(`invalid filter ${JSON.stringify(bad)}: SUBACK 0x80 for it, the other filters still granted [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.3-1] [MQTT-3.9.3-2]`, async (t) => {
      const fx = brokerFor(t);
      const c = await connected(fx);
      const suback = await c.subscribe([
        { topicFilter: 'ok/one', qos: 1 },
        { topicFilter: bad, qos: 1 },
        { topicFilter: 'ok/two', qos: 2 },
      ]);
      assert.deepEqual(suback.reasonCodes, [1, SUBACK_FAILURE, 2]);
      const pub = await connected(fx);
      await pub.publish('ok/one', 'x', 1);
      await pub.publish('ok/two', 'y', 1);
      assert.deepEqual((await nextPublishes(c, 2)).map((p) => p.topic), ['ok/one', 'ok/two']);
    });
  }

  test('v5: an invalid filter gets 0x8F Topic Filter invalid, the others are granted', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx, { version: 5 });
    const suback = await c.subscribe([
      { topicFilter: 'a/#/b', qos: 1 },
      { topicFilter: 'ok', qos: 1 },
      { topicFilter: 'a+', qos: 0 },
    ]);
    assert.deepEqual(suback.reasonCodes, [ReasonCode.TOPIC_FILTER_INVALID, 1, ReasonCode.TOPIC_FILTER_INVALID]);
  });

  test('a new SUBSCRIBE to the same filter replaces the subscription: new QoS, no duplicate delivery [MQTT-3.8.4-3]', async (t) => {
    const fx = brokerFor(t);
    const c = await subscriber(fx, 're/sub', 0);
    assert.deepEqual((await c.subscribe('re/sub', 2)).reasonCodes, [2]);
    const pub = await connected(fx);
    await pub.publish('re/sub', 'x', 2);
    const got = await c.nextPublish();
    assert.equal(got.qos, 2, 'the replacing subscription\'s QoS');
    await assertNothingDelivered(c, 'exactly one copy');
    assert.deepEqual((await c.subscribe('re/sub', 1)).reasonCodes, [1]);
    await pub.publish('re/sub', 'y', 2);
    assert.equal((await c.nextPublish()).qos, 1, 'downgraded by the later SUBSCRIBE');
    await assertNothingDelivered(c, 'exactly one copy');
  });

  test('3.1.1: an unauthorized filter gets 0x80, the others are granted', async (t) => {
    const fx = brokerFor(t, { authorizer: new DenyPrefixAuthorizer('never/', 'private/') });
    const c = await connected(fx);
    const suback = await c.subscribe([
      { topicFilter: 'private/x', qos: 1 },
      { topicFilter: 'public/x', qos: 1 },
    ]);
    assert.deepEqual(suback.reasonCodes, [SUBACK_FAILURE, 1]);
    const pub = await connected(fx);
    await pub.publish('private/x', 'secret', 1);
    await pub.publish('public/x', 'hello', 1);
    assert.equal((await c.nextPublish()).topic, 'public/x');
    await assertNothingDelivered(c);
  });

  test('v5: an unauthorized filter gets 0x87 Not authorized', async (t) => {
    const fx = brokerFor(t, { authorizer: new DenyPrefixAuthorizer('never/', 'private/') });
    const c = await connected(fx, { version: 5 });
    const suback = await c.subscribe([
      { topicFilter: 'public/x', qos: 2 },
      { topicFilter: 'private/#', qos: 0 },
    ]);
    assert.deepEqual(suback.reasonCodes, [2, ReasonCode.NOT_AUTHORIZED]);
  });

  test('v5: a shared subscription ($share/...) is granted beside a plain one; each delivers (section 4.8.2)', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx, { version: 5 });
    const suback = await c.subscribe([
      { topicFilter: '$share/group/a/b', qos: 1 },
      { topicFilter: 'a/b', qos: 1 },
    ]);
    assert.deepEqual(suback.reasonCodes, [1, 1]);
    const pub = await connected(fx);
    await pub.publish('a/b', 'x', 1);
    assert.equal((await c.nextPublish()).topic, 'a/b');
    assert.equal((await c.nextPublish()).topic, 'a/b');
    await assertNothingDelivered(c, 'one copy per subscription: the shared one and the plain one');
  });
});

describe('Malformed SUBSCRIBE / UNSUBSCRIBE close the connection', () => {
  const cases: [name: string, bytes: number[]][] = [
    // 0x82 len id=1 filter "a" QoS 3
    ['SUBSCRIBE requesting QoS 3 [MQTT-3.8.3-4]', [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x03]],
    ['SUBSCRIBE with reserved option bits set (3.1.1) [MQTT-3.8.3-4]', [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x41]],
    ['SUBSCRIBE with fixed header flags 0000 [MQTT-3.8.1-1]', [0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00]],
    ['SUBSCRIBE without any topic filter [MQTT-3.8.3-3]', [0x82, 0x02, 0x00, 0x01]],
    ['UNSUBSCRIBE with fixed header flags 0000 [MQTT-3.10.1-1]', [0xa0, 0x05, 0x00, 0x01, 0x00, 0x01, 0x61]],
    ['UNSUBSCRIBE without any topic filter [MQTT-3.10.3-2]', [0xa2, 0x02, 0x00, 0x01]],
  ];
  for (const [name, bytes] of cases) {
    test(name, async (t) => {
      const fx = brokerFor(t);
      const c = await connected(fx);
      c.sendRaw(bytes);
      await c.closedWithin();
      assert.equal(c.received.filter((p) => p.type === PacketType.SUBACK || p.type === PacketType.UNSUBACK).length, 0);
    });
  }
});

describe('UNSUBSCRIBE and UNSUBACK', () => {
  test('UNSUBACK carries the packet id of the UNSUBSCRIBE; no more deliveries afterwards [MQTT-3.10.4-2] [MQTT-3.10.4-4] [MQTT-3.10.4-5]', async (t) => {
    const fx = brokerFor(t);
    const c = await subscriber(fx, 'u/x', 1);
    const pub = await connected(fx);
    await pub.publish('u/x', 'before', 1);
    assert.equal(text(await c.nextPublish()), 'before');
    c.send({ type: PacketType.UNSUBSCRIBE, packetId: 4321, topicFilters: ['u/x'] });
    const unsuback = await c.nextOfType<UnsubackPacket>(PacketType.UNSUBACK);
    assert.equal(unsuback.packetId, 4321);
    assert.deepEqual(unsuback.reasonCodes, [], '3.1.1 UNSUBACK has no payload');
    await pub.publish('u/x', 'after', 1);
    await settle([pub], [c]);
    await assertNothingDelivered(c);
  });

  test('UNSUBSCRIBE of a filter never subscribed still gets UNSUBACK [MQTT-3.10.4-5]', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx);
    const unsuback = await c.unsubscribe('never/subscribed');
    assert.deepEqual(unsuback.reasonCodes, []);
    assert.equal(c.closed, false);
  });

  test('filters are compared character by character: unsubscribing "u/+" leaves "u/a" in force [MQTT-3.10.4-1]', async (t) => {
    const fx = brokerFor(t);
    const c = await subscriber(fx, 'u/a', 1);
    await c.unsubscribe('u/+');
    await c.unsubscribe('u/#');
    const pub = await connected(fx);
    await pub.publish('u/a', 'still', 1);
    assert.equal(text(await c.nextPublish()), 'still');
  });

  test('a multi-filter UNSUBSCRIBE removes each filter [MQTT-3.10.4-6]', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx);
    await c.subscribe([
      { topicFilter: 'v/1', qos: 0 },
      { topicFilter: 'v/2', qos: 0 },
      { topicFilter: 'v/3', qos: 0 },
    ]);
    await c.unsubscribe('v/1', 'v/3');
    const pub = await connected(fx);
    for (const topic of ['v/1', 'v/2', 'v/3']) await pub.publish(topic, topic, 1);
    assert.equal((await c.nextPublish()).topic, 'v/2');
    await assertNothingDelivered(c);
  });

  test('v5: UNSUBACK has 0x00 for a removed subscription and 0x11 No subscription existed, in order', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx, { version: 5 });
    await c.subscribe('w/a', 1);
    const unsuback = await c.unsubscribe('w/none', 'w/a', 'w/a');
    assert.deepEqual(unsuback.reasonCodes, [ReasonCode.NO_SUBSCRIPTION_EXISTED, ReasonCode.SUCCESS, ReasonCode.NO_SUBSCRIPTION_EXISTED]);
  });
});

describe('v5 subscription options', () => {
  test('No Local: a client\'s own messages are not sent back to it [MQTT-3.8.3-3]', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx, { version: 5 });
    const other = await connected(fx, { version: 5 });
    await c.subscribe([{ topicFilter: 'nl/#', qos: 1, noLocal: true }]);
    await other.subscribe([{ topicFilter: 'nl/#', qos: 1, noLocal: true }]);
    await c.publish('nl/x', 'mine', 1);
    assert.equal(text(await other.nextPublish()), 'mine', 'others still receive it');
    await assertNothingDelivered(c, 'No Local');
    await other.publish('nl/x', 'theirs', 1);
    assert.equal(text(await c.nextPublish()), 'theirs');
  });

  test('No Local applies per subscription: an overlapping subscription without it still delivers one copy', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx, { version: 5 });
    await c.subscribe([
      { topicFilter: 'nl2/#', qos: 1, noLocal: true },
      { topicFilter: 'nl2/x', qos: 0, noLocal: false },
    ]);
    await c.publish('nl2/x', 'mine', 1);
    const got = await c.nextPublish();
    assert.deepEqual([text(got), got.qos], ['mine', 0], 'only the subscription without No Local matches');
    await assertNothingDelivered(c);
  });

  test('without No Local a v5 client receives its own messages', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx, { version: 5 });
    await c.subscribe([{ topicFilter: 'nl/x', qos: 1, noLocal: false }]);
    await c.publish('nl/x', 'echo', 1);
    assert.equal(text(await c.nextPublish()), 'echo');
  });

  test('Retain As Published 1 keeps RETAIN of the forwarded message; 0 clears it [MQTT-3.3.1-12] [MQTT-3.3.1-13] (5.0)', async (t) => {
    const fx = brokerFor(t);
    const rap = await connected(fx, { version: 5 });
    await rap.subscribe([{ topicFilter: 'rap/x', qos: 1, retainAsPublished: true }]);
    const plain = await connected(fx, { version: 5 });
    await plain.subscribe([{ topicFilter: 'rap/x', qos: 1, retainAsPublished: false }]);
    const pub = await connected(fx, { version: 5 });
    await pub.publish('rap/x', 'retained', 1, true);
    await pub.publish('rap/x', 'not retained', 1, false);
    const [r1, r2] = await nextPublishes(rap, 2);
    assert.deepEqual([r1?.retain, r2?.retain], [true, false]);
    const [p1, p2] = await nextPublishes(plain, 2);
    assert.deepEqual([p1?.retain, p2?.retain], [false, false]);
  });

  test('retained messages sent on SUBSCRIBE have RETAIN 1 even with Retain As Published 0 (5.0 section 3.3.1.3)', async (t) => {
    const fx = brokerFor(t);
    fx.broker.publish({ topic: 'rap/r', payload: 'kept', qos: 1, retain: true });
    const c = await connected(fx, { version: 5 });
    await c.subscribe([{ topicFilter: 'rap/r', qos: 1, retainAsPublished: false }]);
    assert.equal((await c.nextPublish()).retain, true);
  });

  test('Retain Handling 0 sends retained messages on every SUBSCRIBE [MQTT-3.3.1-9] (5.0)', async (t) => {
    const fx = brokerFor(t);
    fx.broker.publish({ topic: 'rh/0', payload: 'kept', qos: 1, retain: true });
    const c = await connected(fx, { version: 5 });
    for (let i = 0; i < 2; i++) {
      await c.subscribe([{ topicFilter: 'rh/0', qos: 1, retainHandling: 0 }]);
      const got = await c.nextPublish();
      assert.deepEqual([text(got), got.retain], ['kept', true]);
    }
  });

  test('Retain Handling 1 sends retained messages only when the subscription is new [MQTT-3.3.1-10] (5.0)', async (t) => {
    const fx = brokerFor(t);
    fx.broker.publish({ topic: 'rh/1', payload: 'kept', qos: 1, retain: true });
    const c = await connected(fx, { version: 5 });
    await c.subscribe([{ topicFilter: 'rh/1', qos: 1, retainHandling: 1 }]);
    assert.equal(text(await c.nextPublish()), 'kept');
    await c.subscribe([{ topicFilter: 'rh/1', qos: 1, retainHandling: 1 }]);
    await assertNothingDelivered(c, 'subscription existed: no retained');
    await c.unsubscribe('rh/1');
    await c.subscribe([{ topicFilter: 'rh/1', qos: 1, retainHandling: 1 }]);
    assert.equal(text(await c.nextPublish()), 'kept', 'new again after UNSUBSCRIBE');
  });

  test('Retain Handling 2 never sends retained messages, yet the subscription works [MQTT-3.3.1-11] (5.0)', async (t) => {
    const fx = brokerFor(t);
    fx.broker.publish({ topic: 'rh/2', payload: 'kept', qos: 1, retain: true });
    const c = await connected(fx, { version: 5 });
    await c.subscribe([{ topicFilter: 'rh/2', qos: 1, retainHandling: 2 }]);
    await assertNothingDelivered(c);
    fx.broker.publish({ topic: 'rh/2', payload: 'live', qos: 1 });
    assert.equal(text(await c.nextPublish()), 'live');
  });

  test('a Subscription Identifier is delivered with matching publishes [MQTT-3.3.4-3] (5.0)', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx, { version: 5 });
    const suback = await subscribeWith(c, [{ topicFilter: 'sid/+', qos: 1 }], { subscriptionIdentifiers: [42] });
    assert.deepEqual(suback.reasonCodes, [1]);
    await subscribeWith(c, [{ topicFilter: 'other', qos: 1 }], {});
    const pub = await connected(fx, { version: 5 });
    await pub.publish('sid/x', 'a', 1);
    await pub.publish('other', 'b', 0);
    const [a, b] = await nextPublishes(c, 2);
    assert.deepEqual(a?.properties?.subscriptionIdentifiers, [42]);
    assert.equal(b?.properties?.subscriptionIdentifiers, undefined, 'no id for a subscription made without one');
  });

  test('a Subscription Identifier travels with retained messages sent on SUBSCRIBE (5.0)', async (t) => {
    const fx = brokerFor(t);
    fx.broker.publish({ topic: 'sid/r', payload: 'kept', qos: 0, retain: true });
    const c = await connected(fx, { version: 5 });
    await subscribeWith(c, [{ topicFilter: 'sid/#', qos: 1 }], { subscriptionIdentifiers: [7] });
    const got = await c.nextPublish();
    assert.equal(got.retain, true);
    assert.deepEqual(got.properties?.subscriptionIdentifiers, [7]);
  });

  test('overlapping subscriptions with different ids: one PUBLISH carrying every matching id [MQTT-3.3.4-3] [MQTT-3.3.4-4] (5.0)', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx, { version: 5 });
    await subscribeWith(c, [{ topicFilter: 'ov/+/c', qos: 0 }], { subscriptionIdentifiers: [1] });
    await subscribeWith(c, [{ topicFilter: 'ov/#', qos: 2 }], { subscriptionIdentifiers: [2] });
    await subscribeWith(c, [{ topicFilter: 'ov/b/c', qos: 1 }], { subscriptionIdentifiers: [300] });
    await subscribeWith(c, [{ topicFilter: 'ov/b/+', qos: 0 }], {});
    const pub = await connected(fx, { version: 5 });
    await pub.publish('ov/b/c', 'x', 2);
    const got = await c.nextPublish();
    assert.equal(got.qos, 2);
    assert.deepEqual([...(got.properties?.subscriptionIdentifiers ?? [])].sort((x, y) => x - y), [1, 2, 300]);
    await assertNothingDelivered(c, 'a single copy');
    await pub.publish('ov/z', 'y', 1);
    assert.deepEqual((await c.nextPublish()).properties?.subscriptionIdentifiers, [2]);
  });

  test('re-subscribing without an identifier removes the id from later deliveries (5.0)', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx, { version: 5 });
    await subscribeWith(c, [{ topicFilter: 'sid2/x', qos: 1 }], { subscriptionIdentifiers: [9] });
    await subscribeWith(c, [{ topicFilter: 'sid2/x', qos: 1 }], {});
    fx.broker.publish({ topic: 'sid2/x', payload: 'p', qos: 1 });
    const got = await c.nextPublish();
    assert.equal(got.properties?.subscriptionIdentifiers, undefined);
  });
});
