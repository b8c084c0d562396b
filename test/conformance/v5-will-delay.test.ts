// Conformance: the MQTT 5.0 Will Delay Interval and will properties (sections 3.1.2.5,
// 3.1.3.2, 3.14.2.1 reason 0x04). Time is a FakeClock, so "not before" is exact.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { PacketType, type Properties, type QoS, type WillMessage } from '../../src/protocol/types.js';
import type { BrokerFixture } from '../helpers/broker-fixture.js';
import { FakeClock } from '../helpers/fake-clock.js';
import type { TestClient } from '../helpers/mqtt-test-client.js';
import { waitFor } from '../helpers/wait-for.js';
import { publishes, uniqueId, withBroker, type CloseLog } from './lifecycle-support.js';

interface Env {
  fx: BrokerFixture;
  closes: CloseLog;
  clock: FakeClock;
}

function withClock(body: (env: Env) => Promise<void>): Promise<void> {
  const clock = new FakeClock();
  return withBroker({ clock }, (fx, closes) => body({ fx, closes, clock }));
}

function will(topic: string, payload: string, properties?: Properties, qos: QoS = 1): WillMessage {
  return { topic, payload: Buffer.from(payload), qos, retain: false, ...(properties !== undefined ? { properties } : {}) };
}

/** A v5 subscriber to `filter` that stays connected for the whole test. */
async function watcher(env: Env, filter: string): Promise<TestClient> {
  const w = env.fx.client({ version: 5 });
  await w.connect();
  await w.subscribe(filter, 1);
  return w;
}

/** A v5 client with a will and a Session Expiry Interval. */
async function willClient(env: Env, id: string, w: WillMessage, sessionExpiryInterval: number, cleanStart = true): Promise<TestClient> {
  const c = env.fx.client({ version: 5 });
  const connack = await c.connect({ clientId: id, cleanStart, will: w, properties: { sessionExpiryInterval } });
  assert.equal(connack.reasonCode, 0);
  return c;
}

async function closed(env: Env, id: string, act: () => void): Promise<void> {
  const before = env.closes.reasonsFor(id).length;
  act();
  await waitFor(() => env.closes.reasonsFor(id).length > before, { message: `the broker to see ${id} go` });
}

/** Asserts, after a round trip, that the watcher has received exactly `expected` (payloads). */
async function seen(w: TestClient, expected: string[], what: string): Promise<void> {
  await w.barrier();
  assert.deepEqual(publishes(w.received).map((p) => p.payload.toString()), expected, what);
}

describe('v5 will delay: when the will is published', () => {
  test('[MQTT-3.1.2-8] Will Delay Interval 5 s: nothing at 4.999 s, the will at 5 s', () =>
    withClock(async (env) => {
      const w = await watcher(env, 'wd/basic');
      const id = uniqueId('wd-basic');
      const c = await willClient(env, id, will('wd/basic', 'late', { willDelayInterval: 5 }), 60);
      await closed(env, id, () => c.destroy());
      env.clock.advance(4_999);
      await seen(w, [], 'no will before the delay');
      env.clock.advance(1);
      const msg = await w.nextPublish();
      assert.equal(msg.payload.toString(), 'late');
      await seen(w, ['late'], 'exactly one will');
    }));

  test('[MQTT-3.1.3-9] a new connection to the session before the delay passes: the will is never sent', () =>
    withClock(async (env) => {
      const w = await watcher(env, 'wd/cancel');
      const id = uniqueId('wd-cancel');
      const c = await willClient(env, id, will('wd/cancel', 'must not appear', { willDelayInterval: 5 }), 60);
      await closed(env, id, () => c.destroy());
      env.clock.advance(3_000);
      const back = env.fx.client({ version: 5 });
      const connack = await back.connect({ clientId: id, cleanStart: false, properties: { sessionExpiryInterval: 60 } });
      assert.equal(connack.sessionPresent, true);
      env.clock.advance(60_000);
      await seen(w, [], 'the will was cancelled by the reconnect');
      // the new connection has no will: a clean end publishes nothing either
      await closed(env, id, () => back.disconnect());
      env.clock.advance(60_000);
      await seen(w, [], 'still no will');
    }));

  test('[MQTT-3.1.3-9] a session takeover before the delay passes cancels the will of the old connection', () =>
    withClock(async (env) => {
      const w = await watcher(env, 'wd/takeover');
      const id = uniqueId('wd-takeover');
      const old = await willClient(env, id, will('wd/takeover', 'must not appear', { willDelayInterval: 5 }), 60);
      const fresh = env.fx.client({ version: 5 });
      const connack = await fresh.connect({ clientId: id, cleanStart: false, properties: { sessionExpiryInterval: 60 } });
      assert.equal(connack.sessionPresent, true);
      const dc = await old.nextOfType(PacketType.DISCONNECT);
      assert.equal((dc as { reasonCode: number }).reasonCode, ReasonCode.SESSION_TAKEN_OVER, '[MQTT-3.1.4-3]');
      env.clock.advance(10_000);
      await seen(w, [], 'no will: the session has a new connection');
    }));

  test('[MQTT-3.1.2-8] the session ends before the delay: the will is published when the session ends (2 s), not at 10 s', () =>
    withClock(async (env) => {
      const w = await watcher(env, 'wd/session-first');
      const id = uniqueId('wd-sfirst');
      const c = await willClient(env, id, will('wd/session-first', 'at session end', { willDelayInterval: 10 }), 2);
      await closed(env, id, () => c.destroy());
      env.clock.advance(1_999);
      await seen(w, [], 'nothing before the session ends');
      env.clock.advance(1);
      assert.equal((await w.nextPublish()).payload.toString(), 'at session end');
      env.clock.advance(20_000);
      await seen(w, ['at session end'], 'exactly once');
    }));

  test('[MQTT-3.1.2-8] Session Expiry Interval 0: the session ends with the connection, so a delayed will goes at once', () =>
    withClock(async (env) => {
      const w = await watcher(env, 'wd/immediate');
      const id = uniqueId('wd-imm');
      const c = await willClient(env, id, will('wd/immediate', 'now', { willDelayInterval: 30 }), 0);
      c.destroy();
      assert.equal((await w.nextPublish()).payload.toString(), 'now');
    }));

  test('Clean Start 1 on a new connection ends the old session: its pending delayed will goes out then', () =>
    withClock(async (env) => {
      const w = await watcher(env, 'wd/clean');
      const id = uniqueId('wd-clean');
      const c = await willClient(env, id, will('wd/clean', 'old session ended', { willDelayInterval: 30 }), 60);
      await closed(env, id, () => c.destroy());
      await seen(w, [], 'delayed');
      const fresh = env.fx.client({ version: 5 });
      const connack = await fresh.connect({ clientId: id, cleanStart: true, properties: { sessionExpiryInterval: 60 } });
      assert.equal(connack.sessionPresent, false);
      assert.equal((await w.nextPublish()).payload.toString(), 'old session ended');
    }));

  test('Will Delay Interval 0 (absent): published at once on an abnormal end', () =>
    withClock(async (env) => {
      const w = await watcher(env, 'wd/zero');
      const c = await willClient(env, uniqueId('wd-zero'), will('wd/zero', 'no delay'), 60);
      c.destroy();
      assert.equal((await w.nextPublish()).payload.toString(), 'no delay');
    }));
});

describe('v5 will: DISCONNECT reason codes (section 3.14.2.1)', () => {
  test('DISCONNECT 0x04 (Disconnect with Will Message) publishes the will', () =>
    withClock(async (env) => {
      const w = await watcher(env, 'wd/dc04');
      const id = uniqueId('wd-dc04');
      const c = await willClient(env, id, will('wd/dc04', 'asked for'), 0);
      c.send({ type: PacketType.DISCONNECT, reasonCode: ReasonCode.DISCONNECT_WITH_WILL_MESSAGE });
      assert.equal((await w.nextPublish()).payload.toString(), 'asked for');
    }));

  test('DISCONNECT 0x04 with a Will Delay Interval and a session that outlives the connection: the will still waits for the delay', () =>
    withClock(async (env) => {
      const w = await watcher(env, 'wd/dc04delay');
      const id = uniqueId('wd-dc04d');
      const c = await willClient(env, id, will('wd/dc04delay', 'after 3 s', { willDelayInterval: 3 }), 60);
      await closed(env, id, () => c.send({ type: PacketType.DISCONNECT, reasonCode: ReasonCode.DISCONNECT_WITH_WILL_MESSAGE }));
      env.clock.advance(2_999);
      await seen(w, [], 'not before the delay');
      env.clock.advance(1);
      assert.equal((await w.nextPublish()).payload.toString(), 'after 3 s');
    }));

  test('[MQTT-3.1.2-10] [MQTT-3.14.4-3] DISCONNECT 0x00 discards the will, delayed or not', () =>
    withClock(async (env) => {
      const w = await watcher(env, 'wd/dc00');
      const id = uniqueId('wd-dc00');
      const c = await willClient(env, id, will('wd/dc00', 'must not appear', { willDelayInterval: 3 }), 60);
      await closed(env, id, () => c.disconnect());
      env.clock.advance(120_000);
      await seen(w, [], 'no will after a normal disconnection');
    }));
});

describe('v5 will properties reach the subscribers (section 3.1.3.2)', () => {
  test('[MQTT-3.1.3-10] content type, response topic, correlation data, payload format and user properties (in order) are published with the will; Will Delay Interval is not', () =>
    withClock(async (env) => {
      const w = await watcher(env, 'wd/props');
      const userProperties: [string, string][] = [
        ['k', 'first'],
        ['z', 'z'],
        ['k', 'second'],
        ['k', 'first'],
      ];
      const correlationData = Buffer.from([0x00, 0xff, 0x10, 0x80]);
      const id = uniqueId('wd-props');
      const c = await willClient(
        env,
        id,
        will('wd/props', '{"state":"offline"}', {
          willDelayInterval: 1,
          contentType: 'application/json',
          responseTopic: 'wd/props/reply',
          correlationData,
          payloadFormatIndicator: 1,
          userProperties,
        }),
        60,
      );
      await closed(env, id, () => c.destroy());
      env.clock.advance(1_000);
      const msg = await w.nextPublish();
      assert.equal(msg.payload.toString(), '{"state":"offline"}');
      const p = msg.properties ?? {};
      assert.equal(p.contentType, 'application/json');
      assert.equal(p.responseTopic, 'wd/props/reply');
      assert.deepEqual(p.correlationData, correlationData);
      assert.equal(p.payloadFormatIndicator, 1);
      assert.deepEqual(p.userProperties, userProperties);
      assert.equal(p.willDelayInterval, undefined, 'Will Delay Interval is for the server only');
    }));

  test('Message Expiry Interval of a will without delay: the subscriber gets it with the interval', () =>
    withClock(async (env) => {
      const w = await watcher(env, 'wd/expiry');
      const c = await willClient(env, uniqueId('wd-exp'), will('wd/expiry', 'expiring will', { messageExpiryInterval: 30 }), 0);
      c.destroy();
      const msg = await w.nextPublish();
      assert.equal(msg.properties?.messageExpiryInterval, 30);
    }));

  test('a delayed will counts its Message Expiry Interval from when it is published (section 3.1.3.2.4): delay 5 s, expiry 3 s -> delivered with 3 s left', () =>
    withClock(async (env) => {
      const w = await watcher(env, 'wd/delay-expiry');
      const id = uniqueId('wd-dexp');
      const c = await willClient(env, id, will('wd/delay-expiry', 'published after the delay', { willDelayInterval: 5, messageExpiryInterval: 3 }), 60);
      await closed(env, id, () => c.destroy());
      env.clock.advance(5_000);
      await w.barrier();
      const got = publishes(w.received);
      assert.equal(got.length, 1, 'the will is published at 5 s and its 3 s lifetime starts then');
      assert.equal(got[0]?.properties?.messageExpiryInterval, 3);
    }));

  test('a 3.1.1 subscriber gets the will of a v5 client without properties, payload intact', () =>
    withClock(async (env) => {
      const w = env.fx.client({ version: 4 });
      await w.connect();
      await w.subscribe('wd/v4', 1);
      const c = await willClient(env, uniqueId('wd-v4'), will('wd/v4', 'to 3.1.1', { contentType: 'text/plain', userProperties: [['a', 'b']] }), 0);
      c.destroy();
      const msg = await w.nextPublish();
      assert.equal(msg.payload.toString(), 'to 3.1.1');
      assert.equal(msg.properties, undefined);
    }));
});
