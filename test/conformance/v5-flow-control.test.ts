// Conformance: MQTT 5.0 flow control (section 4.9, Receive Maximum both ways) and Maximum
// Packet Size both ways (sections 3.1.2.11.4, 3.2.2.3.6).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePacket } from '../../src/protocol/index.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { PacketType, type AckPacket, type DisconnectPacket, type PublishPacket, type QoS } from '../../src/protocol/types.js';
import type { BrokerFixture } from '../helpers/broker-fixture.js';
import type { TestClient } from '../helpers/mqtt-test-client.js';
import { uniqueId } from './lifecycle-support.js';
import { assertNothingDelivered, brokerFor, connected, nextPublishes, pendingPublishes, takePublishes, text } from './pubsub-support.js';

/** A v5 subscriber that holds its acks, with the given Receive Maximum. */
async function holdingSubscriber(fx: BrokerFixture, filter: string, qos: QoS, receiveMaximum: number): Promise<TestClient> {
  const sub = fx.client({ version: 5, autoAck: false });
  const connack = await sub.connect({ properties: { receiveMaximum } });
  assert.equal(connack.reasonCode, 0);
  await sub.subscribe(filter, qos);
  return sub;
}

async function publishMany(fx: BrokerFixture, topic: string, count: number, qos: QoS): Promise<void> {
  const pub = await connected(fx, { version: 5 });
  for (let i = 1; i <= count; i++) await pub.publish(topic, `m${i}`, qos);
}

function ack(client: TestClient, type: AckPacket['type'], packetId: number, reasonCode = 0): void {
  client.send({ type, packetId, reasonCode });
}

describe('v5 flow control: the client\'s Receive Maximum (section 4.9)', () => {
  test('[MQTT-3.3.4-9] Receive Maximum 3, 6 QoS 1 messages: exactly 3 unacknowledged at a time; each PUBACK lets exactly one more through', async (t) => {
    const fx = brokerFor(t);
    const sub = await holdingSubscriber(fx, 'fc/q1', 1, 3);
    await publishMany(fx, 'fc/q1', 6, 1);
    await sub.barrier();
    let inflight = takePublishes(sub);
    assert.deepEqual(inflight.map(text), ['m1', 'm2', 'm3']);
    ack(sub, PacketType.PUBACK, inflight[0]?.packetId as number);
    await sub.barrier();
    const next = takePublishes(sub);
    assert.deepEqual(next.map(text), ['m4'], 'one PUBACK, one more PUBLISH');
    inflight = [...inflight.slice(1), ...next];
    for (const p of inflight) ack(sub, PacketType.PUBACK, p.packetId as number);
    const rest = await nextPublishes(sub, 2);
    assert.deepEqual(rest.map(text), ['m5', 'm6']);
    await assertNothingDelivered(sub);
  });

  test('[MQTT-3.3.4-9] QoS 2 counts until PUBCOMP: a PUBREC alone does not free the slot (Receive Maximum 2)', async (t) => {
    const fx = brokerFor(t);
    const sub = await holdingSubscriber(fx, 'fc/q2', 2, 2);
    await publishMany(fx, 'fc/q2', 4, 2);
    await sub.barrier();
    const first = takePublishes(sub);
    assert.deepEqual(first.map(text), ['m1', 'm2']);
    const id1 = first[0]?.packetId as number;
    ack(sub, PacketType.PUBREC, id1);
    const pubrel = await sub.next((p) => p.type === PacketType.PUBREL);
    assert.equal((pubrel as AckPacket).packetId, id1);
    await assertNothingDelivered(sub, 'still 2 unacknowledged until PUBCOMP');
    ack(sub, PacketType.PUBCOMP, id1);
    assert.deepEqual((await nextPublishes(sub, 1)).map(text), ['m3']);
    await assertNothingDelivered(sub);
  });

  test('[MQTT-3.3.4-9] a PUBREC with a Reason Code of 0x80 or more ends the QoS 2 flow and frees the slot', async (t) => {
    const fx = brokerFor(t);
    const sub = await holdingSubscriber(fx, 'fc/refuse', 2, 1);
    await publishMany(fx, 'fc/refuse', 2, 2);
    const first = await sub.nextPublish();
    await assertNothingDelivered(sub);
    ack(sub, PacketType.PUBREC, first.packetId as number, ReasonCode.UNSPECIFIED_ERROR);
    assert.equal(text(await sub.nextPublish()), 'm2');
  });

  test('[MQTT-3.3.4-10] with the window full, other packets are not held back: SUBACK and PINGRESP still come', async (t) => {
    const fx = brokerFor(t);
    const sub = await holdingSubscriber(fx, 'fc/other', 1, 1);
    await publishMany(fx, 'fc/other', 3, 1);
    await sub.barrier();
    assert.equal(pendingPublishes(sub).length, 1);
    const suback = await sub.subscribe('fc/other2', 1);
    assert.deepEqual(suback.reasonCodes, [1]);
  });

  test('QoS 0 is not limited by Receive Maximum: with the window of 1 full, QoS 0 messages still flow', async (t) => {
    const fx = brokerFor(t);
    const sub = await holdingSubscriber(fx, 'fc/q0', 1, 1);
    const pub = await connected(fx, { version: 5 });
    await pub.publish('fc/q0', 'held', 1);
    await pub.publish('fc/q0', 'waits', 1);
    for (const n of [1, 2, 3]) await pub.publish('fc/q0', `zero ${n}`, 0);
    await sub.barrier();
    assert.deepEqual(takePublishes(sub).map(text), ['held', 'zero 1', 'zero 2', 'zero 3']);
  });

  test('the window applies again after a reconnect: unacknowledged messages are resent first, then the queue waits for acks', async (t) => {
    const fx = brokerFor(t);
    const id = uniqueId('fc-reconn');
    const first = fx.client({ version: 5, autoAck: false });
    await first.connect({ clientId: id, properties: { sessionExpiryInterval: 300, receiveMaximum: 2 } });
    await first.subscribe('fc/reconn', 1);
    await publishMany(fx, 'fc/reconn', 4, 1);
    await first.barrier();
    assert.equal(pendingPublishes(first).length, 2);
    first.destroy();
    await first.closedWithin();
    const second = fx.client({ version: 5, autoAck: false });
    const connack = await second.connect({ clientId: id, cleanStart: false, properties: { sessionExpiryInterval: 0, receiveMaximum: 2 } });
    assert.equal(connack.sessionPresent, true);
    await second.barrier();
    const resent = takePublishes(second);
    assert.deepEqual(resent.map(text), ['m1', 'm2']);
    for (const p of resent) assert.equal(p.dup, true, '[MQTT-3.3.1-1] redelivery has DUP set');
    ack(second, PacketType.PUBACK, resent[0]?.packetId as number);
    await second.barrier();
    assert.deepEqual(takePublishes(second).map(text), ['m3']);
  });
});

describe('v5 flow control: the server\'s Receive Maximum (max_inflight_messages)', () => {
  test('CONNACK announces Receive Maximum = max_inflight_messages', async (t) => {
    const fx = brokerFor(t, { maxInflightMessages: 2 });
    const c = fx.client({ version: 5 });
    assert.equal((await c.connect()).properties?.receiveMaximum, 2);
  });

  test('[MQTT-3.3.4-7] a client with more unreleased QoS 2 PUBLISH than the server\'s Receive Maximum gets DISCONNECT 0x93', async (t) => {
    const fx = brokerFor(t, { maxInflightMessages: 2 });
    const c = await connected(fx, { version: 5 });
    for (const packetId of [1, 2, 3]) {
      c.send({ type: PacketType.PUBLISH, topic: 'fc/in', payload: Buffer.from(`p${packetId}`), qos: 2, retain: false, dup: false, packetId });
    }
    const dc = await c.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
    assert.equal(dc.reasonCode, ReasonCode.RECEIVE_MAXIMUM_EXCEEDED);
    await c.closedWithin();
  });

  test('[MQTT-3.3.4-7] staying within the server\'s Receive Maximum by releasing (PUBREL) keeps the connection', async (t) => {
    const fx = brokerFor(t, { maxInflightMessages: 2 });
    const sub = await connected(fx, { version: 5 });
    await sub.subscribe('fc/ok', 2);
    const c = await connected(fx, { version: 5 });
    for (let packetId = 1; packetId <= 6; packetId++) {
      c.send({ type: PacketType.PUBLISH, topic: 'fc/ok', payload: Buffer.from(`p${packetId}`), qos: 2, retain: false, dup: false, packetId });
      if (packetId >= 2) {
        // keep at most 2 unreleased: release the one before
        await c.next((p) => p.type === PacketType.PUBREC && p.packetId === packetId - 1);
        c.send({ type: PacketType.PUBREL, packetId: packetId - 1, reasonCode: 0 });
        await c.next((p) => p.type === PacketType.PUBCOMP && p.packetId === packetId - 1);
      }
    }
    await c.barrier();
    assert.equal(c.closed, false);
    assert.equal((await nextPublishes(sub, 5)).length, 5);
  });
});

describe('v5 Maximum Packet Size: the client\'s (section 3.1.2.11.4)', () => {
  /** Size of the PUBLISH the broker would send for this payload (QoS 0, no properties). */
  function publishSize(topic: string, payload: string): number {
    const packet: PublishPacket = { type: PacketType.PUBLISH, topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false };
    return encodePacket(packet, 5).length;
  }

  test('[MQTT-3.1.2-24] [MQTT-3.1.2-25] a message larger than the client\'s Maximum Packet Size is not sent to it; smaller ones are; dropped ones are counted', async (t) => {
    const fx = brokerFor(t);
    const sub = fx.client({ version: 5 });
    await sub.connect({ properties: { maximumPacketSize: 64 } });
    await sub.subscribe('fc/size', 1);
    const other = await connected(fx, { version: 5 });
    await other.subscribe('fc/size', 1);
    const dropped = fx.broker.stats.publishDropped;
    const pub = await connected(fx, { version: 5 });
    const big = 'x'.repeat(200);
    await pub.publish('fc/size', 'small 0', 0);
    await pub.publish('fc/size', big, 0);
    await pub.publish('fc/size', big, 1);
    await pub.publish('fc/size', 'small 1', 1);
    await sub.barrier();
    assert.deepEqual(takePublishes(sub).map(text), ['small 0', 'small 1']);
    assert.equal(fx.broker.stats.publishDropped, dropped + 2);
    // a client without the limit gets everything
    assert.deepEqual((await nextPublishes(other, 4)).map((p) => p.payload.length), [7, 200, 200, 7]);
  });

  test('[MQTT-3.1.2-24] the limit is exact: a PUBLISH of exactly Maximum Packet Size bytes is sent, one byte more is not', async (t) => {
    const fx = brokerFor(t);
    const exact = publishSize('fc/exact', 'y'.repeat(40));
    const sub = fx.client({ version: 5 });
    await sub.connect({ properties: { maximumPacketSize: exact } });
    await sub.subscribe('fc/exact', 0);
    const pub = await connected(fx, { version: 5 });
    await pub.publish('fc/exact', 'y'.repeat(40), 0);
    await pub.publish('fc/exact', 'y'.repeat(41), 0);
    await sub.barrier();
    assert.deepEqual(takePublishes(sub).map((p) => p.payload.length), [40]);
  });

  test('[MQTT-3.1.2-25] a QoS 1 message too large to send is treated as sent: it does not occupy the Receive Maximum window', async (t) => {
    const fx = brokerFor(t);
    const sub = fx.client({ version: 5, autoAck: false });
    await sub.connect({ properties: { maximumPacketSize: 64, receiveMaximum: 1 } });
    await sub.subscribe('fc/window', 1);
    const pub = await connected(fx, { version: 5 });
    await pub.publish('fc/window', 'z'.repeat(300), 1);
    await pub.publish('fc/window', 'fits', 1);
    assert.equal(text(await sub.nextPublish()), 'fits');
  });

  test('[MQTT-3.1.2-24] a retained message too large for the subscriber is not sent on SUBSCRIBE', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx, { version: 5 });
    await pub.publish('fc/retained/big', 'r'.repeat(300), 1, true);
    await pub.publish('fc/retained/small', 'ok', 1, true);
    const sub = fx.client({ version: 5 });
    await sub.connect({ properties: { maximumPacketSize: 64 } });
    await sub.subscribe('fc/retained/#', 1);
    await sub.barrier();
    assert.deepEqual(takePublishes(sub).map((p) => `${p.topic} ${text(p)}`), ['fc/retained/small ok']);
  });
});

describe('v5 Maximum Packet Size: the server\'s (max_packet_size, section 3.2.2.3.6)', () => {
  test('CONNACK announces Maximum Packet Size = max_packet_size', async (t) => {
    const fx = brokerFor(t, { maxPacketSize: 2048 });
    const c = fx.client({ version: 5 });
    assert.equal((await c.connect()).properties?.maximumPacketSize, 2048);
  });

  test('[MQTT-3.2.2-15] a packet above the announced Maximum Packet Size -> DISCONNECT 0x95 (Packet too large), and it is not routed', async (t) => {
    const fx = brokerFor(t, { maxPacketSize: 256 });
    const sub = await connected(fx, { version: 5 });
    await sub.subscribe('fc/limit', 0);
    const c = await connected(fx, { version: 5 });
    c.send({ type: PacketType.PUBLISH, topic: 'fc/limit', payload: Buffer.alloc(300, 0x61), qos: 0, retain: false, dup: false });
    const dc = await c.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
    assert.equal(dc.reasonCode, ReasonCode.PACKET_TOO_LARGE);
    await c.closedWithin();
    await assertNothingDelivered(sub);
  });

  test('a packet just within the server\'s Maximum Packet Size is accepted', async (t) => {
    const fx = brokerFor(t, { maxPacketSize: 256 });
    const sub = await connected(fx, { version: 5 });
    await sub.subscribe('fc/within', 0);
    const c = await connected(fx, { version: 5 });
    const overhead = encodePacket({ type: PacketType.PUBLISH, topic: 'fc/within', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }, 5).length;
    const payload = Buffer.alloc(256 - overhead - 1, 0x62); // one byte of slack for a longer length field
    c.send({ type: PacketType.PUBLISH, topic: 'fc/within', payload, qos: 0, retain: false, dup: false });
    assert.equal((await sub.nextPublish()).payload.length, payload.length);
  });
});
