// QoS flows (MQTT 3.1.1 sections 2.3.1, 4.3, 4.6): PUBACK and PUBREC/PUBREL/PUBCOMP in both
// directions, QoS 2 exactly-once on re-sent PUBLISH (method B), packet identifiers of the
// broker's outgoing messages, and ordering.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { PacketType, type AckPacket, type Packet, type PublishPacket } from '../../src/protocol/types.js';
import {
  assertNothingDelivered,
  brokerFor,
  connected,
  isPublish,
  nextPublishes,
  settle,
  subscriber,
  text,
} from './pubsub-support.js';

function ack(type: AckPacket['type'], packetId: number): AckPacket {
  return { type, packetId, reasonCode: 0 };
}

function isAck(type: AckPacket['type'], packetId: number): (p: Packet) => boolean {
  return (p) => p.type === type && (p as AckPacket).packetId === packetId;
}

describe('QoS 1 flow', () => {
  test('client to broker: PUBLISH QoS 1 is answered by PUBACK with the same packet id [MQTT-4.3.2-2] [MQTT-2.3.1-6]', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx);
    for (const packetId of [1, 300, 65535]) {
      pub.send({ type: PacketType.PUBLISH, topic: 'q1/in', payload: Buffer.from('x'), qos: 1, packetId, retain: false, dup: false });
      const puback = await pub.next<AckPacket>((p) => p.type === PacketType.PUBACK);
      assert.equal(puback.packetId, packetId);
      assert.equal(puback.reasonCode, 0);
    }
  });

  test('broker to client: PUBLISH QoS 1 with DUP 0 and a packet id; PUBACK ends it, nothing is re-sent [MQTT-4.3.2-1]', async (t) => {
    const fx = brokerFor(t);
    const sub = await connected(fx, { autoAck: false });
    await sub.subscribe('q1/out', 1);
    const pub = await connected(fx);
    await pub.publish('q1/out', 'one', 1);
    const got = await sub.nextPublish();
    assert.equal(got.qos, 1);
    assert.equal(got.dup, false);
    assert.ok(got.packetId !== undefined && got.packetId > 0, 'non-zero packet id [MQTT-2.3.1-1]');
    sub.send(ack(PacketType.PUBACK, got.packetId));
    await pub.publish('q1/out', 'two', 1);
    const second = await sub.nextPublish();
    assert.equal(text(second), 'two');
    sub.send(ack(PacketType.PUBACK, second.packetId as number));
    await assertNothingDelivered(sub, 'an acknowledged QoS 1 message is not re-sent');
  });
});

describe('QoS 2 flow', () => {
  test('client to broker: PUBLISH → PUBREC, PUBREL → PUBCOMP, same packet id throughout [MQTT-4.3.3-2] [MQTT-2.3.1-6]', async (t) => {
    const fx = brokerFor(t);
    const sub = await subscriber(fx, 'q2/in', 2);
    const pub = await connected(fx);
    pub.send({ type: PacketType.PUBLISH, topic: 'q2/in', payload: Buffer.from('exactly once'), qos: 2, packetId: 42, retain: false, dup: false });
    const pubrec = await pub.nextOfType<AckPacket>(PacketType.PUBREC);
    assert.deepEqual([pubrec.packetId, pubrec.reasonCode], [42, 0]);
    pub.send(ack(PacketType.PUBREL, 42));
    const pubcomp = await pub.nextOfType<AckPacket>(PacketType.PUBCOMP);
    assert.deepEqual([pubcomp.packetId, pubcomp.reasonCode], [42, 0]);
    const got = await sub.nextPublish();
    assert.equal(text(got), 'exactly once');
    await assertNothingDelivered(sub);
  });

  test('broker to client: PUBLISH QoS 2 (DUP 0), PUBREC → PUBREL, PUBCOMP ends it [MQTT-4.3.3-1]', async (t) => {
    const fx = brokerFor(t);
    const sub = await connected(fx, { autoAck: false });
    await sub.subscribe('q2/out', 2);
    const pub = await connected(fx);
    await pub.publish('q2/out', 'm', 2);
    const got = await sub.nextPublish();
    assert.equal(got.qos, 2);
    assert.equal(got.dup, false);
    const id = got.packetId as number;
    assert.ok(id > 0);
    sub.send(ack(PacketType.PUBREC, id));
    const pubrel = await sub.nextOfType<AckPacket>(PacketType.PUBREL);
    assert.equal(pubrel.packetId, id);
    sub.send(ack(PacketType.PUBCOMP, id));
    await sub.barrier();
    assert.deepEqual(sub.inbox, [], 'nothing after PUBCOMP');
  });

  test('after PUBREC the broker sends only PUBREL, never the PUBLISH again [MQTT-4.3.3-1]', async (t) => {
    const fx = brokerFor(t);
    const sub = await connected(fx, { autoAck: false });
    await sub.subscribe('q2/norepeat', 2);
    const pub = await connected(fx);
    await pub.publish('q2/norepeat', 'm', 2);
    const got = await sub.nextPublish();
    sub.send(ack(PacketType.PUBREC, got.packetId as number));
    await sub.nextOfType(PacketType.PUBREL);
    // PUBREC again (a client may repeat it): PUBREL again, never the PUBLISH
    sub.send(ack(PacketType.PUBREC, got.packetId as number));
    await sub.nextOfType(PacketType.PUBREL);
    await assertNothingDelivered(sub, 'the PUBLISH must not be re-sent after PUBREC');
  });

  test('on session resumption after PUBREC the broker re-sends PUBREL, not the PUBLISH [MQTT-4.3.3-1] [MQTT-4.4.0-1]', async (t) => {
    const fx = brokerFor(t);
    const first = fx.client({ autoAck: false });
    assert.equal((await first.connect({ clientId: 'q2-resume', cleanStart: false })).reasonCode, 0);
    await first.subscribe('q2/resume', 2);
    const pub = await connected(fx);
    await pub.publish('q2/resume', 'm', 2);
    const got = await first.nextPublish();
    const id = got.packetId as number;
    first.send(ack(PacketType.PUBREC, id));
    await first.nextOfType(PacketType.PUBREL);
    first.destroy();
    await first.closedWithin();

    const again = fx.client({ autoAck: false });
    const connack = await again.connect({ clientId: 'q2-resume', cleanStart: false });
    assert.equal(connack.sessionPresent, true);
    const pubrel = await again.nextOfType<AckPacket>(PacketType.PUBREL);
    assert.equal(pubrel.packetId, id);
    await again.barrier();
    assert.equal(again.received.filter(isPublish).length, 0, 'no PUBLISH re-sent after PUBREC');
    again.send(ack(PacketType.PUBCOMP, id));
    await assertNothingDelivered(again);
  });

  test('a re-sent QoS 2 PUBLISH (DUP 1, same id) before PUBREL is acknowledged again but delivered once [MQTT-4.3.3-2]', async (t) => {
    const fx = brokerFor(t);
    const sub = await subscriber(fx, 'q2/dup', 2);
    const sub1 = await subscriber(fx, 'q2/dup', 1);
    const pub = await connected(fx);
    const publish: PublishPacket = { type: PacketType.PUBLISH, topic: 'q2/dup', payload: Buffer.from('once'), qos: 2, packetId: 7, retain: false, dup: false };
    pub.send(publish);
    await pub.next(isAck(PacketType.PUBREC, 7));
    pub.send({ ...publish, dup: true });
    await pub.next(isAck(PacketType.PUBREC, 7));
    pub.send({ ...publish, dup: true });
    await pub.next(isAck(PacketType.PUBREC, 7));
    pub.send(ack(PacketType.PUBREL, 7));
    await pub.next(isAck(PacketType.PUBCOMP, 7));
    for (const s of [sub, sub1]) {
      const got = await s.nextPublish();
      assert.equal(text(got), 'once');
      await assertNothingDelivered(s, 'delivered twice');
    }
  });

  test('after PUBREL the same packet id starts a new message, which is delivered [MQTT-4.3.3-2]', async (t) => {
    const fx = brokerFor(t);
    const sub = await subscriber(fx, 'q2/reuse', 2);
    const pub = await connected(fx);
    for (const body of ['first', 'second']) {
      pub.send({ type: PacketType.PUBLISH, topic: 'q2/reuse', payload: Buffer.from(body), qos: 2, packetId: 11, retain: false, dup: false });
      await pub.next(isAck(PacketType.PUBREC, 11));
      pub.send(ack(PacketType.PUBREL, 11));
      await pub.next(isAck(PacketType.PUBCOMP, 11));
    }
    assert.deepEqual((await nextPublishes(sub, 2)).map(text), ['first', 'second']);
  });

  test('a persistent session remembers an unreleased incoming QoS 2 id: the re-sent PUBLISH after reconnecting is not delivered again [MQTT-4.3.3-2] [MQTT-4.1.0-1]', async (t) => {
    const fx = brokerFor(t);
    const sub = await subscriber(fx, 'q2/session', 2);
    const first = await connected(fx, {}, { clientId: 'q2-sender', cleanStart: false });
    const publish: PublishPacket = { type: PacketType.PUBLISH, topic: 'q2/session', payload: Buffer.from('once'), qos: 2, packetId: 5, retain: false, dup: false };
    first.send(publish);
    await first.next(isAck(PacketType.PUBREC, 5));
    first.destroy();
    await first.closedWithin();
    const again = fx.client();
    assert.equal((await again.connect({ clientId: 'q2-sender', cleanStart: false })).sessionPresent, true);
    again.send({ ...publish, dup: true });
    await again.next(isAck(PacketType.PUBREC, 5));
    again.send(ack(PacketType.PUBREL, 5));
    await again.next(isAck(PacketType.PUBCOMP, 5));
    assert.equal(text(await sub.nextPublish()), 'once');
    await assertNothingDelivered(sub, 'delivered twice across the reconnect');
  });

  test('unsubscribing does not abandon a QoS 2 delivery already in flight: PUBREC still gets PUBREL [MQTT-3.10.4-3]', async (t) => {
    const fx = brokerFor(t);
    const sub = await connected(fx, { autoAck: false });
    await sub.subscribe('q2/unsub', 2);
    const pub = await connected(fx);
    await pub.publish('q2/unsub', 'in flight', 2);
    const got = await sub.nextPublish();
    await sub.unsubscribe('q2/unsub');
    sub.send(ack(PacketType.PUBREC, got.packetId as number));
    const pubrel = await sub.nextOfType<AckPacket>(PacketType.PUBREL);
    assert.equal(pubrel.packetId, got.packetId);
    sub.send(ack(PacketType.PUBCOMP, got.packetId as number));
    await assertNothingDelivered(sub);
  });

  test('PUBREL for a packet id the broker does not hold still gets PUBCOMP (3.1.1: code 0)', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx);
    pub.send(ack(PacketType.PUBREL, 1234));
    const pubcomp = await pub.next<AckPacket>(isAck(PacketType.PUBCOMP, 1234));
    assert.equal(pubcomp.reasonCode, 0);
    assert.equal(pub.closed, false);
  });

  test('v5: PUBREL for an unknown packet id gets PUBCOMP 0x92 Packet Identifier not found', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx, { version: 5 });
    pub.send(ack(PacketType.PUBREL, 77));
    const pubcomp = await pub.next<AckPacket>(isAck(PacketType.PUBCOMP, 77));
    assert.equal(pubcomp.reasonCode, ReasonCode.PACKET_IDENTIFIER_NOT_FOUND);
  });
});

describe('Packet identifiers of outgoing messages', () => {
  test('QoS 1/2 PUBLISH to a client carry non-zero ids, unique among those in flight [MQTT-2.3.1-1] [MQTT-2.3.1-2] [MQTT-2.3.1-4]', async (t) => {
    const fx = brokerFor(t, { maxInflightMessages: 10 });
    const sub = await connected(fx, { autoAck: false });
    await sub.subscribe('ids/#', 2);
    const pub = await connected(fx);
    for (let i = 0; i < 25; i++) await pub.publish(`ids/${i}`, String(i), i % 2 === 0 ? 1 : 2);

    const inflight = new Map<number, PublishPacket>();
    const seen: string[] = [];
    const take = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const p = await sub.nextPublish();
        const id = p.packetId as number;
        assert.ok(id >= 1 && id <= 65535, `packet id ${id} out of range`);
        assert.ok(!inflight.has(id), `packet id ${id} reused while still in flight`);
        inflight.set(id, p);
        seen.push(text(p));
      }
    };
    await take(10);
    await assertNothingDelivered(sub, 'the inflight window (10) is full');
    // complete three flows; three more messages may then use ids (possibly the freed ones)
    for (const [id, p] of [...inflight].slice(0, 3)) {
      if (p.qos === 1) {
        sub.send(ack(PacketType.PUBACK, id));
      } else {
        sub.send(ack(PacketType.PUBREC, id));
        await sub.next(isAck(PacketType.PUBREL, id));
        sub.send(ack(PacketType.PUBCOMP, id));
      }
      inflight.delete(id);
    }
    await take(3);
    assert.deepEqual(seen, Array.from({ length: 13 }, (_, i) => String(i)), 'in publish order');
  });
});

describe('Message ordering', () => {
  test('QoS 1 messages on one topic reach each subscriber in publish order [MQTT-4.6.0-5] [MQTT-4.6.0-6]', async (t) => {
    const fx = brokerFor(t, { maxInflightMessages: 5 });
    const subs = [await subscriber(fx, 'order/q1', 1), await subscriber(fx, 'order/#', 1), await subscriber(fx, 'order/q1', 2)];
    const pub = await connected(fx);
    const count = 60;
    // sent back to back, without waiting for each PUBACK
    for (let i = 1; i <= count; i++) {
      pub.send({ type: PacketType.PUBLISH, topic: 'order/q1', payload: Buffer.from(String(i)), qos: 1, packetId: i, retain: false, dup: false });
    }
    for (let i = 1; i <= count; i++) {
      const puback = await pub.nextOfType<AckPacket>(PacketType.PUBACK);
      assert.equal(puback.packetId, i, 'PUBACKs in the order of the PUBLISH packets [MQTT-4.6.0-2]');
    }
    const expected = Array.from({ length: count }, (_, i) => String(i + 1));
    for (const sub of subs) assert.deepEqual((await nextPublishes(sub, count)).map(text), expected);
  });

  test('QoS 2 messages: PUBREC and PUBCOMP come back in order, deliveries in publish order [MQTT-4.6.0-3] [MQTT-4.6.0-4]', async (t) => {
    const fx = brokerFor(t);
    const sub = await subscriber(fx, 'order/q2', 2);
    const pub = await connected(fx);
    const count = 20;
    for (let i = 1; i <= count; i++) {
      pub.send({ type: PacketType.PUBLISH, topic: 'order/q2', payload: Buffer.from(String(i)), qos: 2, packetId: i, retain: false, dup: false });
    }
    for (let i = 1; i <= count; i++) assert.equal((await pub.nextOfType<AckPacket>(PacketType.PUBREC)).packetId, i);
    for (let i = 1; i <= count; i++) pub.send(ack(PacketType.PUBREL, i));
    for (let i = 1; i <= count; i++) assert.equal((await pub.nextOfType<AckPacket>(PacketType.PUBCOMP)).packetId, i);
    assert.deepEqual((await nextPublishes(sub, count)).map(text), Array.from({ length: count }, (_, i) => String(i + 1)));
    await settle([pub], [sub]);
    await assertNothingDelivered(sub);
  });
});
