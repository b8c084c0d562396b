// MQTT 3.1 (protocol name "MQIsdp", level 3) clients: connection, the 3.1 CONNACK, client
// id rules, and publish/subscribe across 3.1, 3.1.1 and 5.0 clients on the same topics.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnackReturnCode } from '../../src/protocol/reason-codes.js';
import { PacketType, type ConnackPacket, type ProtocolVersion, type QoS } from '../../src/protocol/types.js';
import type { TestClient } from '../helpers/mqtt-test-client.js';
import { DenyPrefixAuthorizer, assertNothingDelivered, brokerFor, connected, nextPublishes, subscriber, text } from './pubsub-support.js';

/** Records every byte the broker sends to `client`. */
function tapBytes(client: TestClient): () => Buffer {
  const chunks: Buffer[] = [];
  client.stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks);
}

/** A hand-written 3.1 CONNECT: "MQIsdp", level 3, the given flags and client id. */
function connect31(clientId: string, flags = 0x02, keepAlive = 60): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  const body = Buffer.concat([
    Buffer.from([0x00, 0x06]),
    Buffer.from('MQIsdp', 'latin1'),
    Buffer.from([0x03, flags, keepAlive >> 8, keepAlive & 0xff, id.length >> 8, id.length & 0xff]),
    id,
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

describe('MQTT 3.1 connection', () => {
  test('a hand-written MQIsdp level 3 CONNECT is accepted with the 3.1 CONNACK: 20 02 00 00', async (t) => {
    const fx = brokerFor(t);
    const c = fx.client({ version: 3 });
    const bytes = tapBytes(c);
    c.sendRaw(connect31('mqisdp-raw'));
    const connack = await c.nextOfType<ConnackPacket>(PacketType.CONNACK);
    assert.equal(connack.reasonCode, ConnackReturnCode.ACCEPTED);
    assert.deepEqual([...bytes()], [0x20, 0x02, 0x00, 0x00]);
  });

  test('3.1 has no Session Present flag: the CONNACK flags byte stays 0 even when a session is resumed', async (t) => {
    const fx = brokerFor(t);
    const first = await connected(fx, { version: 3 }, { clientId: 'persist31', cleanStart: false });
    await first.subscribe('p31/x', 1);
    first.disconnect();
    await first.closedWithin();
    const again = fx.client({ version: 3 });
    const bytes = tapBytes(again);
    again.sendRaw(connect31('persist31', 0x00));
    const connack = await again.nextOfType<ConnackPacket>(PacketType.CONNACK);
    assert.equal(connack.reasonCode, 0);
    assert.deepEqual([...bytes().subarray(0, 4)], [0x20, 0x02, 0x00, 0x00]);
    // and the session really was kept: the subscription is still in force
    const pub = await connected(fx);
    await pub.publish('p31/x', 'kept', 1);
    assert.equal(text(await again.nextPublish()), 'kept');
  });

  for (const cleanStart of [true, false]) {
    test(`an empty client id is refused with CONNACK 0x02 Identifier rejected (clean session ${cleanStart ? 1 : 0})`, async (t) => {
      const fx = brokerFor(t);
      const c = fx.client({ version: 3 });
      const connack = await c.connect({ clientId: '', cleanStart });
      assert.equal(connack.reasonCode, ConnackReturnCode.IDENTIFIER_REJECTED);
      assert.equal(connack.sessionPresent, false);
      await c.closedWithin();
    });
  }

  test('a client id longer than 23 characters is refused with 0x02; 23 characters are accepted', async (t) => {
    const fx = brokerFor(t);
    const long = fx.client({ version: 3 });
    assert.equal((await long.connect({ clientId: 'x'.repeat(24) })).reasonCode, ConnackReturnCode.IDENTIFIER_REJECTED);
    await long.closedWithin();
    const ok = fx.client({ version: 3 });
    assert.equal((await ok.connect({ clientId: 'y'.repeat(23) })).reasonCode, ConnackReturnCode.ACCEPTED);
  });

  test('SUBSCRIBE/SUBACK and UNSUBSCRIBE/UNSUBACK work at level 3', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx, { version: 3 });
    const suback = await c.subscribe([
      { topicFilter: 'l3/a', qos: 2 },
      { topicFilter: 'l3/+', qos: 1 },
    ]);
    assert.deepEqual(suback.reasonCodes, [2, 1]);
    const unsuback = await c.unsubscribe('l3/a', 'l3/+');
    assert.deepEqual(unsuback.reasonCodes, []);
    const pub = await connected(fx, { version: 3 });
    await pub.publish('l3/a', 'gone', 1);
    await pub.barrier();
    await assertNothingDelivered(c);
  });
});

describe('MQTT 3.1 SUBACK has no failure code', () => {
  test('an invalid topic filter closes a 3.1 connection (no 0x80 in 3.1); no SUBACK is sent', async (t) => {
    const fx = brokerFor(t);
    const c = await connected(fx, { version: 3 });
    c.send({ type: PacketType.SUBSCRIBE, packetId: 1, subscriptions: [{ topicFilter: 'a/#/b', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
    await c.closedWithin();
    assert.equal(c.received.filter((p) => p.type === PacketType.SUBACK).length, 0);
  });

  test('an unauthorized topic filter closes a 3.1 connection; no SUBACK is sent', async (t) => {
    const fx = brokerFor(t, { authorizer: new DenyPrefixAuthorizer('never/', 'private/') });
    const c = await connected(fx, { version: 3 });
    c.send({ type: PacketType.SUBSCRIBE, packetId: 1, subscriptions: [{ topicFilter: 'private/x', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }] });
    await c.closedWithin();
    assert.equal(c.received.filter((p) => p.type === PacketType.SUBACK).length, 0);
  });
});

describe('MQTT 3.1 with 3.1.1 and 5.0 clients on the same topics', () => {
  const versions: ProtocolVersion[] = [3, 4, 5];
  for (const from of versions) {
    for (const to of versions) {
      if (from !== 3 && to !== 3) continue;
      test(`level ${from} publisher → level ${to} subscriber, QoS 0/1/2, payload and QoS intact`, async (t) => {
        const fx = brokerFor(t);
        const sub = await subscriber(fx, 'mix/+', 2, { version: to });
        const pub = await connected(fx, { version: from });
        for (const qos of [0, 1, 2] as QoS[]) await pub.publish(`mix/${qos}`, Buffer.from([0, 255, qos]), qos);
        const got = await nextPublishes(sub, 3);
        assert.deepEqual(
          got.map((p) => [p.topic, [...p.payload], p.qos, p.retain]),
          [0, 1, 2].map((q) => [`mix/${q}`, [0, 255, q], q, false]),
        );
        await assertNothingDelivered(sub);
      });
    }
  }

  test('a v5 PUBLISH with properties reaches a 3.1 subscriber as a plain 3.1 PUBLISH (payload untouched)', async (t) => {
    const fx = brokerFor(t);
    const old = await subscriber(fx, 'props/x', 1, { version: 3 });
    const v5 = await subscriber(fx, 'props/x', 1, { version: 5 });
    const pub = await connected(fx, { version: 5 });
    pub.send({
      type: PacketType.PUBLISH,
      topic: 'props/x',
      payload: Buffer.from('{"t":21}'),
      qos: 1,
      packetId: 1,
      retain: false,
      dup: false,
      properties: { contentType: 'application/json', userProperties: [['unit', 'C']], payloadFormatIndicator: 1 },
    });
    await pub.nextOfType(PacketType.PUBACK);
    const plain = await old.nextPublish();
    assert.equal(text(plain), '{"t":21}');
    assert.equal(plain.properties, undefined);
    const rich = await v5.nextPublish();
    assert.equal(text(rich), '{"t":21}');
    assert.equal(rich.properties?.contentType, 'application/json');
    assert.deepEqual(rich.properties?.userProperties, [['unit', 'C']]);
  });

  test('retained messages cross protocol levels: 3.1 → 5.0 and 5.0 → 3.1, RETAIN 1 on subscribe', async (t) => {
    const fx = brokerFor(t);
    const old = await connected(fx, { version: 3 });
    const v5 = await connected(fx, { version: 5 });
    await old.publish('xret/from31', 'a', 1, true);
    await v5.publish('xret/from5', 'b', 2, true);
    await old.subscribe('xret/from5', 2);
    await v5.subscribe('xret/from31', 2);
    const toOld = await old.nextPublish();
    const toV5 = await v5.nextPublish();
    assert.deepEqual([toOld.topic, text(toOld), toOld.qos, toOld.retain], ['xret/from5', 'b', 2, true]);
    assert.deepEqual([toV5.topic, text(toV5), toV5.qos, toV5.retain], ['xret/from31', 'a', 1, true]);
  });

  test('a 3.1 client\'s wildcard PUBLISH closes its connection as in 3.1.1', async (t) => {
    const fx = brokerFor(t);
    const sub = await subscriber(fx, '#', 0);
    const c = await connected(fx, { version: 3 });
    c.send({ type: PacketType.PUBLISH, topic: 'bad/#', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    await c.closedWithin();
    await assertNothingDelivered(sub);
  });
});
