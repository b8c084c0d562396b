// PUBLISH conformance (MQTT 3.1.1 section 3.3, 4.7; MQTT 5.0 where Culex implements it):
// payload and topic integrity, invalid topic names, QoS downgrade, RETAIN on forwarding,
// authorization, and the embedding API.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BrokerApiError } from '../../src/core/broker.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { PacketType, type AckPacket, type DisconnectPacket, type QoS } from '../../src/protocol/types.js';
import {
  DenyPrefixAuthorizer,
  assertNothingDelivered,
  brokerFor,
  connected,
  settle,
  subscriber,
  text,
} from './pubsub-support.js';

describe('PUBLISH: delivery and payload integrity', () => {
  for (const qos of [0, 1, 2] as const) {
    test(`QoS ${qos} PUBLISH reaches a subscriber with topic and payload intact [MQTT-3.3.2-1] [MQTT-3.3.3-1]`, async (t) => {
      const fx = brokerFor(t);
      const sub = await subscriber(fx, 'pub/qos', 2);
      const pub = await connected(fx);
      await pub.publish('pub/qos', `hello at ${qos}`, qos);
      const got = await sub.nextPublish();
      assert.equal(got.topic, 'pub/qos');
      assert.equal(text(got), `hello at ${qos}`);
      assert.equal(got.qos, qos);
      assert.equal(got.retain, false);
      assert.equal(got.dup, false);
      if (qos > 0) assert.ok(got.packetId !== undefined && got.packetId > 0);
    });
  }

  test('a binary payload with every byte value arrives byte for byte [MQTT-3.3.3-1]', async (t) => {
    const fx = brokerFor(t);
    const sub = await subscriber(fx, 'bin', 1);
    const pub = await connected(fx);
    const payload = Buffer.alloc(512);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 256;
    await pub.publish('bin', payload, 1);
    const got = await sub.nextPublish();
    assert.ok(got.payload.equals(payload), 'payload differs');
  });

  test('an empty payload is delivered as an empty payload (zero-length is allowed) [MQTT-3.3.3-1]', async (t) => {
    const fx = brokerFor(t);
    const sub = await subscriber(fx, 'empty', 1);
    const pub = await connected(fx);
    await pub.publish('empty', Buffer.alloc(0), 1);
    const got = await sub.nextPublish();
    assert.equal(got.topic, 'empty');
    assert.equal(got.payload.length, 0);
  });

  test('a payload filling the packet up to maxPacketSize exactly is delivered intact', async (t) => {
    const maxPacketSize = 64 * 1024;
    const fx = brokerFor(t, { maxPacketSize });
    const sub = await subscriber(fx, 'big', 1);
    const pub = await connected(fx);
    // fixed header 1 + 3 (Remaining Length varint) + topic 2+3 + packet id 2
    const payload = Buffer.alloc(maxPacketSize - 1 - 3 - 5 - 2);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) % 251;
    await pub.publish('big', payload, 1);
    const got = await sub.nextPublish();
    assert.equal(got.payload.length, payload.length);
    assert.ok(got.payload.equals(payload), 'payload differs');
  });

  test('a topic with multi-byte UTF-8 characters is matched and delivered unchanged [MQTT-1.5.3] [MQTT-4.7.3-4]', async (t) => {
    const fx = brokerFor(t);
    const topic = 'capteurs/température/東京/🌡';
    const exact = await subscriber(fx, topic, 1);
    const wild = await subscriber(fx, 'capteurs/+/東京/#', 1);
    const pub = await connected(fx);
    await pub.publish(topic, 'ü', 1);
    for (const sub of [exact, wild]) {
      const got = await sub.nextPublish();
      assert.equal(got.topic, topic);
      assert.equal(text(got), 'ü');
    }
  });

  test('a topic name of 65535 bytes, the longest an MQTT string can be, is routed [MQTT-4.7.3-3] [MQTT-1.5.3]', async (t) => {
    const fx = brokerFor(t);
    const topic = `${'l'.repeat(1000)}/${'é'.repeat(32266)}`; // 1000 + 1 + 2 x 32266 = 65533 bytes
    const longest = `${topic}zz`;
    assert.equal(Buffer.byteLength(longest), 65535);
    const sub = await subscriber(fx, `${'l'.repeat(1000)}/#`, 1);
    const exact = await subscriber(fx, longest, 1);
    const pub = await connected(fx);
    await pub.publish(longest, 'long', 1);
    for (const c of [sub, exact]) assert.equal((await c.nextPublish()).topic, longest);
  });

  test('a leading U+FEFF in a topic is part of the topic, not skipped [MQTT-1.5.3-3]', async (t) => {
    const fx = brokerFor(t);
    const plain = await subscriber(fx, 'bom', 1);
    const withBom = await subscriber(fx, '\uFEFFbom', 1);
    const pub = await connected(fx);
    await pub.publish('\uFEFFbom', 'x', 1);
    assert.equal((await withBom.nextPublish()).topic, '\uFEFFbom');
    await assertNothingDelivered(plain);
  });

  test('topics are case sensitive: "Accounts" does not match "accounts" [MQTT-4.7.3-4]', async (t) => {
    const fx = brokerFor(t);
    const sub = await subscriber(fx, 'accounts', 0);
    const pub = await connected(fx);
    await pub.publish('Accounts', 'x', 1);
    await settle([pub], [sub]);
    await assertNothingDelivered(sub);
  });
});

describe('PUBLISH: invalid topic names close the connection', () => {
  for (const topic of ['a/+', 'a/#', '#', '+', 'a+b/c']) {
    test(`a PUBLISH to "${topic}" (wildcard in a topic name) closes a 3.1.1 connection and is not delivered [MQTT-3.3.2-2] [MQTT-4.7.1-1]`, async (t) => {
      const fx = brokerFor(t);
      const sub = await subscriber(fx, '#', 0);
      const pub = await connected(fx);
      pub.send({ type: PacketType.PUBLISH, topic, payload: Buffer.from('bad'), qos: 1, packetId: 1, retain: false, dup: false });
      await pub.closedWithin();
      assert.equal(pub.received.filter((p) => p.type === PacketType.PUBACK).length, 0, 'no PUBACK for a refused PUBLISH');
      await assertNothingDelivered(sub);
    });
  }

  const badUtf8: [name: string, topicBytes: number[]][] = [
    ['an encoded UTF-16 surrogate (ED A0 80) [MQTT-1.5.3-1]', [0x61, 0xed, 0xa0, 0x80]],
    ['an overlong encoding (C0 AF) [MQTT-1.5.3-1]', [0x61, 0xc0, 0xaf]],
    ['U+0000 [MQTT-1.5.3-2] [MQTT-4.7.3-2]', [0x61, 0x00, 0x62]],
  ];
  for (const [name, topicBytes] of badUtf8) {
    test(`a PUBLISH topic with ${name} closes the connection and is not delivered`, async (t) => {
      const fx = brokerFor(t);
      const sub = await subscriber(fx, '#', 0);
      const pub = await connected(fx);
      const payload = [0x78];
      pub.sendRaw([0x30, 2 + topicBytes.length + payload.length, 0x00, topicBytes.length, ...topicBytes, ...payload]);
      await pub.closedWithin();
      await assertNothingDelivered(sub);
    });
  }

  test('a PUBLISH with an empty topic name closes a 3.1.1 connection [MQTT-4.7.3-1]', async (t) => {
    const fx = brokerFor(t);
    const sub = await subscriber(fx, '#', 0);
    const pub = await connected(fx);
    pub.send({ type: PacketType.PUBLISH, topic: '', payload: Buffer.from('bad'), qos: 0, retain: false, dup: false });
    await pub.closedWithin();
    await assertNothingDelivered(sub);
  });

  test('v5: a wildcard in a PUBLISH topic gets DISCONNECT 0x90 Topic Name invalid', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx, { version: 5 });
    pub.send({ type: PacketType.PUBLISH, topic: 'a/#', payload: Buffer.from('bad'), qos: 0, retain: false, dup: false });
    const disconnect = await pub.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
    assert.equal(disconnect.reasonCode, ReasonCode.TOPIC_NAME_INVALID);
    await pub.closedWithin();
  });
});

describe('PUBLISH: what subscribers receive', () => {
  const cases: [published: QoS, granted: QoS][] = [];
  for (const p of [0, 1, 2] as const) for (const g of [0, 1, 2] as const) cases.push([p, g]);
  for (const [published, granted] of cases) {
    test(`published at QoS ${published} to a QoS ${granted} subscription arrives at QoS ${Math.min(published, granted)} [MQTT-3.8.4-6]`, async (t) => {
      const fx = brokerFor(t);
      const sub = await subscriber(fx, 'down/grade', granted);
      const pub = await connected(fx);
      await pub.publish('down/grade', 'm', published);
      const got = await sub.nextPublish();
      assert.equal(got.qos, Math.min(published, granted));
      assert.equal(got.packetId === undefined, got.qos === 0, 'a packet id iff QoS > 0');
    });
  }

  test('RETAIN is 0 when a retained PUBLISH is forwarded to an existing subscription [MQTT-3.3.1-9]', async (t) => {
    const fx = brokerFor(t);
    const subs = [await subscriber(fx, 'r/x', 0), await subscriber(fx, 'r/x', 1), await subscriber(fx, 'r/+', 2)];
    const pub = await connected(fx);
    await pub.publish('r/x', 'kept', 2, true);
    for (const sub of subs) {
      const got = await sub.nextPublish();
      assert.equal(text(got), 'kept');
      assert.equal(got.retain, false, 'RETAIN must be cleared for an established subscription');
    }
  });

  test('the DUP flag of an incoming PUBLISH is not propagated to subscribers [MQTT-3.3.1-3]', async (t) => {
    const fx = brokerFor(t);
    const sub = await subscriber(fx, 'dup/x', 1);
    const pub = await connected(fx);
    pub.send({ type: PacketType.PUBLISH, topic: 'dup/x', payload: Buffer.from('again'), qos: 1, packetId: 9, retain: false, dup: true });
    await pub.next((p) => p.type === PacketType.PUBACK && p.packetId === 9);
    const got = await sub.nextPublish();
    assert.equal(got.dup, false);
  });

  test('a PUBLISH nobody subscribed to is still acknowledged (QoS 1 and 2) [MQTT-4.3.2-2] [MQTT-4.3.3-2]', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx);
    await pub.publish('nobody/listens', 'x', 1);
    await pub.publish('nobody/listens', 'x', 2);
  });
});

describe('PUBLISH: authorization', () => {
  test('3.1.1: an unauthorized QoS 1 PUBLISH is still PUBACKed (code 0) but not delivered', async (t) => {
    const authorizer = new DenyPrefixAuthorizer('secret/', 'nothing-denied/');
    const fx = brokerFor(t, { authorizer });
    const sub = await subscriber(fx, '#', 1);
    const pub = await connected(fx);
    pub.send({ type: PacketType.PUBLISH, topic: 'secret/x', payload: Buffer.from('no'), qos: 1, packetId: 3, retain: false, dup: false });
    const ack = await pub.next<AckPacket>((p) => p.type === PacketType.PUBACK && p.packetId === 3);
    assert.equal(ack.reasonCode, 0);
    await pub.publish('public/x', 'yes', 1);
    const got = await sub.nextPublish();
    assert.equal(got.topic, 'public/x', 'only the authorized message is delivered');
    await assertNothingDelivered(sub);
    assert.deepEqual(authorizer.published, ['secret/x', 'public/x']);
  });

  test('3.1.1: an unauthorized QoS 2 PUBLISH completes PUBREC/PUBREL/PUBCOMP and is not delivered', async (t) => {
    const fx = brokerFor(t, { authorizer: new DenyPrefixAuthorizer('secret/', 'nothing-denied/') });
    const sub = await subscriber(fx, '#', 2);
    const pub = await connected(fx);
    await pub.publish('secret/y', 'no', 2);
    await settle([pub], [sub]);
    await assertNothingDelivered(sub);
  });

  test('3.1.1: an unauthorized retained PUBLISH is not stored', async (t) => {
    const fx = brokerFor(t, { authorizer: new DenyPrefixAuthorizer('secret/', 'nothing-denied/') });
    const pub = await connected(fx);
    await pub.publish('secret/r', 'no', 1, true);
    const late = await subscriber(fx, 'secret/#', 1);
    await assertNothingDelivered(late);
  });

  test('v5: an unauthorized QoS 1 PUBLISH gets PUBACK 0x87 Not authorized, and QoS 2 PUBREC 0x87', async (t) => {
    const fx = brokerFor(t, { authorizer: new DenyPrefixAuthorizer('secret/', 'nothing-denied/') });
    const sub = await subscriber(fx, '#', 2);
    const pub = await connected(fx, { version: 5 });
    pub.send({ type: PacketType.PUBLISH, topic: 'secret/x', payload: Buffer.from('no'), qos: 1, packetId: 4, retain: false, dup: false });
    const puback = await pub.next<AckPacket>((p) => p.type === PacketType.PUBACK && p.packetId === 4);
    assert.equal(puback.reasonCode, ReasonCode.NOT_AUTHORIZED);
    pub.send({ type: PacketType.PUBLISH, topic: 'secret/x', payload: Buffer.from('no'), qos: 2, packetId: 5, retain: false, dup: false });
    const pubrec = await pub.next<AckPacket>((p) => p.type === PacketType.PUBREC && p.packetId === 5);
    assert.equal(pubrec.reasonCode, ReasonCode.NOT_AUTHORIZED);
    await settle([pub], [sub]);
    await assertNothingDelivered(sub);
  });
});

describe('PUBLISH: embedding API', () => {
  test('broker.publish() reaches matching subscribers at min(QoS, granted) with RETAIN 0', async (t) => {
    const fx = brokerFor(t);
    const q0 = await subscriber(fx, 'api/+', 0);
    const q2 = await subscriber(fx, 'api/#', 2);
    fx.broker.publish({ topic: 'api/x', payload: 'from the app', qos: 1 });
    const a = await q0.nextPublish();
    const b = await q2.nextPublish();
    assert.deepEqual([a.topic, text(a), a.qos, a.retain], ['api/x', 'from the app', 0, false]);
    assert.deepEqual([b.topic, text(b), b.qos, b.retain], ['api/x', 'from the app', 1, false]);
  });

  test('broker.publish() with retain stores a retained message for later subscribers', async (t) => {
    const fx = brokerFor(t);
    fx.broker.publish({ topic: 'api/retained', payload: Buffer.from([1, 2, 3]), qos: 1, retain: true });
    const sub = await connected(fx);
    await sub.subscribe('api/retained', 1);
    const got = await sub.nextPublish();
    assert.deepEqual([got.qos, got.retain, [...got.payload]], [1, true, [1, 2, 3]]);
  });

  for (const topic of ['a/+', 'a/#', '', 'x\u0000y']) {
    test(`broker.publish() rejects topic ${JSON.stringify(topic)} with BrokerApiError INVALID_TOPIC [MQTT-4.7.1-1] [MQTT-4.7.3-1/2]`, async (t) => {
      const fx = brokerFor(t);
      const sub = await subscriber(fx, '#', 0);
      assert.throws(
        () => fx.broker.publish({ topic, payload: 'x' }),
        (err: unknown) => err instanceof BrokerApiError && err.code === 'INVALID_TOPIC',
      );
      await assertNothingDelivered(sub);
    });
  }
});
