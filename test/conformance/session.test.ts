// Conformance: session state across connections (MQTT 3.1.1 sections 3.1.2.4, 3.2.2.2,
// 4.1, 4.4; packet identifiers 2.3.1).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketType, type AckPacket, type PublishPacket, type QoS } from '../../src/protocol/types.js';
import type { Authenticator } from '../../src/core/ports.js';
import type { BrokerFixture } from '../helpers/broker-fixture.js';
import type { TestClient, TestClientOptions } from '../helpers/mqtt-test-client.js';
import { waitFor } from '../helpers/wait-for.js';
import { payloads, publishes, receivedPublishes, uniqueId, withBroker, type CloseLog } from './lifecycle-support.js';

/** Connects a persistent (clean session 0) client, optionally subscribing it. */
async function persistent(
  fx: BrokerFixture,
  id: string,
  opts: TestClientOptions = {},
): Promise<{ client: TestClient; sessionPresent: boolean }> {
  const client = fx.client(opts);
  const connack = await client.connect({ clientId: id, cleanStart: false });
  assert.equal(connack.reasonCode, 0);
  return { client, sessionPresent: connack.sessionPresent };
}

/** Ends a connection abnormally and waits until the broker has seen it go. */
async function drop(client: TestClient, closes: CloseLog, id: string): Promise<void> {
  const before = closes.reasonsFor(id).length;
  client.destroy();
  await waitFor(() => closes.reasonsFor(id).length > before, { message: `the broker to see ${id} go` });
}

/** Disconnects cleanly and waits until the broker has processed it. */
async function leave(client: TestClient, closes: CloseLog, id: string): Promise<void> {
  const before = closes.reasonsFor(id).length;
  client.disconnect();
  await waitFor(() => closes.reasonsFor(id).length > before, { message: `the broker to see ${id} disconnect` });
}

async function publishAll(fx: BrokerFixture, topic: string, messages: [string, QoS][]): Promise<void> {
  const pub = fx.client();
  await pub.connect();
  for (const [payload, qos] of messages) await pub.publish(topic, payload, qos);
  pub.disconnect();
}

describe('session present flag', () => {
  test('[MQTT-3.2.2-1] clean session 1: session present is 0, even when a stored session existed', () =>
    withBroker({}, async (fx, closes) => {
      const id = uniqueId('sp1');
      const { client } = await persistent(fx, id);
      await client.subscribe('sp1/t', 1);
      await leave(client, closes, id);
      const again = fx.client();
      const connack = await again.connect({ clientId: id, cleanStart: true });
      assert.equal(connack.reasonCode, 0);
      assert.equal(connack.sessionPresent, false);
    }));

  test('[MQTT-3.2.2-2] clean session 0 with a stored session: session present is 1', () =>
    withBroker({}, async (fx, closes) => {
      const id = uniqueId('sp2');
      const first = await persistent(fx, id);
      await first.client.subscribe('sp2/t', 1);
      await leave(first.client, closes, id);
      const second = await persistent(fx, id);
      assert.equal(second.sessionPresent, true);
    }));

  test('[MQTT-3.2.2-3] clean session 0 with no stored session: session present is 0', () =>
    withBroker({}, async (fx) => {
      const { sessionPresent } = await persistent(fx, uniqueId('sp3'));
      assert.equal(sessionPresent, false);
    }));

  test('[MQTT-3.2.2-2] a persistent session survives an abnormal close too', () =>
    withBroker({}, async (fx, closes) => {
      const id = uniqueId('sp4');
      const first = await persistent(fx, id);
      await drop(first.client, closes, id);
      assert.equal((await persistent(fx, id)).sessionPresent, true);
    }));

  test('[MQTT-3.2.2-2] session present is 1 when taking over a live persistent session', () =>
    withBroker({}, async (fx) => {
      const id = uniqueId('sp5');
      const first = await persistent(fx, id);
      await first.client.subscribe('sp5/t', 1);
      const second = await persistent(fx, id);
      assert.equal(second.sessionPresent, true);
      await first.client.closedWithin();
      await second.client.barrier();
      await publishAll(fx, 'sp5/t', [['after takeover', 1]]);
      assert.equal((await second.client.nextPublish()).payload.toString(), 'after takeover');
    }));
});

describe('clean session', () => {
  test('[MQTT-3.1.2-6] clean session 1 discards the previous session: its subscriptions no longer match', () =>
    withBroker({}, async (fx, closes) => {
      const id = uniqueId('clean');
      const first = await persistent(fx, id);
      await first.client.subscribe('clean/t', 1);
      await leave(first.client, closes, id);
      const c = fx.client();
      await c.connect({ clientId: id, cleanStart: true });
      await publishAll(fx, 'clean/t', [['old subscription', 1]]);
      await c.barrier();
      assert.deepEqual(publishes(c.received), []);
    }));

  test('[MQTT-3.1.2-6] clean session 1 discards queued messages of the previous session', () =>
    withBroker({}, async (fx, closes) => {
      const id = uniqueId('cleanq');
      const first = await persistent(fx, id);
      await first.client.subscribe('cleanq/t', 1);
      await leave(first.client, closes, id);
      await publishAll(fx, 'cleanq/t', [['queued', 1]]);
      const c = fx.client();
      await c.connect({ clientId: id, cleanStart: true });
      await c.barrier();
      assert.deepEqual(publishes(c.received), []);
    }));

  test('[MQTT-3.1.2-6] the state of a clean session ends with its connection', () =>
    withBroker({}, async (fx, closes) => {
      const id = uniqueId('cleanend');
      const c = fx.client();
      await c.connect({ clientId: id, cleanStart: true });
      await c.subscribe('cleanend/t', 1);
      await leave(c, closes, id);
      await publishAll(fx, 'cleanend/t', [['nobody home', 1]]);
      const again = await persistent(fx, id);
      assert.equal(again.sessionPresent, false);
      await again.client.barrier();
      assert.deepEqual(publishes(again.client.received), []);
    }));
});

describe('persistent session', () => {
  test('[MQTT-3.1.2-4] [MQTT-3.1.2-5] subscriptions survive the reconnect: messages arrive without re-subscribing', () =>
    withBroker({}, async (fx, closes) => {
      const id = uniqueId('keep');
      const first = await persistent(fx, id);
      await first.client.subscribe('keep/t', 1);
      await leave(first.client, closes, id);
      const second = await persistent(fx, id);
      assert.equal(second.sessionPresent, true);
      await publishAll(fx, 'keep/t', [['live', 1]]);
      const msg = await second.client.nextPublish();
      assert.equal(msg.payload.toString(), 'live');
      assert.equal(msg.qos, 1);
    }));

  test('[MQTT-3.1.2-5] QoS 1 and QoS 2 messages published while offline are delivered on reconnect, in order', () =>
    withBroker({}, async (fx, closes) => {
      const id = uniqueId('offline');
      const first = await persistent(fx, id);
      await first.client.subscribe('offline/t', 2);
      await leave(first.client, closes, id);
      await publishAll(fx, 'offline/t', [['one', 1], ['two', 2], ['three', 1], ['four', 2]]);
      const second = await persistent(fx, id);
      assert.equal(second.sessionPresent, true);
      const got = await receivedPublishes(second.client, 4);
      assert.deepEqual(payloads(got), ['one', 'two', 'three', 'four']);
      assert.deepEqual(got.map((p) => p.qos), [1, 2, 1, 2]);
      await second.client.barrier();
      assert.equal(publishes(second.client.received).length, 4, 'each message exactly once');
    }));

  test('QoS 0 messages are not queued for an offline client', () =>
    withBroker({}, async (fx, closes) => {
      const id = uniqueId('q0off');
      const first = await persistent(fx, id);
      await first.client.subscribe('q0off/t', 2);
      await leave(first.client, closes, id);
      const droppedBefore = fx.broker.stats.publishDropped;
      await publishAll(fx, 'q0off/t', [['zero', 0], ['one', 1]]);
      const second = await persistent(fx, id);
      await receivedPublishes(second.client, 1);
      await second.client.barrier();
      assert.deepEqual(payloads(second.client.received), ['one']);
      assert.ok(fx.broker.stats.publishDropped > droppedBefore, 'the dropped QoS 0 message is counted');
    }));

  test('a subscription granted at QoS 0 is not queued offline', () =>
    withBroker({}, async (fx, closes) => {
      const id = uniqueId('sub0');
      const first = await persistent(fx, id);
      await first.client.subscribe('sub0/t', 0);
      await leave(first.client, closes, id);
      await publishAll(fx, 'sub0/t', [['downgraded', 1]]);
      const second = await persistent(fx, id);
      await second.client.barrier();
      assert.deepEqual(publishes(second.client.received), []);
    }));
});

describe('message redelivery on reconnect', () => {
  test('[MQTT-4.4.0-1] unacknowledged QoS 1 and QoS 2 PUBLISH are resent with DUP 1, same ids, original order', () =>
    withBroker({}, async (fx, closes) => {
      const id = uniqueId('redeliver');
      const first = await persistent(fx, id, { autoAck: false });
      await first.client.subscribe('re/t', 2);
      await publishAll(fx, 're/t', [['a', 1], ['b', 2], ['c', 1], ['d', 2]]);
      const original = await receivedPublishes(first.client, 4);
      assert.deepEqual(original.map((p) => p.dup), [false, false, false, false]);
      await drop(first.client, closes, id);

      const second = await persistent(fx, id, { autoAck: false });
      assert.equal(second.sessionPresent, true);
      const resent = await receivedPublishes(second.client, 4);
      assert.deepEqual(payloads(resent), ['a', 'b', 'c', 'd']);
      assert.deepEqual(resent.map((p) => p.dup), [true, true, true, true]);
      assert.deepEqual(resent.map((p) => p.packetId), original.map((p) => p.packetId));
      assert.deepEqual(resent.map((p) => p.qos), [1, 2, 1, 2]);
    }));

  test('[MQTT-4.4.0-1] acknowledged messages are not resent; only the unacknowledged one is', () =>
    withBroker({}, async (fx, closes) => {
      const id = uniqueId('partial');
      const first = await persistent(fx, id, { autoAck: false });
      await first.client.subscribe('partial/t', 1);
      await publishAll(fx, 'partial/t', [['acked', 1], ['unacked', 1]]);
      const [acked] = await receivedPublishes(first.client, 2);
      first.client.send({ type: PacketType.PUBACK, packetId: (acked as PublishPacket).packetId as number, reasonCode: 0 });
      await first.client.barrier();
      await drop(first.client, closes, id);

      const second = await persistent(fx, id);
      await receivedPublishes(second.client, 1);
      await second.client.barrier();
      assert.deepEqual(payloads(second.client.received), ['unacked']);
    }));

  test('[MQTT-4.4.0-1] inflight messages resent first, then messages queued while offline', () =>
    withBroker({}, async (fx, closes) => {
      const id = uniqueId('order');
      const first = await persistent(fx, id, { autoAck: false });
      await first.client.subscribe('order/t', 1);
      await publishAll(fx, 'order/t', [['in flight', 1]]);
      await receivedPublishes(first.client, 1);
      await drop(first.client, closes, id);
      await publishAll(fx, 'order/t', [['queued', 1]]);
      const second = await persistent(fx, id);
      const got = await receivedPublishes(second.client, 2);
      assert.deepEqual(payloads(got), ['in flight', 'queued']);
      assert.deepEqual(got.map((p) => p.dup), [true, false]);
    }));

  test('[MQTT-4.4.0-1] QoS 2 past PUBREC: PUBREL (not PUBLISH) is resent on reconnect', () =>
    withBroker({}, async (fx, closes) => {
      const id = uniqueId('pubrel');
      const first = await persistent(fx, id, { autoAck: false });
      await first.client.subscribe('pubrel/t', 2);
      await publishAll(fx, 'pubrel/t', [['exactly once', 2]]);
      const [msg] = await receivedPublishes(first.client, 1);
      const packetId = (msg as PublishPacket).packetId as number;
      first.client.send({ type: PacketType.PUBREC, packetId, reasonCode: 0 });
      const pubrel = await first.client.next<AckPacket>((p) => p.type === PacketType.PUBREL);
      assert.equal(pubrel.packetId, packetId);
      await drop(first.client, closes, id);

      const second = await persistent(fx, id, { autoAck: false });
      const again = await second.client.next<AckPacket>((p) => p.type === PacketType.PUBREL);
      assert.equal(again.packetId, packetId);
      second.client.send({ type: PacketType.PUBCOMP, packetId, reasonCode: 0 });
      await second.client.barrier();
      assert.deepEqual(publishes(second.client.received), [], 'the PUBLISH is not sent again');

      // the flow is complete: a third connection gets nothing
      await drop(second.client, closes, id);
      const third = await persistent(fx, id);
      await third.client.barrier();
      assert.deepEqual(third.client.received.filter((p) => p.type !== PacketType.CONNACK && p.type !== PacketType.PINGRESP), []);
    }));

  test('[MQTT-4.3.2-1] a PUBACK for the resent message completes the flow', () =>
    withBroker({}, async (fx, closes) => {
      const id = uniqueId('complete');
      const first = await persistent(fx, id, { autoAck: false });
      await first.client.subscribe('complete/t', 1);
      await publishAll(fx, 'complete/t', [['m', 1]]);
      await receivedPublishes(first.client, 1);
      await drop(first.client, closes, id);
      const second = await persistent(fx, id); // autoAck on: acknowledges the resent PUBLISH
      await receivedPublishes(second.client, 1);
      await second.client.barrier();
      await drop(second.client, closes, id);
      const third = await persistent(fx, id);
      await third.client.barrier();
      assert.deepEqual(publishes(third.client.received), []);
    }));
});

describe('session state held by the server', () => {
  test('[MQTT-4.3.3-2] [MQTT-4.1.0-1] an incoming QoS 2 message re-sent after a reconnect (before PUBREL) is not delivered twice', () =>
    withBroker({}, async (fx, closes) => {
      const watcher = fx.client();
      await watcher.connect();
      await watcher.subscribe('in2/t', 2);
      const id = uniqueId('in2');
      const first = await persistent(fx, id);
      const publish: PublishPacket = { type: PacketType.PUBLISH, topic: 'in2/t', payload: Buffer.from('once'), qos: 2, retain: false, dup: false, packetId: 42 };
      first.client.send(publish);
      await first.client.next((p) => p.type === PacketType.PUBREC && p.packetId === 42);
      await drop(first.client, closes, id);

      const second = await persistent(fx, id);
      assert.equal(second.sessionPresent, true);
      second.client.send({ ...publish, dup: true });
      await second.client.next((p) => p.type === PacketType.PUBREC && p.packetId === 42);
      second.client.send({ type: PacketType.PUBREL, packetId: 42, reasonCode: 0 });
      await second.client.next((p) => p.type === PacketType.PUBCOMP && p.packetId === 42);
      await receivedPublishes(watcher, 1);
      await watcher.barrier();
      assert.deepEqual(payloads(watcher.received), ['once']);
    }));

  test('[MQTT-4.4.0-1] a session taken over while messages are in flight resends them, with DUP 1, on the new connection', () =>
    withBroker({}, async (fx) => {
      const id = uniqueId('takeover');
      const first = await persistent(fx, id, { autoAck: false });
      await first.client.subscribe('tk/t', 1);
      await publishAll(fx, 'tk/t', [['x', 1], ['y', 1]]);
      const original = await receivedPublishes(first.client, 2);
      const second = await persistent(fx, id, { autoAck: false });
      assert.equal(second.sessionPresent, true);
      await first.client.closedWithin();
      const resent = await receivedPublishes(second.client, 2);
      assert.deepEqual(payloads(resent), ['x', 'y']);
      assert.deepEqual(resent.map((p) => p.dup), [true, true]);
      assert.deepEqual(resent.map((p) => p.packetId), original.map((p) => p.packetId));
    }));

  test('[MQTT-3.2.2-4] a refused CONNECT leaves the stored session alone; the next accepted one finds it', () => {
    let refuse = false;
    const authenticator: Authenticator = { authenticate: () => (refuse ? { ok: false, returnCode: 5 } : { ok: true }) };
    return withBroker({ authenticator }, async (fx, closes) => {
      const id = uniqueId('kept');
      const first = await persistent(fx, id);
      await first.client.subscribe('kept/t', 1);
      await leave(first.client, closes, id);
      await publishAll(fx, 'kept/t', [['waiting', 1]]);
      refuse = true;
      const refused = fx.client();
      const connack = await refused.connect({ clientId: id, cleanStart: false });
      assert.equal(connack.reasonCode, 5);
      assert.equal(connack.sessionPresent, false, '[MQTT-3.2.2-4] session present 0 with a non-zero return code');
      await refused.closedWithin();
      refuse = false;
      const back = await persistent(fx, id);
      assert.equal(back.sessionPresent, true);
      assert.deepEqual(payloads(await receivedPublishes(back.client, 1)), ['waiting']);
    });
  });
});

describe('packet identifiers', () => {
  test('[MQTT-2.3.1-2] packet ids of messages in flight to one client are unique', () =>
    withBroker({ maxInflightMessages: 10 }, async (fx) => {
      const c = fx.client({ autoAck: false });
      await c.connect();
      await c.subscribe('ids/t', 1);
      await publishAll(fx, 'ids/t', Array.from({ length: 10 }, (_, i): [string, QoS] => [`m${i}`, 1]));
      const first = await receivedPublishes(c, 10);
      const ids = first.map((p) => p.packetId as number);
      assert.equal(new Set(ids).size, 10, `ids ${ids.join(',')}`);
      for (const id of ids) assert.ok(id >= 1 && id <= 65535);

      // acknowledge every other one; the new messages must not reuse an id still in flight
      const stillInFlight = new Set(ids.filter((_, i) => i % 2 === 1));
      for (const id of ids.filter((_, i) => i % 2 === 0)) c.send({ type: PacketType.PUBACK, packetId: id, reasonCode: 0 });
      await publishAll(fx, 'ids/t', Array.from({ length: 5 }, (_, i): [string, QoS] => [`n${i}`, 1]));
      const all = await receivedPublishes(c, 15);
      const fresh = all.slice(10).map((p) => p.packetId as number);
      assert.equal(new Set(fresh).size, 5);
      for (const id of fresh) assert.ok(!stillInFlight.has(id), `id ${id} reused while in flight`);
    }));

  test('[MQTT-2.3.1-2] QoS 1 and QoS 2 deliveries share one id space', () =>
    withBroker({}, async (fx) => {
      const c = fx.client({ autoAck: false });
      await c.connect();
      await c.subscribe('mixed/t', 2);
      await publishAll(fx, 'mixed/t', [['a', 1], ['b', 2], ['c', 1], ['d', 2]]);
      const got = await receivedPublishes(c, 4);
      assert.equal(new Set(got.map((p) => p.packetId)).size, 4);
    }));

  test('[MQTT-2.3.1-5] QoS 0 PUBLISH carries no packet id', () =>
    withBroker({}, async (fx) => {
      const c = fx.client();
      await c.connect();
      await c.subscribe('q0/t', 0);
      await publishAll(fx, 'q0/t', [['z', 1]]);
      const [msg] = await receivedPublishes(c, 1);
      assert.equal(msg?.qos, 0);
      assert.equal(msg?.packetId, undefined);
    }));
});
