// Shared subscriptions, `$share/{ShareName}/{filter}` (MQTT 5.0 section 4.8.2; accepted
// from 3.1 and 3.1.1 clients too, as mosquitto and EMQX do).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReasonCode, SUBACK_FAILURE } from '../../src/protocol/reason-codes.js';
import { PacketType, type DisconnectPacket, type ProtocolVersion, type PublishPacket, type QoS } from '../../src/protocol/types.js';
import type { BrokerFixture } from '../helpers/broker-fixture.js';
import type { TestClient, TestClientOptions } from '../helpers/mqtt-test-client.js';
import {
  assertNothingDelivered,
  brokerFor,
  connected,
  type ConnectFields,
  nextPublishes,
  pendingPublishes,
  settle,
  subscribeWith,
  takePublishes,
  text,
} from './pubsub-support.js';

/** A connected client that has joined `filter` (a `$share/...` one) at `qos`. */
async function member(
  fx: BrokerFixture,
  filter: string,
  qos: QoS = 1,
  options: TestClientOptions = {},
  fields: ConnectFields = {},
): Promise<TestClient> {
  const c = await connected(fx, { version: 5, ...options }, fields);
  const suback = await c.subscribe(filter, qos);
  assert.deepEqual(suback.reasonCodes, [qos], `SUBACK for ${filter}`);
  return c;
}

/** Publishes `count` messages `${prefix}0..` on `topic` at `qos`, each acknowledged (so routed). */
async function publishMany(pub: TestClient, topic: string, count: number, qos: QoS = 1, prefix = 'm'): Promise<string[]> {
  const sent: string[] = [];
  for (let i = 0; i < count; i++) {
    const payload = `${prefix}${i}`;
    await pub.publish(topic, payload, qos);
    sent.push(payload);
  }
  return sent;
}

function payloads(packets: PublishPacket[]): string[] {
  return packets.map(text);
}

function sorted(list: string[]): string[] {
  return [...list].sort();
}

describe('Shared subscriptions: distribution (section 4.8.2)', () => {
  test('each message goes to exactly one member of the group, none lost or duplicated', async (t) => {
    const fx = brokerFor(t);
    const members = [await member(fx, '$share/g/sh/a'), await member(fx, '$share/g/sh/a'), await member(fx, '$share/g/sh/a')];
    const pub = await connected(fx);
    const sent = await publishMany(pub, 'sh/a', 12);
    await settle([pub], members);
    const got = members.flatMap((m) => payloads(takePublishes(m)));
    assert.deepEqual(sorted(got), sorted(sent));
  });

  test('round robin over online members: 30 messages over 3 members -> 10 each', async (t) => {
    const fx = brokerFor(t);
    const members = [await member(fx, '$share/rr/sh/rr/#'), await member(fx, '$share/rr/sh/rr/#'), await member(fx, '$share/rr/sh/rr/#')];
    const pub = await connected(fx);
    const sent = await publishMany(pub, 'sh/rr/x', 30);
    await settle([pub], members);
    const perMember = members.map((m) => payloads(takePublishes(m)));
    assert.deepEqual(perMember.map((p) => p.length), [10, 10, 10]);
    assert.deepEqual(sorted(perMember.flat()), sorted(sent));
  });

  test('two groups on the same filter each get every message', async (t) => {
    const fx = brokerFor(t);
    const g1 = [await member(fx, '$share/one/sh/two'), await member(fx, '$share/one/sh/two')];
    const g2 = [await member(fx, '$share/two/sh/two'), await member(fx, '$share/two/sh/two')];
    const pub = await connected(fx);
    const sent = await publishMany(pub, 'sh/two', 6);
    await settle([pub], [...g1, ...g2]);
    assert.deepEqual(sorted(g1.flatMap((m) => payloads(takePublishes(m)))), sorted(sent), 'group one');
    assert.deepEqual(sorted(g2.flatMap((m) => payloads(takePublishes(m)))), sorted(sent), 'group two');
  });

  test('a member with a matching plain subscription gets the message both ways, each with its own subscription identifier', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx, { version: 5 });
    assert.deepEqual((await subscribeWith(c, [{ topicFilter: '$share/g/sh/both', qos: 1 }], { subscriptionIdentifiers: [7] })).reasonCodes, [1]);
    assert.deepEqual((await subscribeWith(c, [{ topicFilter: 'sh/both', qos: 0 }], { subscriptionIdentifiers: [8] })).reasonCodes, [0]);
    const pub = await connected(fx);
    await pub.publish('sh/both', 'x', 1);
    const got = await nextPublishes(c, 2);
    const byId = new Map(got.map((p) => [p.properties?.subscriptionIdentifiers?.[0], p]));
    assert.equal(byId.get(7)?.qos, 1, 'through the shared subscription, at its granted QoS');
    assert.equal(byId.get(8)?.qos, 0, 'through the plain subscription, at its granted QoS');
    await assertNothingDelivered(c);
  });

  test('each member gets the message at its own granted QoS [MQTT-4.8.2-3]', async (t) => {
    const fx = brokerFor(t);
    const q0 = await member(fx, '$share/g/sh/qos', 0);
    const q2 = await member(fx, '$share/g/sh/qos', 2);
    const pub = await connected(fx);
    await publishMany(pub, 'sh/qos', 4, 2);
    await settle([pub], [q0, q2]);
    const low = takePublishes(q0);
    const high = takePublishes(q2);
    assert.equal(low.length + high.length, 4);
    assert.ok(low.length > 0 && high.length > 0, 'both members were chosen');
    assert.ok(low.every((p) => p.qos === 0), 'QoS 0 member gets QoS 0');
    assert.ok(high.every((p) => p.qos === 2), 'QoS 2 member gets QoS 2');
  });

  test('no retained messages are sent for a shared subscription (section 3.8.4)', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx);
    await pub.publish('sh/ret', 'kept', 1, true);
    const c = await member(fx, '$share/g/sh/ret');
    await assertNothingDelivered(c, 'no retained message on a shared SUBSCRIBE');
    // the same filter without $share does get it
    await c.subscribe('sh/ret', 1);
    const retained = await c.nextPublish();
    assert.equal(text(retained), 'kept');
    assert.equal(retained.retain, true);
  });

  test('an offline persistent member is not chosen while another member is online', async (t) => {
    const fx = brokerFor(t);
    const away = await member(fx, '$share/g/sh/away', 1, {}, { clientId: 'sh-away', cleanStart: true, properties: { sessionExpiryInterval: 300 } });
    const here = await member(fx, '$share/g/sh/away');
    away.disconnect();
    await away.closedWithin();
    const pub = await connected(fx);
    const sent = await publishMany(pub, 'sh/away', 4);
    await settle([pub], [here]);
    assert.deepEqual(payloads(takePublishes(here)), sent);
    const back = fx.client({ version: 5 });
    const connack = await back.connect({ clientId: 'sh-away', cleanStart: false, properties: { sessionExpiryInterval: 300 } });
    assert.equal(connack.sessionPresent, true);
    await assertNothingDelivered(back, 'nothing was queued for the offline member');
  });
});

describe('Shared subscriptions: members that leave (section 4.8.2)', () => {
  test('unacknowledged QoS 1 of a member whose session ends goes to the other members', async (t) => {
    const fx = brokerFor(t);
    const silent = await member(fx, '$share/g/sh/leave', 1, { autoAck: false });
    const other = await member(fx, '$share/g/sh/leave');
    const pub = await connected(fx);
    const sent = await publishMany(pub, 'sh/leave', 6);
    await settle([pub], [silent, other]);
    const held = payloads(takePublishes(silent));
    assert.equal(held.length, 3, 'round robin gave the silent member its share');
    const first = payloads(takePublishes(other));
    silent.destroy(); // clean start, no session expiry: the session ends with the connection
    const redistributed = payloads(await nextPublishes(other, held.length));
    assert.deepEqual(sorted(redistributed), sorted(held));
    assert.deepEqual(sorted([...first, ...redistributed]), sorted(sent));
    await assertNothingDelivered(other);
  });

  test('a persistent member that goes offline hands its unacknowledged QoS 1 to an online member', async (t) => {
    const fx = brokerFor(t);
    const persistent = { clientId: 'sh-off', cleanStart: true, properties: { sessionExpiryInterval: 300 } };
    const silent = await member(fx, '$share/g/sh/off', 1, { autoAck: false }, persistent);
    const other = await member(fx, '$share/g/sh/off');
    const pub = await connected(fx);
    await publishMany(pub, 'sh/off', 4);
    await settle([pub], [silent, other]);
    const held = payloads(takePublishes(silent));
    assert.equal(held.length, 2);
    takePublishes(other);
    silent.destroy();
    assert.deepEqual(sorted(payloads(await nextPublishes(other, 2))), sorted(held));
    // back on its session, the member is not sent them again
    const back = fx.client({ version: 5 });
    assert.equal((await back.connect({ ...persistent, cleanStart: false })).sessionPresent, true);
    await assertNothingDelivered(back, 'the handed-over messages are not resent to the original member');
  });

  test('QoS 2 already sent stays with its session and is completed on reconnect [MQTT-4.8.2-4]', async (t) => {
    const fx = brokerFor(t);
    const persistent = { clientId: 'sh-q2', cleanStart: true, properties: { sessionExpiryInterval: 300 } };
    const silent = await member(fx, '$share/g/sh/q2', 2, { autoAck: false }, persistent);
    const other = await member(fx, '$share/g/sh/q2', 2);
    const pub = await connected(fx);
    await publishMany(pub, 'sh/q2', 2, 2);
    await settle([pub], [silent, other]);
    const held = takePublishes(silent);
    assert.equal(held.length, 1);
    takePublishes(other);
    silent.destroy();
    await assertNothingDelivered(other, 'a QoS 2 message in flight is not given to another member');
    const back = fx.client({ version: 5 });
    assert.equal((await back.connect({ ...persistent, cleanStart: false })).sessionPresent, true);
    const again = await back.nextPublish();
    assert.equal(text(again), text(held[0] as PublishPacket));
    assert.equal(again.dup, true);
  });

  test('a QoS 2 message in flight to a member whose session ends goes to nobody else [MQTT-4.8.2-5]', async (t) => {
    const fx = brokerFor(t);
    const silent = await member(fx, '$share/g/sh/q2end', 2, { autoAck: false });
    const other = await member(fx, '$share/g/sh/q2end', 2);
    const pub = await connected(fx);
    await publishMany(pub, 'sh/q2end', 2, 2);
    await settle([pub], [silent, other]);
    assert.equal(takePublishes(silent).length, 1);
    takePublishes(other);
    silent.destroy();
    await silent.closedWithin();
    await assertNothingDelivered(other);
  });

  test('a refused message (PUBACK >= 0x80) is not sent to another member [MQTT-4.8.2-6]', async (t) => {
    const fx = brokerFor(t);
    const refuser = await member(fx, '$share/g/sh/nack', 1, { autoAck: false });
    const other = await member(fx, '$share/g/sh/nack');
    const pub = await connected(fx);
    await publishMany(pub, 'sh/nack', 2);
    await settle([pub], [refuser, other]);
    const [refused] = takePublishes(refuser);
    assert.ok(refused !== undefined);
    takePublishes(other);
    refuser.send({ type: PacketType.PUBACK, packetId: refused.packetId as number, reasonCode: ReasonCode.UNSPECIFIED_ERROR });
    await refuser.barrier();
    refuser.destroy();
    await refuser.closedWithin();
    await assertNothingDelivered(other, 'the refused message is discarded');
  });

  test('with no member online, QoS 1/2 is queued for a persistent member and delivered on reconnect; QoS 0 is dropped', async (t) => {
    const fx = brokerFor(t);
    const persistent = { clientId: 'sh-last', cleanStart: true, properties: { sessionExpiryInterval: 300 } };
    const keeper = await member(fx, '$share/g/sh/last', 1, {}, persistent);
    keeper.disconnect();
    await keeper.closedWithin();
    const last = await member(fx, '$share/g/sh/last', 1, { autoAck: false });
    const pub = await connected(fx);
    const first = await publishMany(pub, 'sh/last', 3, 1, 'a');
    await settle([pub], [last]);
    assert.deepEqual(payloads(takePublishes(last)), first, 'the only online member gets them all');
    last.destroy(); // its session ends with 3 unacknowledged: they go to the offline member's queue
    await last.closedWithin();
    const later = await publishMany(pub, 'sh/last', 2, 1, 'b');
    await pub.publish('sh/last', 'dropped-qos0', 0);
    await pub.barrier();
    const back = fx.client({ version: 5 });
    assert.equal((await back.connect({ ...persistent, cleanStart: false })).sessionPresent, true);
    const got = payloads(await nextPublishes(back, 5));
    assert.deepEqual(sorted(got), sorted([...first, ...later]));
    await assertNothingDelivered(back, 'the QoS 0 message was not queued');
  });
});

describe('Shared subscriptions: SUBSCRIBE and UNSUBSCRIBE', () => {
  const invalid = ['$share//sh/x', '$share/a+b/sh/x', '$share/a#/sh/x', '$share/g', '$share/g/', '$share', '$share/g/sh/#/x'];

  test('v5: an invalid shared subscription gets 0x8F Topic Filter invalid [MQTT-4.8.2-1] [MQTT-4.8.2-2]', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx, { version: 5 });
    const suback = await c.subscribe([...invalid.map((topicFilter) => ({ topicFilter, qos: 1 as QoS })), { topicFilter: '$share/ok/sh/x', qos: 1 }]);
    assert.deepEqual(suback.reasonCodes, [...invalid.map(() => ReasonCode.TOPIC_FILTER_INVALID), 1]);
  });

  test('3.1.1: an invalid shared subscription gets 0x80 [MQTT-4.8.2-1] [MQTT-4.8.2-2]', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx, { version: 4 });
    const suback = await c.subscribe([...invalid.map((topicFilter) => ({ topicFilter, qos: 1 as QoS })), { topicFilter: '$share/ok/sh/x', qos: 1 }]);
    assert.deepEqual(suback.reasonCodes, [...invalid.map(() => SUBACK_FAILURE), 1]);
  });

  test('v5: No Local on a shared subscription is a Protocol Error: DISCONNECT 0x82 [MQTT-3.8.3-4]', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx, { version: 5 });
    c.send({
      type: PacketType.SUBSCRIBE,
      packetId: c.nextPacketId(),
      subscriptions: [{ topicFilter: '$share/g/sh/nl', qos: 1, noLocal: true, retainAsPublished: false, retainHandling: 0 }],
    });
    const disconnect = await c.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
    assert.equal(disconnect.reasonCode, ReasonCode.PROTOCOL_ERROR);
    await c.closedWithin();
    assert.equal(c.received.some((p) => p.type === PacketType.SUBACK), false, 'no SUBACK');
  });

  for (const version of [4, 3] as ProtocolVersion[]) {
    test(`MQTT ${version === 4 ? '3.1.1' : '3.1'}: $share/... is a shared subscription too`, async (t) => {
      const fx = brokerFor(t);
      const members = [await member(fx, '$share/g/sh/v3', 1, { version }), await member(fx, '$share/g/sh/v3', 1, { version })];
      const pub = await connected(fx, { version });
      const sent = await publishMany(pub, 'sh/v3', 6);
      await settle([pub], members);
      const perMember = members.map((m) => payloads(takePublishes(m)));
      assert.deepEqual(perMember.map((p) => p.length), [3, 3]);
      assert.deepEqual(sorted(perMember.flat()), sorted(sent));
    });
  }

  test('UNSUBSCRIBE $share/g/f leaves the group; the group goes with its last member [MQTT-3.10.4-1]', async (t) => {
    const fx = brokerFor(t);
    const a = await member(fx, '$share/g/sh/un');
    const b = await member(fx, '$share/g/sh/un');
    const unsuback = await a.unsubscribe('$share/g/sh/un');
    assert.deepEqual(unsuback.reasonCodes, [ReasonCode.SUCCESS]);
    assert.deepEqual((await a.unsubscribe('$share/g/sh/un')).reasonCodes, [ReasonCode.NO_SUBSCRIPTION_EXISTED]);
    const pub = await connected(fx);
    const sent = await publishMany(pub, 'sh/un', 4);
    await settle([pub], [a, b]);
    assert.deepEqual(pendingPublishes(a), [], 'the member that left gets nothing');
    assert.deepEqual(payloads(takePublishes(b)), sent, 'the remaining member gets everything');
    assert.deepEqual((await b.unsubscribe('$share/g/sh/un')).reasonCodes, [ReasonCode.SUCCESS]);
    await publishMany(pub, 'sh/un', 2, 1, 'after');
    await assertNothingDelivered(a);
    await assertNothingDelivered(b);
    // a new member starts a fresh group and gets the next message
    const c = await member(fx, '$share/g/sh/un');
    await pub.publish('sh/un', 'fresh', 1);
    assert.equal(text(await c.nextPublish()), 'fresh');
  });

  test('re-subscribing replaces the member options (granted QoS) without adding a second membership', async (t) => {
    const fx = brokerFor(t);
    const a = await member(fx, '$share/g/sh/re', 0);
    assert.deepEqual((await a.subscribe('$share/g/sh/re', 1)).reasonCodes, [1]);
    const pub = await connected(fx);
    await publishMany(pub, 'sh/re', 2);
    await settle([pub], [a]);
    const got = takePublishes(a);
    assert.deepEqual(got.map((p) => p.qos), [1, 1], 'one copy each, at the new QoS');
  });
});
