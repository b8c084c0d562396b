// The topic table in a real Culex broker over TCP: forbidden topics with deny_action
// 'disconnect' (the offender is disconnected, v5 with DISCONNECT 0x87, while other clients
// carry on) and 'ignore' (3.1.1: SUBACK 0x80, a PUBLISH silently dropped; v5: 0x87 in
// SUBACK and PUBACK), parameters in patterns, and shared subscriptions (authorized on the
// filter they share).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBroker, type CulexBroker } from '../../app/create-broker.js';
import { ReasonCode, SUBACK_FAILURE } from '../../protocol/reason-codes.js';
import { PacketType, type AckPacket, type DisconnectPacket, type ProtocolVersion, type PublishPacket } from '../../protocol/types.js';
import { TestClient, tcpTestClient } from '../../../test/helpers/mqtt-test-client.js';
import { TopicRules, type DenyAction } from './topic-rules.js';

const RULES = [
  { pattern: 'devices/(:id)/meta/(:name)', publish: true, subscribe: false },
  { pattern: 'devices/(:id)/meta/#', publish: false, subscribe: true },
  { pattern: 'status/#', publish: true, subscribe: true },
];

function brokerWith(denyAction: DenyAction): { start(): Promise<void>; client(version: ProtocolVersion): Promise<TestClient>; stop(): Promise<void> } {
  let broker: CulexBroker | undefined;
  let port = 0;
  const clients: TestClient[] = [];
  return {
    async start() {
      broker = createBroker({ sysInterval: 0, authorizer: new TopicRules({ deny_action: denyAction, rules: RULES }) });
      port = (await broker.listen(0, '127.0.0.1')).port;
    },
    async client(version) {
      const c = await tcpTestClient(port, { version });
      clients.push(c);
      const connack = await c.connect();
      assert.equal(connack.reasonCode, 0);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await broker?.close();
    },
  };
}

/** A client subscribed to `status/#` that publishes and receives its own message: unaffected by others. */
async function assertBystanderWorks(bystander: TestClient, payload: string): Promise<void> {
  await bystander.publish('status/bystander', payload, 1);
  const got = await bystander.next<PublishPacket>((p) => p.type === PacketType.PUBLISH && p.payload.toString() === payload);
  assert.equal(got.topic, 'status/bystander');
}

describe('topic table in a broker: deny_action disconnect', () => {
  const env = brokerWith('disconnect');
  before(() => env.start());
  after(() => env.stop());

  test('allowed topics flow: a parameter pattern to publish, a covering pattern to subscribe', async () => {
    const sub = await env.client(5);
    const suback = await sub.subscribe('devices/+/meta/#', 1);
    assert.deepEqual(suback.reasonCodes, [1]);
    const pub = await env.client(4);
    await pub.publish('devices/d1/meta/color', 'red', 1);
    const msg = await sub.nextPublish();
    assert.deepEqual([msg.topic, msg.payload.toString()], ['devices/d1/meta/color', 'red']);
  });

  test('v5 PUBLISH to a forbidden topic: DISCONNECT 0x87 and the socket closes; a bystander carries on', async () => {
    const bystander = await env.client(5);
    await bystander.subscribe('status/#', 1);
    await assertBystanderWorks(bystander, 'before');
    const offender = await env.client(5);
    offender.send({ type: PacketType.PUBLISH, topic: 'devices/d1/other', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, packetId: 1 });
    const disconnect = await offender.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
    assert.equal(disconnect.reasonCode, ReasonCode.NOT_AUTHORIZED);
    await offender.closedWithin();
    assert.equal(offender.received.some((p) => p.type === PacketType.PUBACK), false, 'no PUBACK for the refused PUBLISH');
    await assertBystanderWorks(bystander, 'after');
  });

  test('an empty parameter value is not a match: devices//meta/x is forbidden', async () => {
    const offender = await env.client(5);
    offender.send({ type: PacketType.PUBLISH, topic: 'devices//meta/x', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    const disconnect = await offender.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
    assert.equal(disconnect.reasonCode, ReasonCode.NOT_AUTHORIZED);
  });

  test('v3.1.1 PUBLISH to a forbidden topic: the socket closes (3.1.1 has no DISCONNECT from the server)', async () => {
    const bystander = await env.client(4);
    await bystander.subscribe('status/#', 1);
    const offender = await env.client(4);
    offender.send({ type: PacketType.PUBLISH, topic: 'forbidden', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    await offender.closedWithin();
    assert.equal(offender.received.some((p) => p.type === PacketType.DISCONNECT), false);
    await assertBystanderWorks(bystander, 'v3 after');
  });

  test('SUBSCRIBE to a filter no subscribe rule covers: v5 DISCONNECT 0x87, v3.1.1 closed', async () => {
    const v5 = await env.client(5);
    v5.send({
      type: PacketType.SUBSCRIBE,
      packetId: 1,
      subscriptions: [{ topicFilter: 'devices/#', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }],
    });
    const disconnect = await v5.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
    assert.equal(disconnect.reasonCode, ReasonCode.NOT_AUTHORIZED);
    await v5.closedWithin();
    const v4 = await env.client(4);
    v4.send({
      type: PacketType.SUBSCRIBE,
      packetId: 1,
      subscriptions: [{ topicFilter: 'devices/+/config', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }],
    });
    await v4.closedWithin();
    assert.equal(v4.received.some((p) => p.type === PacketType.SUBACK), false);
  });
});

describe('topic table in a broker: deny_action ignore', () => {
  const env = brokerWith('ignore');
  before(() => env.start());
  after(() => env.stop());

  test('v3.1.1: SUBACK 0x80 for a forbidden filter next to a granted one; the connection stays', async () => {
    const c = await env.client(4);
    const suback = await c.subscribe([{ topicFilter: 'status/#', qos: 1 }, { topicFilter: 'devices/#', qos: 1 }]);
    assert.deepEqual(suback.reasonCodes, [1, SUBACK_FAILURE]);
    await c.barrier();
    assert.equal(c.closed, false);
  });

  test('v3.1.1: a forbidden PUBLISH is dropped silently (QoS 1 still gets its PUBACK), the connection stays', async () => {
    const watcher = await env.client(5);
    await watcher.subscribe('status/#', 1);
    await watcher.subscribe('devices/+/meta/#', 1);
    const c = await env.client(4);
    await c.publish('status/x', 'ok', 1);
    // both would match the watcher's devices/+/meta/#, but no publish rule allows them
    await c.publish('devices/d1/meta/x/y', 'dropped-1', 1);
    c.send({ type: PacketType.PUBLISH, topic: 'devices/d1/meta', payload: Buffer.from('dropped-0'), qos: 0, retain: false, dup: false });
    await c.publish('status/y', 'after', 1);
    const got = await watcher.next<PublishPacket>((p) => p.type === PacketType.PUBLISH && p.topic === 'status/y');
    assert.equal(got.payload.toString(), 'after');
    await watcher.barrier();
    const payloads = watcher.received.filter((p): p is PublishPacket => p.type === PacketType.PUBLISH).map((p) => p.payload.toString());
    assert.deepEqual(payloads, ['ok', 'after']);
    assert.equal(c.closed, false);
  });

  test('v5: SUBACK 0x87 and PUBACK 0x87 for forbidden topics; the connection stays', async () => {
    const c = await env.client(5);
    const suback = await c.subscribe([{ topicFilter: 'devices/d1/meta/+', qos: 1 }, { topicFilter: 'devices/+/config', qos: 1 }]);
    assert.deepEqual(suback.reasonCodes, [1, ReasonCode.NOT_AUTHORIZED]);
    c.send({ type: PacketType.PUBLISH, topic: 'devices/d1/meta/x/y', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, packetId: 7 });
    const puback = await c.next<AckPacket>((p) => p.type === PacketType.PUBACK && p.packetId === 7);
    assert.equal(puback.reasonCode, ReasonCode.NOT_AUTHORIZED);
    await c.barrier();
    assert.equal(c.closed, false);
  });

  test('shared subscriptions are authorized on the filter they share', async () => {
    const c = await env.client(5);
    const suback = await c.subscribe([{ topicFilter: '$share/g/status/#', qos: 0 }, { topicFilter: '$share/g/devices/#', qos: 0 }]);
    assert.deepEqual(suback.reasonCodes, [0, ReasonCode.NOT_AUTHORIZED]);
  });
});
