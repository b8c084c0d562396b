// Conformance: MQTT 5.0 Session Expiry Interval (sections 3.1.2.11.2, 3.2.2.3.2,
// 3.14.2.2.2) and the 3.1.1 persistent_client_expiration that bounds clean-session-0
// sessions the same way. Time is a FakeClock: "just before" and "just after" are exact.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { PacketType, type ConnackPacket, type DisconnectPacket, type Properties, type ProtocolVersion } from '../../src/protocol/types.js';
import type { CreateBrokerOptions } from '../../src/app/create-broker.js';
import type { BrokerFixture } from '../helpers/broker-fixture.js';
import { FakeClock } from '../helpers/fake-clock.js';
import type { TestClient } from '../helpers/mqtt-test-client.js';
import { waitFor } from '../helpers/wait-for.js';
import { publishes, uniqueId, withBroker, type CloseLog } from './lifecycle-support.js';

const NEVER = 0xffffffff;

interface Env {
  fx: BrokerFixture;
  closes: CloseLog;
  clock: FakeClock;
}

/** A broker on a FakeClock; the body gets both. */
function withClock(options: CreateBrokerOptions, body: (env: Env) => Promise<void>): Promise<void> {
  const clock = new FakeClock();
  return withBroker({ clock, ...options }, (fx, closes) => body({ fx, closes, clock }));
}

async function connectAs(
  env: Env,
  id: string,
  fields: { cleanStart?: boolean; properties?: Properties; version?: ProtocolVersion } = {},
): Promise<{ client: TestClient; connack: ConnackPacket }> {
  const client = env.fx.client({ version: fields.version ?? 5 });
  const connack = await client.connect({
    clientId: id,
    cleanStart: fields.cleanStart ?? false,
    ...(fields.properties !== undefined ? { properties: fields.properties } : {}),
  });
  assert.equal(connack.reasonCode, 0, `CONNACK for ${id}`);
  return { client, connack };
}

/** Waits until the broker has seen one more close of `id` than before `act` ran. */
async function closed(env: Env, id: string, act: () => void): Promise<void> {
  const before = env.closes.reasonsFor(id).length;
  act();
  await waitFor(() => env.closes.reasonsFor(id).length > before, { message: `the broker to see ${id} go` });
}

/** A subscriber to `topic` at QoS 1 that then goes away abnormally (its session stays per its expiry). */
async function offlineSubscriber(env: Env, id: string, topic: string, properties: Properties, version: ProtocolVersion = 5): Promise<void> {
  // v5 starts clean and persists by its expiry; 3.1.1 persists by clean session 0
  const { client } = await connectAs(env, id, { cleanStart: version === 5, properties, version });
  await client.subscribe(topic, 1);
  await closed(env, id, () => client.destroy());
}

async function publishQos1(env: Env, topic: string, payload: string): Promise<void> {
  const pub = env.fx.client({ version: 5 });
  await pub.connect();
  await pub.publish(topic, payload, 1);
  pub.disconnect();
}

/** Reconnects with clean start 0 and returns session present plus the payloads delivered meanwhile. */
async function comeBack(env: Env, id: string, version: ProtocolVersion = 5): Promise<{ sessionPresent: boolean; got: string[]; client: TestClient }> {
  const { client, connack } = await connectAs(env, id, { cleanStart: false, version, properties: version === 5 ? { sessionExpiryInterval: 0 } : undefined });
  await client.barrier();
  return { sessionPresent: connack.sessionPresent, got: publishes(client.received).map((p) => p.payload.toString()), client };
}

describe('v5 session expiry: how long a session outlives its connection', () => {
  test('[MQTT-3.1.2-23] Session Expiry Interval absent (= 0): the session ends with the network connection', () =>
    withClock({}, async (env) => {
      const id = uniqueId('se-absent');
      await offlineSubscriber(env, id, 'se/absent', {});
      await publishQos1(env, 'se/absent', 'lost');
      const back = await comeBack(env, id);
      assert.equal(back.sessionPresent, false);
      assert.deepEqual(back.got, []);
    }));

  test('[MQTT-3.1.2-23] Session Expiry Interval 0 with a clean DISCONNECT: nothing is kept', () =>
    withClock({}, async (env) => {
      const id = uniqueId('se-zero');
      const { client } = await connectAs(env, id, { properties: { sessionExpiryInterval: 0 } });
      await client.subscribe('se/zero', 1);
      await closed(env, id, () => client.disconnect());
      await publishQos1(env, 'se/zero', 'lost');
      const back = await comeBack(env, id);
      assert.equal(back.sessionPresent, false);
      assert.deepEqual(back.got, []);
    }));

  test('[MQTT-3.1.2-23] Session Expiry Interval 60: the offline session is present 1 ms before 60 s, with its queued message', () =>
    withClock({}, async (env) => {
      const id = uniqueId('se-before');
      await offlineSubscriber(env, id, 'se/before', { sessionExpiryInterval: 60 });
      await publishQos1(env, 'se/before', 'kept');
      env.clock.advance(59_999);
      const back = await comeBack(env, id);
      assert.equal(back.sessionPresent, true, '[MQTT-3.2.2-3] session present');
      assert.deepEqual(back.got, ['kept']);
    }));

  test('[MQTT-3.1.2-23] Session Expiry Interval 60: at 60 s the session is gone: session present 0, no queued messages, no subscription', () =>
    withClock({}, async (env) => {
      const id = uniqueId('se-after');
      await offlineSubscriber(env, id, 'se/after', { sessionExpiryInterval: 60 });
      await publishQos1(env, 'se/after', 'expired with the session');
      env.clock.advance(60_000);
      const back = await comeBack(env, id);
      assert.equal(back.sessionPresent, false);
      assert.deepEqual(back.got, []);
      // the new session has no subscription either
      await publishQos1(env, 'se/after', 'after');
      await back.client.barrier();
      assert.deepEqual(publishes(back.client.received), []);
    }));

  test('the expiry countdown starts again at each disconnect: present after 59 s, then gone 60 s after the second disconnect', () =>
    withClock({}, async (env) => {
      const id = uniqueId('se-restart');
      await offlineSubscriber(env, id, 'se/restart', { sessionExpiryInterval: 60 });
      env.clock.advance(59_000);
      const { client, connack } = await connectAs(env, id, { properties: { sessionExpiryInterval: 60 } });
      assert.equal(connack.sessionPresent, true);
      await closed(env, id, () => client.destroy());
      env.clock.advance(59_000);
      const { client: again, connack: c2 } = await connectAs(env, id, { properties: { sessionExpiryInterval: 60 } });
      assert.equal(c2.sessionPresent, true, 'the first countdown was cancelled by the reconnect');
      await closed(env, id, () => again.destroy());
      env.clock.advance(60_000);
      assert.equal((await comeBack(env, id)).sessionPresent, false);
    }));

  test('the Session Expiry Interval of the latest CONNECT applies: 60 s first, then 5 s', () =>
    withClock({}, async (env) => {
      const id = uniqueId('se-update');
      await offlineSubscriber(env, id, 'se/update', { sessionExpiryInterval: 60 });
      const { client, connack } = await connectAs(env, id, { properties: { sessionExpiryInterval: 5 } });
      assert.equal(connack.sessionPresent, true);
      await closed(env, id, () => client.destroy());
      env.clock.advance(5_000);
      assert.equal((await comeBack(env, id)).sessionPresent, false);
    }));

  test('Session Expiry Interval 0xFFFFFFFF: the session never expires (ten years later it is still there)', () =>
    withClock({}, async (env) => {
      const id = uniqueId('se-never');
      await offlineSubscriber(env, id, 'se/never', { sessionExpiryInterval: NEVER });
      await publishQos1(env, 'se/never', 'still here');
      env.clock.advance(10 * 365 * 24 * 3600 * 1000);
      const back = await comeBack(env, id);
      assert.equal(back.sessionPresent, true);
      assert.deepEqual(back.got, ['still here']);
    }));

  test('[MQTT-3.1.2-4] Clean Start 1 discards an unexpired session: session present 0, its messages and subscriptions gone', () =>
    withClock({}, async (env) => {
      const id = uniqueId('se-clean');
      await offlineSubscriber(env, id, 'se/clean', { sessionExpiryInterval: 300 });
      await publishQos1(env, 'se/clean', 'discarded');
      const { client, connack } = await connectAs(env, id, { cleanStart: true, properties: { sessionExpiryInterval: 300 } });
      assert.equal(connack.sessionPresent, false, '[MQTT-3.2.2-2]');
      await client.barrier();
      assert.deepEqual(publishes(client.received), []);
      await publishQos1(env, 'se/clean', 'no subscription any more');
      await client.barrier();
      assert.deepEqual(publishes(client.received), []);
    }));
});

describe('v5 session expiry: DISCONNECT can change it (section 3.14.2.2.2)', () => {
  test('CONNECT 300, DISCONNECT 0: the session ends with this connection', () =>
    withClock({}, async (env) => {
      const id = uniqueId('se-dc0');
      const { client } = await connectAs(env, id, { properties: { sessionExpiryInterval: 300 } });
      await client.subscribe('se/dc0', 1);
      await closed(env, id, () => {
        client.send({ type: PacketType.DISCONNECT, reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
        client.stream.end();
      });
      await publishQos1(env, 'se/dc0', 'lost');
      const back = await comeBack(env, id);
      assert.equal(back.sessionPresent, false);
      assert.deepEqual(back.got, []);
    }));

  test('CONNECT 10, DISCONNECT 100: the session outlives the connection by 100 s, not 10', () =>
    withClock({}, async (env) => {
      const id = uniqueId('se-dc100');
      const { client } = await connectAs(env, id, { properties: { sessionExpiryInterval: 10 } });
      await client.subscribe('se/dc100', 1);
      await closed(env, id, () => {
        client.send({ type: PacketType.DISCONNECT, reasonCode: 0, properties: { sessionExpiryInterval: 100 } });
        client.stream.end();
      });
      await publishQos1(env, 'se/dc100', 'kept');
      env.clock.advance(99_000);
      const back = await comeBack(env, id);
      assert.equal(back.sessionPresent, true);
      assert.deepEqual(back.got, ['kept']);
    }));

  test('CONNECT 0, DISCONNECT non-zero is a Protocol Error: the server answers DISCONNECT 0x82 without a Session Expiry Interval [MQTT-3.14.2-2], publishes the will and keeps nothing', () =>
    withClock({}, async (env) => {
      const id = uniqueId('se-dcbad');
      const watcher = env.fx.client({ version: 5 });
      await watcher.connect();
      await watcher.subscribe('se/dcbad/will', 1);
      const client = env.fx.client({ version: 5 });
      const connack = await client.connect({
        clientId: id,
        cleanStart: false,
        properties: { sessionExpiryInterval: 0 },
        will: { topic: 'se/dcbad/will', payload: Buffer.from('not a valid DISCONNECT'), qos: 1, retain: false },
      });
      assert.equal(connack.reasonCode, 0);
      await client.subscribe('se/dcbad', 1);
      client.send({ type: PacketType.DISCONNECT, reasonCode: 0, properties: { sessionExpiryInterval: 60 } });
      const disconnect = await client.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
      assert.equal(disconnect.reasonCode, ReasonCode.PROTOCOL_ERROR);
      assert.equal(disconnect.properties?.sessionExpiryInterval, undefined, '[MQTT-3.14.2-2] no Session Expiry Interval from the server');
      await client.closedWithin();
      // not treated as a valid DISCONNECT: the will goes out
      const will = await watcher.nextPublish();
      assert.equal(will.payload.toString(), 'not a valid DISCONNECT');
      await publishQos1(env, 'se/dcbad', 'lost');
      const back = await comeBack(env, id);
      assert.equal(back.sessionPresent, false, 'the session still ended with the connection');
      assert.deepEqual(back.got, []);
    }));
});

describe('v5 session expiry: the server cap (max_session_expiry_interval, section 3.2.2.3.2)', () => {
  test('asked 100 s, cap 30 s: CONNACK carries Session Expiry Interval 30 and the session is gone at 30 s', () =>
    withClock({ maxSessionExpiryInterval: 30 }, async (env) => {
      const id = uniqueId('se-cap');
      const { client, connack } = await connectAs(env, id, { cleanStart: true, properties: { sessionExpiryInterval: 100 } });
      assert.equal(connack.properties?.sessionExpiryInterval, 30);
      await client.subscribe('se/cap', 1);
      await closed(env, id, () => client.destroy());
      env.clock.advance(29_999);
      const early = await connectAs(env, id, { properties: { sessionExpiryInterval: 100 } });
      assert.equal(early.connack.sessionPresent, true, 'still there just before the granted 30 s');
      assert.equal(early.connack.properties?.sessionExpiryInterval, 30);
      await closed(env, id, () => early.client.destroy());
      env.clock.advance(30_000);
      assert.equal((await comeBack(env, id)).sessionPresent, false);
    }));

  test('a DISCONNECT raising the interval is capped too: DISCONNECT 100 s with cap 30 s ends the session at 30 s', () =>
    withClock({ maxSessionExpiryInterval: 30 }, async (env) => {
      const id = uniqueId('se-dccap');
      const { client } = await connectAs(env, id, { cleanStart: true, properties: { sessionExpiryInterval: 10 } });
      await client.subscribe('se/dccap', 1);
      await closed(env, id, () => {
        client.send({ type: PacketType.DISCONNECT, reasonCode: 0, properties: { sessionExpiryInterval: 100 } });
        client.stream.end();
      });
      env.clock.advance(29_999);
      const early = await connectAs(env, id, { properties: { sessionExpiryInterval: 10 } });
      assert.equal(early.connack.sessionPresent, true, 'the DISCONNECT value (capped to 30 s) applies, not the CONNECT 10 s');
      await closed(env, id, () => {
        early.client.send({ type: PacketType.DISCONNECT, reasonCode: 0, properties: { sessionExpiryInterval: 100 } });
        early.client.stream.end();
      });
      env.clock.advance(30_000);
      assert.equal((await comeBack(env, id)).sessionPresent, false, 'gone at the cap, not at 100 s');
    }));

  test('0xFFFFFFFF is capped too: CONNACK says 30', () =>
    withClock({ maxSessionExpiryInterval: 30 }, async (env) => {
      const { connack } = await connectAs(env, uniqueId('se-capnever'), { cleanStart: true, properties: { sessionExpiryInterval: NEVER } });
      assert.equal(connack.properties?.sessionExpiryInterval, 30);
    }));

  test('asked within the cap: CONNACK has no Session Expiry Interval (the client value stands)', () =>
    withClock({ maxSessionExpiryInterval: 30 }, async (env) => {
      const id = uniqueId('se-under');
      const { client, connack } = await connectAs(env, id, { cleanStart: true, properties: { sessionExpiryInterval: 20 } });
      assert.equal(connack.properties?.sessionExpiryInterval, undefined);
      await client.subscribe('se/under', 1);
      await closed(env, id, () => client.destroy());
      env.clock.advance(19_999);
      assert.equal((await comeBack(env, id)).sessionPresent, true);
    }));

  test('no cap by default: CONNACK has no Session Expiry Interval for 0xFFFFFFFF', () =>
    withClock({}, async (env) => {
      const { connack } = await connectAs(env, uniqueId('se-nocap'), { cleanStart: true, properties: { sessionExpiryInterval: NEVER } });
      assert.equal(connack.properties?.sessionExpiryInterval, undefined);
    }));
});

describe('3.1.1 persistent sessions and persistent_client_expiration', () => {
  test('clean session 0 with persistent_client_expiration 120: kept until just before 120 s', () =>
    withClock({ persistentClientExpiration: 120 }, async (env) => {
      const id = uniqueId('pce-before');
      await offlineSubscriber(env, id, 'pce/before', {}, 4);
      await publishQos1(env, 'pce/before', 'kept');
      env.clock.advance(119_999);
      const back = await comeBack(env, id, 4);
      assert.equal(back.sessionPresent, true);
      assert.deepEqual(back.got, ['kept']);
    }));

  test('clean session 0 with persistent_client_expiration 120: gone at 120 s', () =>
    withClock({ persistentClientExpiration: 120 }, async (env) => {
      const id = uniqueId('pce-after');
      await offlineSubscriber(env, id, 'pce/after', {}, 4);
      await publishQos1(env, 'pce/after', 'expired');
      env.clock.advance(120_000);
      const back = await comeBack(env, id, 4);
      assert.equal(back.sessionPresent, false);
      assert.deepEqual(back.got, []);
    }));

  test('persistent_client_expiration 0 (the default): a 3.1.1 persistent session never expires', () =>
    withClock({}, async (env) => {
      const id = uniqueId('pce-never');
      await offlineSubscriber(env, id, 'pce/never', {}, 4);
      await publishQos1(env, 'pce/never', 'kept');
      env.clock.advance(5 * 365 * 24 * 3600 * 1000);
      const back = await comeBack(env, id, 4);
      assert.equal(back.sessionPresent, true);
      assert.deepEqual(back.got, ['kept']);
    }));

  test('persistent_client_expiration does not shorten a v5 session: a v5 client asking 600 s keeps it past 120 s', () =>
    withClock({ persistentClientExpiration: 120 }, async (env) => {
      const id = uniqueId('pce-v5');
      await offlineSubscriber(env, id, 'pce/v5', { sessionExpiryInterval: 600 });
      env.clock.advance(300_000);
      assert.equal((await comeBack(env, id)).sessionPresent, true);
    }));
});
