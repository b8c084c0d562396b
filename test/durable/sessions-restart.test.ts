// Persistent sessions across a crash of the broker (SQLite store, in-process restarts):
// subscriptions, queued and in-flight QoS 1/2 messages, incoming QoS 2 ids, retained messages.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { PacketType, type AckPacket, type Packet, type PublishPacket } from '../../src/protocol/types.js';
import { waitFor } from '../helpers/wait-for.js';
import { Restarts, nextTurn } from './restart-support.js';

let r: Restarts;
beforeEach(() => {
  r = new Restarts();
});
afterEach(async () => {
  await r.cleanup();
});

const publishes = (packets: Packet[]): PublishPacket[] => packets.filter((p): p is PublishPacket => p.type === PacketType.PUBLISH);

test('[MQTT-3.1.2-4] a 3.1.1 persistent session comes back after a crash: subscriptions and queued QoS 1/2 messages, in order', async () => {
  const a = r.boot();
  const sub = a.client();
  await sub.connect({ clientId: 'sub', cleanStart: false });
  await sub.subscribe('a/#', 2);
  sub.disconnect();
  const pub = a.client();
  await pub.connect();
  await pub.publish('a/1', 'one', 1);
  await pub.publish('a/2', 'two', 2);
  await pub.publish('a/3', 'three', 0); // QoS 0 is not queued for an offline session
  await a.crash();

  const b = r.boot();
  const again = b.client();
  const connack = await again.connect({ clientId: 'sub', cleanStart: false });
  assert.equal(connack.sessionPresent, true);
  const first = await again.nextPublish();
  const second = await again.nextPublish();
  assert.deepEqual([first.topic, first.payload.toString(), first.qos], ['a/1', 'one', 1]);
  assert.deepEqual([second.topic, second.payload.toString(), second.qos], ['a/2', 'two', 2]);
  // the subscription came back too
  const pub2 = b.client();
  await pub2.connect();
  await pub2.publish('a/4', 'four', 1);
  const fourth = await again.nextPublish();
  assert.equal(fourth.topic, 'a/4');
  await again.barrier();
  assert.equal(publishes(again.received).length, 3);
  await b.close();
});

test('v5 properties of a queued message and the subscription options survive a crash', async () => {
  const a = r.boot();
  const sub = a.client({ version: 5 });
  await sub.connect({ clientId: 'sub5', cleanStart: true, properties: { sessionExpiryInterval: 600 } });
  await sub.subscribe([{ topicFilter: 'v/+', qos: 1, noLocal: true, retainAsPublished: true }]);
  sub.disconnect();
  const pub = a.client({ version: 5 });
  await pub.connect();
  pub.send({
    type: PacketType.PUBLISH,
    topic: 'v/x',
    payload: Buffer.from([0, 1, 2, 255]),
    qos: 1,
    retain: false,
    dup: false,
    packetId: 9,
    properties: {
      contentType: 'application/octet-stream',
      correlationData: Buffer.from([7, 7]),
      responseTopic: 'reply/here',
      userProperties: [
        ['k', 'v'],
        ['k', 'w'],
      ],
    },
  });
  await pub.nextOfType(PacketType.PUBACK);
  await a.crash();

  const b = r.boot();
  const again = b.client({ version: 5 });
  const connack = await again.connect({ clientId: 'sub5', cleanStart: false, properties: { sessionExpiryInterval: 600 } });
  assert.equal(connack.sessionPresent, true);
  const msg = await again.nextPublish();
  assert.deepEqual(msg.payload, Buffer.from([0, 1, 2, 255]));
  assert.equal(msg.properties?.contentType, 'application/octet-stream');
  assert.deepEqual(msg.properties?.correlationData, Buffer.from([7, 7]));
  assert.equal(msg.properties?.responseTopic, 'reply/here');
  assert.deepEqual(msg.properties?.userProperties, [
    ['k', 'v'],
    ['k', 'w'],
  ]);
  // No Local came back: its own publish is not delivered to it [MQTT-3.8.3-3]
  await again.publish('v/self', 'mine', 1);
  await again.barrier();
  assert.equal(publishes(again.received).length, 1);
  await b.close();
});

test('[MQTT-4.4.0-1] after a crash, unacknowledged QoS 1 is resent with DUP and the same packet id; QoS 2 past PUBREC gets PUBREL', async () => {
  const a = r.boot();
  const sub = a.client({ autoAck: false });
  await sub.connect({ clientId: 'slow', cleanStart: false });
  await sub.subscribe('q/#', 2);
  const pub = a.client();
  await pub.connect();
  await pub.publish('q/1', 'one', 1);
  await pub.publish('q/2', 'two', 2);
  const p1 = await sub.nextPublish();
  const p2 = await sub.nextPublish();
  sub.send({ type: PacketType.PUBREC, packetId: p2.packetId as number, reasonCode: 0 });
  // PUBREL leaves only after the pubrel stage is stored
  await sub.nextOfType(PacketType.PUBREL);
  await a.crash();

  const b = r.boot();
  const again = b.client({ autoAck: false });
  const connack = await again.connect({ clientId: 'slow', cleanStart: false });
  assert.equal(connack.sessionPresent, true);
  const resent = await again.nextPublish();
  assert.equal(resent.dup, true);
  assert.equal(resent.packetId, p1.packetId);
  assert.equal(resent.payload.toString(), 'one');
  const pubrel = await again.nextOfType<AckPacket>(PacketType.PUBREL);
  assert.equal(pubrel.packetId, p2.packetId);
  again.send({ type: PacketType.PUBACK, packetId: p1.packetId as number, reasonCode: 0 });
  again.send({ type: PacketType.PUBCOMP, packetId: p2.packetId as number, reasonCode: 0 });
  await again.barrier();
  await nextTurn();
  await waitFor(() => b.count('deliveries') === 0 && b.count('messages') === 0, { message: 'the finished deliveries to leave the file' });
  await b.close();
});

test('[MQTT-4.3.3-2] a QoS 2 PUBLISH re-sent after a crash, before PUBREL, is not delivered again', async () => {
  const a = r.boot();
  const sub = a.client();
  await sub.connect({ clientId: 'receiver', cleanStart: false });
  await sub.subscribe('once', 2);
  sub.disconnect();
  const pub = a.client();
  await pub.connect({ clientId: 'sender', cleanStart: false });
  pub.send({ type: PacketType.PUBLISH, topic: 'once', payload: Buffer.from('x'), qos: 2, retain: false, dup: false, packetId: 7 });
  await pub.nextOfType(PacketType.PUBREC);
  await a.crash();

  const b = r.boot();
  const pubAgain = b.client();
  assert.equal((await pubAgain.connect({ clientId: 'sender', cleanStart: false })).sessionPresent, true);
  pubAgain.send({ type: PacketType.PUBLISH, topic: 'once', payload: Buffer.from('x'), qos: 2, retain: false, dup: true, packetId: 7 });
  await pubAgain.nextOfType(PacketType.PUBREC);
  pubAgain.send({ type: PacketType.PUBREL, packetId: 7, reasonCode: 0 });
  await pubAgain.nextOfType(PacketType.PUBCOMP);
  const subAgain = b.client();
  await subAgain.connect({ clientId: 'receiver', cleanStart: false });
  await subAgain.nextPublish();
  await subAgain.barrier();
  assert.equal(publishes(subAgain.received).length, 1);
  await b.close();
});

test('retained messages survive a crash; so does their deletion; an expired one is gone', async () => {
  const a = r.boot();
  const pub = a.client({ version: 5 });
  await pub.connect();
  await pub.publish('r/keep', 'kept', 1, true);
  await pub.publish('r/gone', 'soon deleted', 1, true);
  await pub.publish('r/gone', '', 1, true);
  pub.send({
    type: PacketType.PUBLISH,
    topic: 'r/short',
    payload: Buffer.from('short-lived'),
    qos: 1,
    retain: true,
    dup: false,
    packetId: 40,
    properties: { messageExpiryInterval: 5 },
  });
  await pub.nextOfType(PacketType.PUBACK);
  await a.crash();
  r.clock.advance(6000);

  const b = r.boot();
  const sub = b.client();
  await sub.connect();
  await sub.subscribe('r/#', 1);
  const kept = await sub.nextPublish();
  assert.deepEqual([kept.topic, kept.payload.toString(), kept.retain], ['r/keep', 'kept', true]);
  await sub.barrier();
  assert.equal(publishes(sub.received).length, 1);
  await b.close();
});

test('sessions that end with their connection are never written', async () => {
  const a = r.boot();
  const sub = a.client();
  await sub.connect({ clientId: 'clean', cleanStart: true });
  await sub.subscribe('c/#', 1);
  const pub = a.client();
  await pub.connect();
  await pub.publish('c/1', 'x', 1);
  await sub.nextPublish();
  await nextTurn();
  assert.equal(a.count('sessions'), 0);
  assert.equal(a.count('subscriptions'), 0);
  assert.equal(a.count('deliveries'), 0);
  assert.equal(a.count('messages'), 0);
  await a.close();
});

test('a shared-subscription member keeps its queued messages across a crash', async () => {
  const a = r.boot();
  const member = a.client();
  await member.connect({ clientId: 'worker', cleanStart: false });
  await member.subscribe('$share/g/jobs/#', 1);
  member.disconnect();
  const pub = a.client();
  await pub.connect();
  await pub.publish('jobs/1', 'j1', 1);
  await pub.publish('jobs/2', 'j2', 1);
  await a.crash();

  const b = r.boot();
  const again = b.client();
  await again.connect({ clientId: 'worker', cleanStart: false });
  const got = [await again.nextPublish(), await again.nextPublish()].map((p) => p.payload.toString());
  assert.deepEqual(got, ['j1', 'j2']);
  // still a member of the group
  const pub2 = b.client();
  await pub2.connect();
  await pub2.publish('jobs/3', 'j3', 1);
  assert.equal((await again.nextPublish()).payload.toString(), 'j3');
  await b.close();
});

test('a clean start discards the stored session, and a session that is not resumed stays stored', async () => {
  const a = r.boot();
  const one = a.client();
  await one.connect({ clientId: 'one', cleanStart: false });
  await one.subscribe('x', 1);
  one.disconnect();
  const two = a.client();
  await two.connect({ clientId: 'two', cleanStart: false });
  await two.subscribe('y', 1);
  two.disconnect();
  await nextTurn();
  assert.equal(a.count('sessions'), 2);
  const fresh = a.client();
  await fresh.connect({ clientId: 'one', cleanStart: true });
  fresh.disconnect();
  await waitFor(() => a.count('sessions') === 1 && a.count('subscriptions') === 1, { message: 'the clean start to delete session "one"' });
  await a.crash();
  const b = r.boot();
  const back = b.client();
  assert.equal((await back.connect({ clientId: 'one', cleanStart: false })).sessionPresent, false);
  const other = b.client();
  assert.equal((await other.connect({ clientId: 'two', cleanStart: false })).sessionPresent, true);
  await b.close();
});
