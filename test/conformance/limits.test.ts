// Conformance: limits and abuse. Each abusive connection is closed with a typed reason
// (connectionClosed event, stats) and never costs another client anything.
// MQTT 3.1.1 sections 1.5, 2.2, 3.3.2, 4.7, 4.8; MQTT 5.0 DISCONNECT reason codes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePacket } from '../../src/protocol/index.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { PacketType, type DisconnectPacket, type ProtocolVersion, type PublishPacket } from '../../src/protocol/types.js';
import type { BrokerFixture } from '../helpers/broker-fixture.js';
import { FakeClock } from '../helpers/fake-clock.js';
import type { TestClient } from '../helpers/mqtt-test-client.js';
import { pairedClient, payloads, publishes, receivedPublishes, uniqueId, withBroker } from './lifecycle-support.js';

/** A client that stays connected through the abuse of another; subscribed to `#`. */
async function bystander(fx: BrokerFixture): Promise<TestClient> {
  const b = fx.client();
  await b.connect({ clientId: uniqueId('bystander') });
  await b.subscribe('#', 1);
  return b;
}

/** The bystander is still connected, got nothing it should not have, and still works. */
async function assertUnaffected(b: TestClient, unexpectedTopic?: string): Promise<void> {
  await b.barrier();
  assert.equal(b.closed, false);
  if (unexpectedTopic !== undefined) {
    assert.deepEqual(publishes(b.received).filter((p) => p.topic === unexpectedTopic), [], 'the abusive message was not routed');
  }
  const topic = `still/${uniqueId('ok')}`;
  await b.publish(topic, 'ok', 1);
  const msg = await b.next<PublishPacket>((p) => p.type === PacketType.PUBLISH && p.topic === topic);
  assert.equal(msg.payload.toString(), 'ok');
}

function publishPacket(topic: string, payload: Buffer, qos: 0 | 1 = 0): PublishPacket {
  return { type: PacketType.PUBLISH, topic, payload, qos, retain: false, dup: false, ...(qos > 0 ? { packetId: 1 } : {}) };
}

describe('maximum packet size', () => {
  test('a PUBLISH over max_packet_size closes only that connection (reason packet_too_large)', () =>
    withBroker({ maxPacketSize: 256 }, async (fx, closes) => {
      const b = await bystander(fx);
      const id = uniqueId('big');
      const c = fx.client();
      await c.connect({ clientId: id });
      c.send(publishPacket('big/t', Buffer.alloc(300, 0x61)));
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'packet_too_large');
      assert.equal(fx.broker.stats.closes['packet_too_large'], 1);
      await assertUnaffected(b, 'big/t');
    }));

  test('a PUBLISH of exactly max_packet_size bytes is accepted', () =>
    withBroker({ maxPacketSize: 256 }, async (fx, closes) => {
      const b = await bystander(fx);
      const c = fx.client();
      await c.connect();
      let size = 0;
      while (encodePacket(publishPacket('fit/t', Buffer.alloc(size + 1), 1), 4).length <= 256) size++;
      const payload = Buffer.alloc(size, 0x62);
      assert.equal(encodePacket(publishPacket('fit/t', payload, 1), 4).length, 256);
      await c.publish('fit/t', payload, 1);
      const msg = await b.next<PublishPacket>((p) => p.type === PacketType.PUBLISH && p.topic === 'fit/t');
      assert.equal(msg.payload.length, payload.length);
      assert.equal(closes.events.length, 0);
    }));

  test('the size check needs only the fixed header: a huge announced length is refused before any body arrives', () =>
    withBroker({ maxPacketSize: 1024 }, async (fx, closes) => {
      const b = await bystander(fx);
      const id = uniqueId('announce');
      const c = fx.client();
      await c.connect({ clientId: id });
      c.sendRaw([0x30, 0xff, 0xff, 0xff, 0x7f]); // PUBLISH announcing 268,435,455 bytes
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'packet_too_large');
      await assertUnaffected(b);
    }));

  test('v5: an oversized packet gets DISCONNECT 0x95 (Packet too large); CONNACK announced the limit', () =>
    withBroker({ maxPacketSize: 256 }, async (fx, closes) => {
      const b = await bystander(fx);
      const id = uniqueId('big5');
      const c = fx.client({ version: 5 });
      const connack = await c.connect({ clientId: id });
      assert.equal(connack.properties?.maximumPacketSize, 256);
      c.send(publishPacket('big5/t', Buffer.alloc(300, 0x63)));
      const disconnect = await c.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
      assert.equal(disconnect.reasonCode, ReasonCode.PACKET_TOO_LARGE);
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'packet_too_large');
      await assertUnaffected(b, 'big5/t');
    }));
});

describe('malformed packets after CONNECT', () => {
  const cases: { name: string; bytes: number[] }[] = [
    { name: '[MQTT-3.3.1-4] PUBLISH with QoS 3', bytes: [0x36, 0x00] },
    { name: '[MQTT-3.8.1-1] SUBSCRIBE with flags 0b0000', bytes: [0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00] },
    { name: '[MQTT-3.3.1-2] QoS 0 PUBLISH with DUP 1', bytes: [0x38, 0x03, 0x00, 0x01, 0x61] },
    { name: '[MQTT-2.2.2-2] PINGREQ with flags set', bytes: [0xc1, 0x00] },
    { name: 'reserved packet type 0', bytes: [0x00, 0x00] },
    { name: 'Remaining Length of five bytes', bytes: [0x30, 0xff, 0xff, 0xff, 0xff, 0x01] },
    { name: 'PUBLISH topic length beyond the packet', bytes: [0x30, 0x03, 0x00, 0x09, 0x61] },
    { name: '[MQTT-3.8.3-4] SUBSCRIBE with requested QoS 3', bytes: [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x03] },
    { name: '[MQTT-1.5.3-1] PUBLISH topic that is not valid UTF-8', bytes: [0x30, 0x04, 0x00, 0x02, 0xc3, 0x28] },
  ];
  for (const { name, bytes } of cases) {
    test(`${name} closes only that connection (reason malformed_packet)`, () =>
      withBroker({}, async (fx, closes) => {
        const b = await bystander(fx);
        const id = uniqueId('bad');
        const c = fx.client();
        await c.connect({ clientId: id });
        c.sendRaw(bytes);
        await c.closedWithin();
        assert.equal((await closes.closeOf(id)).reason, 'malformed_packet');
        await assertUnaffected(b);
      }));
  }

  test('v5: a malformed packet gets DISCONNECT 0x81 (Malformed Packet)', () =>
    withBroker({}, async (fx, closes) => {
      const b = await bystander(fx);
      const id = uniqueId('bad5');
      const c = fx.client({ version: 5 });
      await c.connect({ clientId: id });
      c.sendRaw([0x36, 0x00]);
      const disconnect = await c.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
      assert.equal(disconnect.reasonCode, ReasonCode.MALFORMED_PACKET);
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'malformed_packet');
      await assertUnaffected(b);
    }));

  test('a packet only a server may send (CONNACK) closes the connection (reason protocol_error)', () =>
    withBroker({}, async (fx, closes) => {
      const b = await bystander(fx);
      const id = uniqueId('connack');
      const c = fx.client();
      await c.connect({ clientId: id });
      c.sendRaw([0x20, 0x02, 0x00, 0x00]);
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'protocol_error');
      await assertUnaffected(b);
    }));
});

describe('invalid topic names in PUBLISH', () => {
  const invalidTopics = [
    ['[MQTT-3.3.2-2]', 'a + wildcard', 'a/+/c'],
    ['[MQTT-3.3.2-2]', 'a # wildcard', 'a/#'],
    ['[MQTT-4.7.3-1]', 'an empty topic', ''],
  ] as const;
  for (const [specId, label, topic] of invalidTopics) {
    test(`${specId} a PUBLISH with ${label} closes the connection (reason topic_invalid)`, () =>
      withBroker({}, async (fx, closes) => {
        const b = await bystander(fx);
        const id = uniqueId('topic');
        const c = fx.client();
        await c.connect({ clientId: id });
        c.send(publishPacket(topic, Buffer.from('x')));
        await c.closedWithin();
        assert.equal((await closes.closeOf(id)).reason, 'topic_invalid');
        await assertUnaffected(b, topic);
      }));
  }

  test('v5: a PUBLISH with a wildcard topic gets DISCONNECT 0x90 (Topic Name invalid)', () =>
    withBroker({}, async (fx, closes) => {
      const b = await bystander(fx);
      const id = uniqueId('topic5');
      const c = fx.client({ version: 5 });
      await c.connect({ clientId: id });
      c.send(publishPacket('x/#', Buffer.from('x')));
      const disconnect = await c.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
      assert.equal(disconnect.reasonCode, ReasonCode.TOPIC_NAME_INVALID);
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'topic_invalid');
      await assertUnaffected(b);
    }));
});

describe('max inflight messages', () => {
  test('with acks held, exactly max_inflight_messages QoS 1 messages are sent; each ack releases the next, in order', () =>
    withBroker({ maxInflightMessages: 3 }, async (fx) => {
      const sub = fx.client({ autoAck: false });
      await sub.connect();
      await sub.subscribe('win/t', 1);
      const pub = fx.client();
      await pub.connect();
      for (let i = 1; i <= 6; i++) await pub.publish('win/t', `m${i}`, 1);
      await receivedPublishes(sub, 3);
      await sub.barrier();
      assert.deepEqual(payloads(sub.received), ['m1', 'm2', 'm3']);

      const first = publishes(sub.received)[0] as PublishPacket;
      sub.send({ type: PacketType.PUBACK, packetId: first.packetId as number, reasonCode: 0 });
      await receivedPublishes(sub, 4);
      await sub.barrier();
      assert.deepEqual(payloads(sub.received), ['m1', 'm2', 'm3', 'm4']);

      for (const p of publishes(sub.received).slice(1)) sub.send({ type: PacketType.PUBACK, packetId: p.packetId as number, reasonCode: 0 });
      const all = await receivedPublishes(sub, 6);
      assert.deepEqual(payloads(all), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
      assert.ok(all.every((p) => !p.dup));
    }));

  test('a QoS 2 message holds its inflight slot until PUBCOMP, not PUBREC', () =>
    withBroker({ maxInflightMessages: 1 }, async (fx) => {
      const sub = fx.client({ autoAck: false });
      await sub.connect();
      await sub.subscribe('win2/t', 2);
      const pub = fx.client();
      await pub.connect();
      await pub.publish('win2/t', 'first', 2);
      await pub.publish('win2/t', 'second', 2);
      const [first] = await receivedPublishes(sub, 1);
      const id = (first as PublishPacket).packetId as number;
      sub.send({ type: PacketType.PUBREC, packetId: id, reasonCode: 0 });
      await sub.next((p) => p.type === PacketType.PUBREL && p.packetId === id);
      await sub.barrier();
      assert.deepEqual(payloads(sub.received), ['first']);
      sub.send({ type: PacketType.PUBCOMP, packetId: id, reasonCode: 0 });
      await receivedPublishes(sub, 2);
      assert.deepEqual(payloads(sub.received), ['first', 'second']);
    }));

  test('the window does not hold back QoS 0 messages', () =>
    withBroker({ maxInflightMessages: 1 }, async (fx) => {
      const sub = fx.client({ autoAck: false });
      await sub.connect();
      await sub.subscribe('win0/t', 1);
      const pub = fx.client();
      await pub.connect();
      await pub.publish('win0/t', 'q1', 1);
      await pub.publish('win0/t', 'q0', 0);
      await pub.barrier();
      await receivedPublishes(sub, 2);
      assert.deepEqual(payloads(sub.received), ['q1', 'q0']);
    }));
});

describe('max queued messages', () => {
  test('an offline persistent session keeps max_queued_messages; the rest are dropped and counted', () =>
    withBroker({ maxQueuedMessages: 2 }, async (fx, closes) => {
      const id = uniqueId('offq');
      const sub = fx.client();
      await sub.connect({ clientId: id, cleanStart: false });
      await sub.subscribe('offq/t', 1);
      sub.disconnect();
      await closes.closeOf(id);

      const dropped = fx.broker.stats.publishDropped;
      const pub = fx.client();
      await pub.connect();
      for (let i = 1; i <= 5; i++) await pub.publish('offq/t', `m${i}`, 1);
      assert.equal(fx.broker.stats.publishDropped - dropped, 3);

      const back = fx.client();
      const connack = await back.connect({ clientId: id, cleanStart: false });
      assert.equal(connack.sessionPresent, true);
      await receivedPublishes(back, 2);
      await back.barrier();
      assert.deepEqual(payloads(back.received), ['m1', 'm2']);
      assert.equal(pub.closed, false);
    }));

  test('online: inflight window full and queue full, further QoS 1 messages are dropped and counted', () =>
    withBroker({ maxInflightMessages: 1, maxQueuedMessages: 2 }, async (fx) => {
      const sub = fx.client({ autoAck: false });
      await sub.connect();
      await sub.subscribe('onq/t', 1);
      const dropped = fx.broker.stats.publishDropped;
      const pub = fx.client();
      await pub.connect();
      for (let i = 1; i <= 5; i++) await pub.publish('onq/t', `m${i}`, 1);
      assert.equal(fx.broker.stats.publishDropped - dropped, 2);
      sub.autoAck = true;
      const [first] = await receivedPublishes(sub, 1);
      sub.send({ type: PacketType.PUBACK, packetId: (first as PublishPacket).packetId as number, reasonCode: 0 });
      await receivedPublishes(sub, 3);
      await sub.barrier();
      assert.deepEqual(payloads(sub.received), ['m1', 'm2', 'm3']);
    }));
});

describe('slow consumers', () => {
  async function slowSetup(
    fx: BrokerFixture,
    qos: 0 | 1,
    version: ProtocolVersion = 4,
  ): Promise<{ slow: TestClient; slowId: string; fast: TestClient; pub: TestClient }> {
    const slowId = uniqueId('slow');
    const slow = pairedClient(fx.broker, { version }, { highWaterMark: 256 });
    await slow.connect({ clientId: slowId });
    await slow.subscribe('flood/t', qos);
    const fast = fx.client();
    await fast.connect();
    await fast.subscribe('flood/t', qos);
    const pub = fx.client();
    await pub.connect();
    slow.stream.pause(); // stops reading: the broker's writes back up
    return { slow, slowId, fast, pub };
  }

  test('QoS 0 to a client that stopped reading is dropped and counted, while a fast subscriber gets everything', () => {
    const clock = new FakeClock();
    return withBroker({ clock, maxOutboundBytes: 2048, slowConsumerTimeout: 5 }, async (fx, closes) => {
      const { slow, fast, pub } = await slowSetup(fx, 0);
      const dropped = fx.broker.stats.publishDropped;
      const payload = 'p'.repeat(200);
      for (let i = 0; i < 40; i++) await pub.publish('flood/t', `${i}:${payload}`, 1);
      const got = await receivedPublishes(fast, 40);
      assert.deepEqual(payloads(got).map((p) => p.split(':')[0]), Array.from({ length: 40 }, (_, i) => String(i)));
      assert.ok(fx.broker.stats.publishDropped > dropped, 'QoS 0 for the slow client was dropped');
      assert.equal(closes.events.length, 0, 'nobody disconnected yet');
      assert.equal(slow.closed, false);
    });
  });

  test('a client over max_outbound_bytes for slow_consumer_timeout is disconnected (reason slow_consumer); others are unaffected', () => {
    const clock = new FakeClock();
    return withBroker({ clock, maxOutboundBytes: 2048, slowConsumerTimeout: 5 }, async (fx, closes) => {
      const { slow, slowId, fast, pub } = await slowSetup(fx, 0);
      const payload = 'p'.repeat(200);
      for (let i = 0; i < 40; i++) await pub.publish('flood/t', payload, 1);
      await receivedPublishes(fast, 40);
      clock.advance(4_999);
      assert.deepEqual(closes.reasonsFor(slowId), []);
      clock.advance(1);
      assert.deepEqual(closes.reasonsFor(slowId), ['slow_consumer']);
      assert.equal(fx.broker.stats.closes['slow_consumer'], 1);
      slow.stream.resume();
      await slow.closedWithin();
      await fast.barrier();
      assert.equal(fast.closed, false);
      await pub.publish('flood/t', 'after', 1);
      const last = await fast.next<PublishPacket>((p) => p.type === PacketType.PUBLISH && p.payload.toString() === 'after');
      assert.equal(last.topic, 'flood/t');
    });
  });

  test('a client that catches up before slow_consumer_timeout stays connected', () => {
    const clock = new FakeClock();
    return withBroker({ clock, maxOutboundBytes: 2048, slowConsumerTimeout: 5 }, async (fx, closes) => {
      const { slow, slowId, fast, pub } = await slowSetup(fx, 0);
      const payload = 'p'.repeat(200);
      for (let i = 0; i < 40; i++) await pub.publish('flood/t', payload, 1);
      await receivedPublishes(fast, 40);
      clock.advance(2_000);
      slow.stream.resume();
      await slow.barrier();
      clock.advance(10_000);
      assert.deepEqual(closes.reasonsFor(slowId), []);
      await slow.barrier();
      assert.equal(slow.closed, false);
    });
  });

  test('QoS 1 to a client that stopped reading is queued, not dropped, and arrives in order once it reads again', () => {
    const clock = new FakeClock();
    return withBroker({ clock, maxOutboundBytes: 2048, slowConsumerTimeout: 5, maxQueuedMessages: 100 }, async (fx) => {
      const { slow, fast, pub } = await slowSetup(fx, 1);
      const dropped = fx.broker.stats.publishDropped;
      const payload = 'q'.repeat(200);
      for (let i = 0; i < 30; i++) await pub.publish('flood/t', `${i}:${payload}`, 1);
      await receivedPublishes(fast, 30);
      assert.equal(fx.broker.stats.publishDropped, dropped, 'nothing dropped');
      slow.stream.resume();
      const got = await receivedPublishes(slow, 30);
      assert.deepEqual(payloads(got).map((p) => p.split(':')[0]), Array.from({ length: 30 }, (_, i) => String(i)));
    });
  });

  test('v5: a slow consumer is told DISCONNECT 0x97 (Quota exceeded) before the close', () => {
    const clock = new FakeClock();
    return withBroker({ clock, maxOutboundBytes: 2048, slowConsumerTimeout: 5 }, async (fx, closes) => {
      const { slow, slowId, fast, pub } = await slowSetup(fx, 0, 5);
      for (let i = 0; i < 40; i++) await pub.publish('flood/t', 'x'.repeat(200), 1);
      await receivedPublishes(fast, 40);
      clock.advance(5_000);
      assert.deepEqual(closes.reasonsFor(slowId), ['slow_consumer']);
      slow.stream.resume();
      await slow.closedWithin();
      const last = slow.received[slow.received.length - 1];
      assert.equal(last?.type, PacketType.DISCONNECT);
      assert.equal((last as DisconnectPacket).reasonCode, ReasonCode.QUOTA_EXCEEDED);
    });
  });
});


describe('publish rate limits (max_publish_rate, max_publish_bytes_rate)', () => {
  /** Lets the in-memory streams move without letting (fake) time pass. */
  async function turns(n = 20): Promise<void> {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
  }

  test('a client over its message rate is read no further until the bucket refills; nothing is lost, others are unaffected', () => {
    const clock = new FakeClock();
    return withBroker({ clock, maxPublishRate: 5 }, async (fx, closes) => {
      const sub = fx.client();
      await sub.connect({ clientId: uniqueId('sub') });
      await sub.subscribe('rate/#', 0);
      const flooder = fx.client();
      await flooder.connect({ clientId: uniqueId('flooder') });
      for (let i = 0; i < 12; i++) {
        flooder.send({ type: PacketType.PUBLISH, topic: 'rate/f', payload: Buffer.from(String(i)), qos: 0, retain: false, dup: false });
        await turns(2);
      }
      await turns();
      // 5 fit the one-second burst; the 6th puts the bucket in debt and pauses reading
      assert.deepEqual(payloads(sub.received), ['0', '1', '2', '3', '4', '5']);
      assert.equal(fx.broker.stats.publishThrottled, 1);
      // another client is not slowed by it
      const other = fx.client();
      await other.connect({ clientId: uniqueId('other') });
      await other.publish('rate/o', 'other', 0);
      await sub.next((p) => p.type === PacketType.PUBLISH && p.payload.toString() === 'other');
      clock.advance(200); // the debt of one message at 5/s is repaid
      await receivedPublishes(sub, 7 + 1);
      clock.advance(2000);
      await receivedPublishes(sub, 12 + 1);
      assert.deepEqual(
        payloads(sub.received).filter((p) => p !== 'other'),
        Array.from({ length: 12 }, (_, i) => String(i)),
        'every message arrives, in order',
      );
      assert.equal(closes.events.length, 0, 'nobody is disconnected for publishing fast');
    });
  });

  test('a byte rate counts topic and payload bytes', () => {
    const clock = new FakeClock();
    return withBroker({ clock, maxPublishBytesRate: 1000 }, async (fx) => {
      const sub = fx.client();
      await sub.connect({ clientId: uniqueId('sub') });
      await sub.subscribe('b/#', 0);
      const pub = fx.client();
      await pub.connect({ clientId: uniqueId('pub') });
      for (let i = 0; i < 4; i++) {
        pub.send({ type: PacketType.PUBLISH, topic: 'b/t', payload: Buffer.alloc(397, i), qos: 0, retain: false, dup: false });
        await turns(2);
      }
      await turns();
      // 400 bytes each: the third goes over 1000 and pauses reading before the fourth
      assert.equal(publishes(sub.received).length, 3);
      clock.advance(1000);
      await receivedPublishes(sub, 4);
    });
  });
});
