// Conformance: MQTT 5.0 Message Expiry Interval (section 3.3.2.3.3) for queued, in-flight
// window and retained messages. Time is a FakeClock.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { PacketType, type AckPacket, type ProtocolVersion, type PublishPacket, type QoS } from '../../src/protocol/types.js';
import type { BrokerFixture } from '../helpers/broker-fixture.js';
import { FakeClock } from '../helpers/fake-clock.js';
import type { TestClient } from '../helpers/mqtt-test-client.js';
import { waitFor } from '../helpers/wait-for.js';
import { uniqueId } from './lifecycle-support.js';
import { assertNothingDelivered, brokerFor, connected, takePublishes, text } from './pubsub-support.js';

interface Env {
  fx: BrokerFixture;
  clock: FakeClock;
}

function env(t: TestContext): Env {
  const clock = new FakeClock();
  return { fx: brokerFor(t, { clock }), clock };
}

/** Publishes from a v5 client with a Message Expiry Interval (undefined: none); resolves after the ack. */
async function publishWithExpiry(pub: TestClient, topic: string, payload: string, seconds: number | undefined, qos: QoS = 1, retain = false): Promise<void> {
  const packet: PublishPacket = {
    type: PacketType.PUBLISH,
    topic,
    payload: Buffer.from(payload),
    qos,
    retain,
    dup: false,
    ...(seconds !== undefined ? { properties: { messageExpiryInterval: seconds } } : {}),
  };
  if (qos === 0) {
    pub.send(packet);
    await pub.barrier();
    return;
  }
  const packetId = pub.nextPacketId();
  pub.send({ ...packet, packetId });
  await pub.next((p) => (p.type === PacketType.PUBACK || p.type === PacketType.PUBREC) && p.packetId === packetId);
  if (qos === 2) {
    pub.send({ type: PacketType.PUBREL, packetId, reasonCode: 0 });
    await pub.next((p) => p.type === PacketType.PUBCOMP && p.packetId === packetId);
  }
}

/** A persistent subscriber (v5: Session Expiry Interval 3600; 3.1.1: clean session 0) that is then offline. */
async function offlineSubscriber(e: Env, id: string, filter: string, version: ProtocolVersion = 5): Promise<void> {
  const c = e.fx.client({ version });
  const connack = await c.connect({ clientId: id, cleanStart: version === 5, ...(version === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}) });
  assert.equal(connack.reasonCode, 0);
  await c.subscribe(filter, 1);
  const before = e.fx.broker.connectionCount;
  c.disconnect();
  await waitFor(() => e.fx.broker.connectionCount < before, { message: `${id} to be offline` });
}

async function reconnect(e: Env, id: string, version: ProtocolVersion = 5): Promise<TestClient> {
  const c = e.fx.client({ version });
  const connack = await c.connect({ clientId: id, cleanStart: false, ...(version === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}) });
  assert.equal(connack.sessionPresent, true);
  return c;
}

function retainedCount(fx: BrokerFixture): string | undefined {
  return fx.broker.sysSnapshot().get('$SYS/broker/retained messages/count');
}

describe('v5 message expiry: queued for an offline subscriber', () => {
  test('[MQTT-3.3.2-5] a queued message whose interval passed is not delivered; one without expiry still is; stats count it', async (t) => {
    const e = env(t);
    const id = uniqueId('me-gone');
    await offlineSubscriber(e, id, 'me/gone');
    const pub = await connected(e.fx, { version: 5 });
    await publishWithExpiry(pub, 'me/gone', 'expires', 5);
    await publishWithExpiry(pub, 'me/gone', 'stays', undefined);
    const expiredBefore = e.fx.broker.stats.publishExpired;
    e.clock.advance(5_000);
    const sub = await reconnect(e, id);
    const got = await sub.nextPublish();
    assert.equal(text(got), 'stays');
    assert.equal(got.properties?.messageExpiryInterval, undefined, 'no expiry was set on this one');
    await assertNothingDelivered(sub, 'the expired message is deleted for this subscriber');
    assert.equal(e.fx.broker.stats.publishExpired, expiredBefore + 1);
  });

  test('[MQTT-3.3.2-6] a message delivered after waiting carries the remaining interval: 10 s sent, 4 s waited -> 6', async (t) => {
    const e = env(t);
    const id = uniqueId('me-left');
    await offlineSubscriber(e, id, 'me/left');
    const pub = await connected(e.fx, { version: 5 });
    await publishWithExpiry(pub, 'me/left', 'ten seconds', 10);
    e.clock.advance(4_000);
    const sub = await reconnect(e, id);
    const got = await sub.nextPublish();
    assert.equal(text(got), 'ten seconds');
    assert.equal(got.properties?.messageExpiryInterval, 6);
  });

  test('[MQTT-3.3.2-5] just before the interval ends the message is still delivered (1 s left)', async (t) => {
    const e = env(t);
    const id = uniqueId('me-edge');
    await offlineSubscriber(e, id, 'me/edge');
    const pub = await connected(e.fx, { version: 5 });
    await publishWithExpiry(pub, 'me/edge', 'just in time', 5);
    e.clock.advance(4_000);
    const sub = await reconnect(e, id);
    const got = await sub.nextPublish();
    assert.equal(got.properties?.messageExpiryInterval, 1);
  });

  test('[MQTT-3.3.2-5] expiry is a property of the message: a 3.1.1 persistent subscriber does not get it after the interval either', async (t) => {
    const e = env(t);
    const id = uniqueId('me-v4');
    await offlineSubscriber(e, id, 'me/v4', 4);
    const pub = await connected(e.fx, { version: 5 });
    await publishWithExpiry(pub, 'me/v4', 'expires', 2);
    await publishWithExpiry(pub, 'me/v4', 'marker', undefined);
    e.clock.advance(3_000);
    const sub = await reconnect(e, id, 4);
    assert.equal(text(await sub.nextPublish()), 'marker');
    await assertNothingDelivered(sub);
  });
});

describe('v5 message expiry: online subscribers', () => {
  test('[MQTT-3.3.2-6] delivered at once: the interval is forwarded unchanged (nothing waited)', async (t) => {
    const e = env(t);
    const sub = await connected(e.fx, { version: 5 });
    await sub.subscribe('me/online', 1);
    const pub = await connected(e.fx, { version: 5 });
    await publishWithExpiry(pub, 'me/online', 'fresh', 120, 1);
    await publishWithExpiry(pub, 'me/online', 'fresh qos 0', 120, 0);
    const [a, b] = [await sub.nextPublish(), await sub.nextPublish()];
    assert.equal(a?.properties?.messageExpiryInterval, 120);
    assert.equal(b?.properties?.messageExpiryInterval, 120);
  });

  test('[MQTT-3.3.2-5] a message waiting behind a full Receive Maximum window expires there and is not sent', async (t) => {
    const e = env(t);
    const sub = e.fx.client({ version: 5, autoAck: false });
    await sub.connect({ properties: { receiveMaximum: 1 } });
    await sub.subscribe('me/window', 1);
    const pub = await connected(e.fx, { version: 5 });
    await publishWithExpiry(pub, 'me/window', 'in flight', 5);
    await publishWithExpiry(pub, 'me/window', 'waits and expires', 5);
    await publishWithExpiry(pub, 'me/window', 'waits, no expiry', undefined);
    const first = await sub.nextPublish();
    assert.equal(text(first), 'in flight');
    await assertNothingDelivered(sub, 'the window of 1 is full');
    const expiredBefore = e.fx.broker.stats.publishExpired;
    e.clock.advance(6_000);
    sub.send({ type: PacketType.PUBACK, packetId: first.packetId as number, reasonCode: 0 } satisfies AckPacket);
    const next = await sub.nextPublish();
    assert.equal(text(next), 'waits, no expiry');
    await assertNothingDelivered(sub);
    assert.equal(e.fx.broker.stats.publishExpired, expiredBefore + 1);
  });

  test('a 3.1.1 subscriber gets a message with an expiry interval as a plain PUBLISH (no properties)', async (t) => {
    const e = env(t);
    const sub = await connected(e.fx, { version: 4 });
    await sub.subscribe('me/plain', 1);
    const pub = await connected(e.fx, { version: 5 });
    await publishWithExpiry(pub, 'me/plain', 'to 3.1.1', 60);
    const got = await sub.nextPublish();
    assert.equal(text(got), 'to 3.1.1');
    assert.equal(got.properties, undefined);
  });
});

describe('v5 message expiry: retained messages', () => {
  test('[MQTT-3.3.2-6] a retained message sent to a new subscriber after 3 s carries 7 of its 10 s', async (t) => {
    const e = env(t);
    const pub = await connected(e.fx, { version: 5 });
    await publishWithExpiry(pub, 'me/retained/left', 'kept for 10 s', 10, 1, true);
    e.clock.advance(3_000);
    const sub = await connected(e.fx, { version: 5 });
    await sub.subscribe('me/retained/left', 1);
    const got = await sub.nextPublish();
    assert.equal(got.retain, true);
    assert.equal(got.properties?.messageExpiryInterval, 7);
  });

  test('[MQTT-3.3.2-5] an expired retained message is not sent to a new subscriber and no longer counts as retained', async (t) => {
    const e = env(t);
    const pub = await connected(e.fx, { version: 5 });
    await publishWithExpiry(pub, 'me/retained/gone', 'kept for 10 s', 10, 1, true);
    await publishWithExpiry(pub, 'me/retained/other', 'kept forever', undefined, 1, true);
    assert.equal(retainedCount(e.fx), '2');
    e.clock.advance(10_000);
    const sub = await connected(e.fx, { version: 5 });
    await sub.subscribe('me/retained/#', 1);
    const got = await sub.nextPublish();
    assert.equal(text(got), 'kept forever');
    await assertNothingDelivered(sub, 'the expired retained message');
    assert.equal(retainedCount(e.fx), '1');
    // and a later subscriber does not get it either
    const late = await connected(e.fx, { version: 4 });
    await late.subscribe('me/retained/gone', 1);
    await assertNothingDelivered(late);
    assert.deepEqual(takePublishes(late), []);
  });
});
