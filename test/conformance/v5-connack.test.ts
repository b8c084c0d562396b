// Conformance: what a v5 CONNACK tells the client (section 3.2.2.3) and that the server
// holds the client to it: capabilities from the settings, Server Keep Alive, Assigned
// Client Identifier and Response Information.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { PacketType, type DisconnectPacket, type PublishPacket, type QoS } from '../../src/protocol/types.js';
import { FakeClock } from '../helpers/fake-clock.js';
import type { TestClient } from '../helpers/mqtt-test-client.js';
import { uniqueId } from './lifecycle-support.js';
import { assertNothingDelivered, brokerFor, connected, text } from './pubsub-support.js';

function publish(topic: string, qos: QoS, retain = false): PublishPacket {
  return { type: PacketType.PUBLISH, topic, payload: Buffer.from('x'), qos, retain, dup: false, ...(qos > 0 ? { packetId: 1 } : {}) };
}

async function disconnectedWith(client: TestClient, packet: PublishPacket, code: number): Promise<void> {
  client.send(packet);
  const dc = await client.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
  assert.equal(dc.reasonCode, code, `DISCONNECT 0x${dc.reasonCode.toString(16)}, expected 0x${code.toString(16)}`);
  await client.closedWithin();
}

describe('v5 CONNACK: capabilities', () => {
  test('defaults: Maximum Packet Size, Receive Maximum, Topic Alias Maximum, Shared Subscription Available 1; no Retain Available 0, no Maximum QoS, nothing unasked', async (t) => {
    const fx = brokerFor(t);
    const c = fx.client({ version: 5 });
    const connack = await c.connect({ clientId: uniqueId('ca') });
    assert.equal(connack.reasonCode, 0);
    const p = connack.properties ?? {};
    assert.equal(p.maximumPacketSize, 1024 * 1024);
    assert.equal(p.receiveMaximum, 20);
    assert.equal(p.topicAliasMaximum, 10);
    assert.equal(p.sharedSubscriptionAvailable, 1);
    assert.equal(p.retainAvailable, undefined, 'absent means available');
    assert.equal(p.maximumQoS, undefined, 'absent means QoS 2');
    assert.equal(p.serverKeepAlive, undefined);
    assert.equal(p.assignedClientIdentifier, undefined);
    assert.equal(p.responseInformation, undefined);
    assert.equal(p.sessionExpiryInterval, undefined);
  });

  test('configured values are what CONNACK announces (max_packet_size, max_inflight_messages, max_topic_alias)', async (t) => {
    const fx = brokerFor(t, { maxPacketSize: 5000, maxInflightMessages: 7, maxTopicAlias: 3 });
    const c = fx.client({ version: 5 });
    const p = (await c.connect()).properties ?? {};
    assert.equal(p.maximumPacketSize, 5000);
    assert.equal(p.receiveMaximum, 7);
    assert.equal(p.topicAliasMaximum, 3);
  });

  test('max_inflight_messages 0 (no limit): no Receive Maximum, which means 65,535', async (t) => {
    const fx = brokerFor(t, { maxInflightMessages: 0 });
    const c = fx.client({ version: 5 });
    assert.equal((await c.connect()).properties?.receiveMaximum, undefined);
  });

  test('a 3.1.1 client gets a plain CONNACK', async (t) => {
    const fx = brokerFor(t, { maxQos: 1, retainAvailable: false });
    const c = fx.client({ version: 4 });
    const connack = await c.connect();
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.properties, undefined);
  });
});

describe('v5 CONNACK: Retain Available 0 (retain_available false)', () => {
  test('CONNACK says Retain Available 0; a retained PUBLISH -> DISCONNECT 0x9A [MQTT-3.2.2-14]', async (t) => {
    const fx = brokerFor(t, { retainAvailable: false });
    const c = fx.client({ version: 5 });
    assert.equal((await c.connect()).properties?.retainAvailable, 0);
    await disconnectedWith(c, publish('ca/retain', 0, true), ReasonCode.RETAIN_NOT_SUPPORTED);
  });

  test('non-retained PUBLISH still works', async (t) => {
    const fx = brokerFor(t, { retainAvailable: false });
    const sub = await connected(fx, { version: 5 });
    await sub.subscribe('ca/plain', 1);
    const c = await connected(fx, { version: 5 });
    await c.publish('ca/plain', 'not retained', 1);
    assert.equal(text(await sub.nextPublish()), 'not retained');
  });

  test('[MQTT-3.2.2-13] a CONNECT with Will Retain 1 is refused with CONNACK 0x9A (Retain not supported)', async (t) => {
    const fx = brokerFor(t, { retainAvailable: false });
    const c = fx.client({ version: 5 });
    const connack = await c.connect({ will: { topic: 'ca/will', payload: Buffer.from('w'), qos: 0, retain: true } });
    assert.equal(connack.reasonCode, ReasonCode.RETAIN_NOT_SUPPORTED);
    assert.equal(connack.sessionPresent, false, '[MQTT-3.2.2-6]');
    await c.closedWithin();
  });
});

describe('v5 CONNACK: Maximum QoS (max_qos)', () => {
  test('[MQTT-3.2.2-9] max_qos 1: CONNACK says Maximum QoS 1; a QoS 2 PUBLISH -> DISCONNECT 0x9B', async (t) => {
    const fx = brokerFor(t, { maxQos: 1 });
    const c = fx.client({ version: 5 });
    assert.equal((await c.connect()).properties?.maximumQoS, 1);
    await disconnectedWith(c, publish('ca/q2', 2), ReasonCode.QOS_NOT_SUPPORTED);
  });

  test('[MQTT-3.2.2-9] max_qos 0: CONNACK says Maximum QoS 0; a QoS 1 PUBLISH -> DISCONNECT 0x9B', async (t) => {
    const fx = brokerFor(t, { maxQos: 0 });
    const c = fx.client({ version: 5 });
    assert.equal((await c.connect()).properties?.maximumQoS, 0);
    await disconnectedWith(c, publish('ca/q1', 1), ReasonCode.QOS_NOT_SUPPORTED);
  });

  test('[MQTT-3.2.2-10] max_qos 1: SUBSCRIBE at QoS 0, 1 and 2 is accepted, granted at most 1, and delivery follows the grant', async (t) => {
    const fx = brokerFor(t, { maxQos: 1 });
    const sub = await connected(fx, { version: 5 });
    const suback = await sub.subscribe([
      { topicFilter: 'ca/g0', qos: 0 },
      { topicFilter: 'ca/g1', qos: 1 },
      { topicFilter: 'ca/g2', qos: 2 },
    ]);
    assert.deepEqual(suback.reasonCodes, [0, 1, 1]);
    const pub = await connected(fx, { version: 5 });
    await pub.publish('ca/g2', 'at most 1', 1);
    const got = await sub.nextPublish();
    assert.equal(got.qos, 1);
  });

  test('[MQTT-3.2.2-12] a CONNECT with a Will QoS above Maximum QoS is refused with CONNACK 0x9B (QoS not supported)', async (t) => {
    const fx = brokerFor(t, { maxQos: 1 });
    const c = fx.client({ version: 5 });
    const connack = await c.connect({ will: { topic: 'ca/will', payload: Buffer.from('w'), qos: 2, retain: false } });
    assert.equal(connack.reasonCode, ReasonCode.QOS_NOT_SUPPORTED);
    assert.equal(connack.sessionPresent, false, '[MQTT-3.2.2-6]');
    await c.closedWithin();
  });

  test('a Will QoS within Maximum QoS is accepted', async (t) => {
    const fx = brokerFor(t, { maxQos: 1 });
    const c = fx.client({ version: 5 });
    const connack = await c.connect({ will: { topic: 'ca/will', payload: Buffer.from('w'), qos: 1, retain: false } });
    assert.equal(connack.reasonCode, 0);
  });
});

describe('v5 CONNACK: Server Keep Alive (max_keepalive)', () => {
  test('[MQTT-3.2.2-21] keepalive 120 over max_keepalive 60: CONNACK Server Keep Alive 60, and the server times out at 1.5 x 60 s', async (t) => {
    const clock = new FakeClock();
    const fx = brokerFor(t, { maxKeepalive: 60, clock });
    const c = fx.client({ version: 5 });
    const connack = await c.connect({ keepAlive: 120 });
    assert.equal(connack.reasonCode, 0);
    assert.equal(connack.properties?.serverKeepAlive, 60);
    clock.advance(89_999);
    await c.barrier();
    clock.advance(89_999);
    assert.equal(c.closed, false, 'the PINGREQ at 90 s restarted the period');
    clock.advance(1);
    const dc = await c.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
    assert.equal(dc.reasonCode, ReasonCode.KEEP_ALIVE_TIMEOUT);
    await c.closedWithin();
  });

  test('[MQTT-3.2.2-22] keepalive 30 within max_keepalive: no Server Keep Alive, and the server uses 30 s (1.5 x 30 = 45 s)', async (t) => {
    const clock = new FakeClock();
    const fx = brokerFor(t, { maxKeepalive: 60, clock });
    const c = fx.client({ version: 5 });
    const connack = await c.connect({ keepAlive: 30 });
    assert.equal(connack.properties?.serverKeepAlive, undefined);
    clock.advance(44_999);
    await c.barrier();
    assert.equal(c.closed, false);
    clock.advance(45_000);
    await c.closedWithin();
  });
});

describe('v5 CONNACK: Assigned Client Identifier', () => {
  test('[MQTT-3.2.2-16] [MQTT-3.1.3-7] an empty client id gets an Assigned Client Identifier, unique per connection', async (t) => {
    const fx = brokerFor(t);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = fx.client({ version: 5 });
      const connack = await c.connect({ clientId: '' });
      assert.equal(connack.reasonCode, 0);
      const id = connack.properties?.assignedClientIdentifier;
      assert.ok(id !== undefined && id.length > 0, 'Assigned Client Identifier present');
      assert.ok(id.startsWith('auto-'), `auto_id_prefix: ${id}`);
      ids.push(id);
    }
    assert.equal(new Set(ids).size, 3);
  });

  test('[MQTT-3.1.3-7] the assigned id names the session: reconnecting with it (clean start 0) finds the session', async (t) => {
    const fx = brokerFor(t);
    const c = fx.client({ version: 5 });
    const connack = await c.connect({ clientId: '', properties: { sessionExpiryInterval: 300 } });
    const id = connack.properties?.assignedClientIdentifier as string;
    await c.subscribe('ca/assigned', 1);
    c.disconnect();
    await c.closedWithin();
    const pub = await connected(fx, { version: 5 });
    await pub.publish('ca/assigned', 'for the assigned id', 1);
    const back = fx.client({ version: 5 });
    const again = await back.connect({ clientId: id, cleanStart: false, properties: { sessionExpiryInterval: 0 } });
    assert.equal(again.sessionPresent, true);
    assert.equal(again.properties?.assignedClientIdentifier, undefined, 'only for an empty client id');
    assert.equal(text(await back.nextPublish()), 'for the assigned id');
  });

  test('[MQTT-3.1.3-8] allow_zero_length_clientid false: an empty client id is refused with CONNACK 0x85', async (t) => {
    const fx = brokerFor(t, { allowZeroLengthClientId: false });
    const c = fx.client({ version: 5 });
    const connack = await c.connect({ clientId: '' });
    assert.equal(connack.reasonCode, ReasonCode.CLIENT_IDENTIFIER_NOT_VALID);
    await c.closedWithin();
  });
});

describe('v5 CONNACK: Response Information (response_information_prefix)', () => {
  test('Request Response Information 1: CONNACK carries "<prefix><clientId>/" (default prefix responses/)', async (t) => {
    const fx = brokerFor(t);
    const id = uniqueId('rri');
    const c = fx.client({ version: 5 });
    const connack = await c.connect({ clientId: id, properties: { requestResponseInformation: 1 } });
    assert.equal(connack.properties?.responseInformation, `responses/${id}/`);
  });

  test('a configured prefix is used; with an empty client id the assigned id is', async (t) => {
    const fx = brokerFor(t, { responseInformationPrefix: 'rr/' });
    const c = fx.client({ version: 5 });
    const connack = await c.connect({ clientId: '', properties: { requestResponseInformation: 1 } });
    const id = connack.properties?.assignedClientIdentifier as string;
    assert.equal(connack.properties?.responseInformation, `rr/${id}/`);
  });

  test('[MQTT-3.1.2-28] Request Response Information 0 or absent: no Response Information', async (t) => {
    const fx = brokerFor(t);
    const zero = fx.client({ version: 5 });
    assert.equal((await zero.connect({ properties: { requestResponseInformation: 0 } })).properties?.responseInformation, undefined);
    const absent = fx.client({ version: 5 });
    assert.equal((await absent.connect()).properties?.responseInformation, undefined);
  });

  test('response_information_prefix empty: no Response Information even when asked', async (t) => {
    const fx = brokerFor(t, { responseInformationPrefix: '' });
    const c = fx.client({ version: 5 });
    assert.equal((await c.connect({ properties: { requestResponseInformation: 1 } })).properties?.responseInformation, undefined);
  });

  test('the response information works as a topic prefix: a requester subscribed under it gets the reply', async (t) => {
    const fx = brokerFor(t);
    const requester = fx.client({ version: 5 });
    const connack = await requester.connect({ properties: { requestResponseInformation: 1 } });
    const prefix = connack.properties?.responseInformation as string;
    await requester.subscribe(`${prefix}#`, 1);
    const responder = await connected(fx, { version: 5 });
    await responder.publish(`${prefix}answer`, 'reply', 1);
    const got = await requester.nextPublish();
    assert.equal(got.topic, `${prefix}answer`);
    await assertNothingDelivered(requester);
  });
});
