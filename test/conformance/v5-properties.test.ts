// Conformance: MQTT 5.0 PUBLISH properties the server forwards (section 3.3.2.3): user
// properties, content type, response topic, correlation data, payload format indicator
// (and its validation, reason 0x99), and translation between 3.1.1 and 5.0 clients.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { PacketType, type AckPacket, type DisconnectPacket, type Properties, type ProtocolVersion, type PublishPacket, type QoS, type UserProperty } from '../../src/protocol/types.js';
import type { BrokerFixture } from '../helpers/broker-fixture.js';
import type { TestClient } from '../helpers/mqtt-test-client.js';
import { uniqueId } from './lifecycle-support.js';
import { assertNothingDelivered, brokerFor, connected, nextPublishes, text } from './pubsub-support.js';

const INVALID_UTF8 = Buffer.from([0x68, 0x69, 0xc3, 0x28, 0xff]);

/** Publishes with properties and completes the QoS flow; returns the ack's reason code (0 for QoS 0). */
async function publishWith(pub: TestClient, topic: string, payload: Buffer | string, qos: QoS, properties: Properties, retain = false): Promise<number> {
  const packet: PublishPacket = { type: PacketType.PUBLISH, topic, payload: Buffer.from(payload), qos, retain, dup: false, properties };
  if (qos === 0) {
    pub.send(packet);
    return 0;
  }
  const packetId = pub.nextPacketId();
  pub.send({ ...packet, packetId });
  const ack = await pub.next<AckPacket>((p) => (p.type === PacketType.PUBACK || p.type === PacketType.PUBREC) && p.packetId === packetId);
  if (qos === 2 && ack.reasonCode < 0x80) {
    pub.send({ type: PacketType.PUBREL, packetId, reasonCode: 0 });
    await pub.next((p) => p.type === PacketType.PUBCOMP && p.packetId === packetId);
  }
  return ack.reasonCode;
}

async function sub(fx: BrokerFixture, filter: string, qos: QoS, version: ProtocolVersion = 5): Promise<TestClient> {
  const c = await connected(fx, { version });
  await c.subscribe(filter, qos);
  return c;
}

describe('v5 properties: forwarded unaltered', () => {
  const userProperties: UserProperty[] = [
    ['sensor', 'a'],
    ['unit', '°C'],
    ['sensor', 'b'],
    ['empty', ''],
    ['sensor', 'a'],
  ];

  for (const qos of [0, 1, 2] as const) {
    test(`[MQTT-3.3.2-17] [MQTT-3.3.2-18] user properties arrive in order, duplicates kept (QoS ${qos})`, async (t) => {
      const fx = brokerFor(t);
      const s = await sub(fx, 'pr/user', qos);
      const pub = await connected(fx, { version: 5 });
      await publishWith(pub, 'pr/user', 'with user properties', qos, { userProperties });
      const got = await s.nextPublish();
      assert.deepEqual(got.properties?.userProperties, userProperties);
    });
  }

  test('[MQTT-3.3.2-20] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-4] content type, response topic, binary correlation data and payload format indicator pass through unchanged', async (t) => {
    const fx = brokerFor(t);
    const s = await sub(fx, 'pr/all', 1);
    const correlationData = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const properties: Properties = {
      contentType: 'application/vnd.culex+json; charset=utf-8',
      responseTopic: 'pr/all/reply/ü',
      correlationData,
      payloadFormatIndicator: 1,
    };
    const pub = await connected(fx, { version: 5 });
    assert.equal(await publishWith(pub, 'pr/all', '{"ok":true}', 1, properties), 0);
    const got = await s.nextPublish();
    assert.equal(text(got), '{"ok":true}');
    assert.equal(got.properties?.contentType, properties.contentType);
    assert.equal(got.properties?.responseTopic, properties.responseTopic);
    assert.deepEqual(got.properties?.correlationData, correlationData);
    assert.equal(got.properties?.payloadFormatIndicator, 1);
  });

  test('[MQTT-3.3.2-4] payload format indicator 0 (binary) passes through too', async (t) => {
    const fx = brokerFor(t);
    const s = await sub(fx, 'pr/binary', 0);
    const pub = await connected(fx, { version: 5 });
    await publishWith(pub, 'pr/binary', INVALID_UTF8, 0, { payloadFormatIndicator: 0 });
    const got = await s.nextPublish();
    assert.deepEqual(got.payload, INVALID_UTF8);
    assert.equal(got.properties?.payloadFormatIndicator ?? 0, 0);
  });

  test('properties survive a retained message and an offline queue', async (t) => {
    const fx = brokerFor(t);
    const properties: Properties = { contentType: 'text/plain', userProperties: [['k', '1'], ['k', '2']], responseTopic: 'pr/r', correlationData: Buffer.from('id-7') };
    const pub = await connected(fx, { version: 5 });
    await publishWith(pub, 'pr/kept/retained', 'retained', 1, properties, true);
    const id = uniqueId('pr-queue');
    const q = fx.client({ version: 5 });
    await q.connect({ clientId: id, properties: { sessionExpiryInterval: 300 } });
    await q.subscribe('pr/kept/queued', 1);
    q.disconnect();
    await q.closedWithin();
    await publishWith(pub, 'pr/kept/queued', 'queued', 1, properties);
    const later = await sub(fx, 'pr/kept/retained', 1);
    const back = fx.client({ version: 5 });
    await back.connect({ clientId: id, cleanStart: false, properties: { sessionExpiryInterval: 0 } });
    for (const got of [await later.nextPublish(), await back.nextPublish()]) {
      assert.equal(got.properties?.contentType, 'text/plain');
      assert.deepEqual(got.properties?.userProperties, [['k', '1'], ['k', '2']]);
      assert.equal(got.properties?.responseTopic, 'pr/r');
      assert.deepEqual(got.properties?.correlationData, Buffer.from('id-7'));
    }
  });

  test('a message without properties reaches a v5 subscriber without any', async (t) => {
    const fx = brokerFor(t);
    const s = await sub(fx, 'pr/none', 1);
    const pub = await connected(fx, { version: 5 });
    await pub.publish('pr/none', 'bare', 1);
    const got = await s.nextPublish();
    assert.equal(got.properties?.userProperties, undefined);
    assert.equal(got.properties?.contentType, undefined);
    assert.equal(got.properties?.messageExpiryInterval, undefined);
  });
});

describe('v5 properties: Payload Format Indicator 1 is checked (section 3.3.2.3.2)', () => {
  test('QoS 1 with invalid UTF-8: PUBACK 0x99 (Payload format invalid) and not delivered; the connection stays', async (t) => {
    const fx = brokerFor(t);
    const s = await sub(fx, 'pr/pfi', 1);
    const pub = await connected(fx, { version: 5 });
    assert.equal(await publishWith(pub, 'pr/pfi', INVALID_UTF8, 1, { payloadFormatIndicator: 1 }), ReasonCode.PAYLOAD_FORMAT_INVALID);
    await assertNothingDelivered(s);
    assert.equal(await publishWith(pub, 'pr/pfi', 'valid text ✓', 1, { payloadFormatIndicator: 1 }), 0);
    assert.equal(text(await s.nextPublish()), 'valid text ✓');
  });

  test('QoS 2 with invalid UTF-8: PUBREC 0x99 and not delivered; the packet id is free again', async (t) => {
    const fx = brokerFor(t);
    const s = await sub(fx, 'pr/pfi2', 2);
    const pub = await connected(fx, { version: 5 });
    pub.send({ type: PacketType.PUBLISH, topic: 'pr/pfi2', payload: INVALID_UTF8, qos: 2, retain: false, dup: false, packetId: 9, properties: { payloadFormatIndicator: 1 } });
    const rec = await pub.next<AckPacket>((p) => p.type === PacketType.PUBREC && p.packetId === 9);
    assert.equal(rec.reasonCode, ReasonCode.PAYLOAD_FORMAT_INVALID);
    await assertNothingDelivered(s);
    // the refused id may be reused at once for a new message (a reason code >= 0x80 ends the flow)
    pub.send({ type: PacketType.PUBLISH, topic: 'pr/pfi2', payload: Buffer.from('ok'), qos: 2, retain: false, dup: false, packetId: 9 });
    const rec2 = await pub.next<AckPacket>((p) => p.type === PacketType.PUBREC && p.packetId === 9);
    assert.equal(rec2.reasonCode, 0);
    pub.send({ type: PacketType.PUBREL, packetId: 9, reasonCode: 0 });
    await pub.nextOfType(PacketType.PUBCOMP);
    assert.equal(text(await s.nextPublish()), 'ok');
  });

  test('QoS 0 with invalid UTF-8: DISCONNECT 0x99, not delivered', async (t) => {
    const fx = brokerFor(t);
    const s = await sub(fx, 'pr/pfi0', 0);
    const pub = await connected(fx, { version: 5 });
    await publishWith(pub, 'pr/pfi0', INVALID_UTF8, 0, { payloadFormatIndicator: 1 });
    const dc = await pub.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
    assert.equal(dc.reasonCode, ReasonCode.PAYLOAD_FORMAT_INVALID);
    await pub.closedWithin();
    await assertNothingDelivered(s);
  });

  test('a retained message with invalid UTF-8 and indicator 1 is not stored', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx, { version: 5 });
    assert.equal(await publishWith(pub, 'pr/pfi/retained', INVALID_UTF8, 1, { payloadFormatIndicator: 1 }, true), ReasonCode.PAYLOAD_FORMAT_INVALID);
    const later = await sub(fx, 'pr/pfi/retained', 1);
    await assertNothingDelivered(later);
  });
});

describe('3.1.1 <-> 5.0 translation', () => {
  test('a 3.1.1 subscriber receives a v5 message with properties: payload, topic and QoS intact, no properties', async (t) => {
    const fx = brokerFor(t);
    const v4 = await sub(fx, 'pr/x/#', 1, 4);
    const v31 = await sub(fx, 'pr/x/#', 1, 3);
    const pub = await connected(fx, { version: 5 });
    const payload = Buffer.from([0x00, 0x01, 0xfe, 0xff]);
    await publishWith(pub, 'pr/x/v5', payload, 1, {
      userProperties: [['a', 'b']],
      contentType: 'application/octet-stream',
      responseTopic: 'pr/x/reply',
      correlationData: Buffer.from('c'),
      messageExpiryInterval: 60,
      payloadFormatIndicator: 0,
    });
    for (const c of [v4, v31]) {
      const got = await c.nextPublish();
      assert.equal(got.topic, 'pr/x/v5');
      assert.deepEqual(got.payload, payload);
      assert.equal(got.qos, 1);
      assert.equal(got.properties, undefined);
    }
  });

  test('a v5 subscriber receives a 3.1.1 (and 3.1) message: payload, topic and QoS intact, no user properties or content type', async (t) => {
    const fx = brokerFor(t);
    const v5 = await sub(fx, 'pr/y/#', 2);
    for (const version of [4, 3] as const) {
      const pub = await connected(fx, { version });
      await pub.publish(`pr/y/v${version}`, `from level ${version}`, 2);
    }
    const got = await nextPublishes(v5, 2);
    assert.deepEqual(got.map((p) => `${p.topic} ${text(p)} q${p.qos}`), ['pr/y/v4 from level 4 q2', 'pr/y/v3 from level 3 q2']);
    for (const p of got) {
      assert.equal(p.properties?.userProperties, undefined);
      assert.equal(p.properties?.contentType, undefined);
      assert.equal(p.properties?.payloadFormatIndicator, undefined);
    }
  });

  test('one v5 QoS 0 message to v5, 3.1.1 and 3.1 subscribers at once: each gets its own protocol\'s form', async (t) => {
    const fx = brokerFor(t);
    const subs = [await sub(fx, 'pr/z', 0, 5), await sub(fx, 'pr/z', 0, 4), await sub(fx, 'pr/z', 0, 3), await sub(fx, 'pr/z', 0, 5)];
    const pub = await connected(fx, { version: 5 });
    await publishWith(pub, 'pr/z', 'fan out', 0, { userProperties: [['x', 'y']] });
    const got = await Promise.all(subs.map((c) => c.nextPublish()));
    for (const p of got) assert.equal(text(p), 'fan out');
    assert.deepEqual(got.map((p) => p.properties?.userProperties), [[['x', 'y']], undefined, undefined, [['x', 'y']]]);
  });
});
