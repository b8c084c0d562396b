// Conformance: the Will Message (MQTT 3.1.1 sections 3.1.2.5-3.1.2.7, 3.14.4; MQTT 5.0
// DISCONNECT 0x04).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { PacketType, type ProtocolVersion, type QoS, type WillMessage } from '../../src/protocol/types.js';
import type { Authenticator } from '../../src/core/ports.js';
import type { BrokerFixture } from '../helpers/broker-fixture.js';
import { FakeClock } from '../helpers/fake-clock.js';
import type { TestClient } from '../helpers/mqtt-test-client.js';
import { waitFor } from '../helpers/wait-for.js';
import { pairedClient, payloads, publishes, rawConnect, uniqueId, withBroker } from './lifecycle-support.js';

function will(topic: string, payload: string, qos: QoS = 0, retain = false): WillMessage {
  return { topic, payload: Buffer.from(payload), qos, retain };
}

async function watcher(fx: BrokerFixture, filter: string, qos: QoS = 2): Promise<TestClient> {
  const w = fx.client();
  await w.connect();
  await w.subscribe(filter, qos);
  return w;
}

async function withWill(fx: BrokerFixture, w: WillMessage, version: ProtocolVersion = 4, clientId = uniqueId('w')): Promise<TestClient> {
  const c = fx.client({ version });
  const connack = await c.connect({ clientId, will: w });
  assert.equal(connack.reasonCode, 0);
  return c;
}

describe('will: published on an abnormal end', () => {
  test('[MQTT-3.1.2-8] the will is published when the network connection drops without DISCONNECT', () =>
    withBroker({}, async (fx) => {
      const w = await watcher(fx, 'will/#');
      const c = await withWill(fx, will('will/drop', 'gone'));
      c.destroy();
      const msg = await w.nextPublish();
      assert.equal(msg.topic, 'will/drop');
      assert.equal(msg.payload.toString(), 'gone');
      await w.barrier();
      assert.equal(publishes(w.received).length, 1, 'published exactly once');
    }));

  test('[MQTT-3.1.2-8] MQTT 3.1 clients get their will published too', () =>
    withBroker({}, async (fx) => {
      const w = await watcher(fx, 'will31/#');
      const c = await withWill(fx, will('will31/drop', 'gone 3.1'), 3);
      c.destroy();
      assert.equal((await w.nextPublish()).payload.toString(), 'gone 3.1');
    }));

  test('[MQTT-3.1.2-8] the will is published when the server closes the connection for a protocol error (second CONNECT)', () =>
    withBroker({}, async (fx, closes) => {
      const w = await watcher(fx, 'will/#');
      const id = uniqueId('proto');
      const c = await withWill(fx, will('will/proto', 'protocol error'), 4, id);
      c.send({ type: PacketType.CONNECT, protocolName: 'MQTT', protocolVersion: 4, cleanStart: true, keepAlive: 0, clientId: id });
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'protocol_error');
      assert.equal((await w.nextPublish()).payload.toString(), 'protocol error');
    }));

  test('[MQTT-3.1.2-8] the will is published when the server closes the connection for a malformed packet', () =>
    withBroker({}, async (fx, closes) => {
      const w = await watcher(fx, 'will/#');
      const id = uniqueId('malformed');
      const c = await withWill(fx, will('will/malformed', 'malformed'), 4, id);
      c.sendRaw([0x36, 0x00]); // PUBLISH with QoS 3
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'malformed_packet');
      assert.equal((await w.nextPublish()).payload.toString(), 'malformed');
    }));

  test('[MQTT-3.1.2-8] the will is published on keepalive timeout', () => {
    const clock = new FakeClock();
    return withBroker({ clock }, async (fx, closes) => {
      const w = await watcher(fx, 'will/#');
      const id = uniqueId('idle');
      const c = fx.client();
      await c.connect({ clientId: id, keepAlive: 10, will: will('will/idle', 'timed out') });
      await w.barrier(); // the watcher (keepalive 0) is unaffected by the clock
      clock.advance(15_000);
      await c.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'keepalive_timeout');
      assert.equal((await w.nextPublish()).payload.toString(), 'timed out');
    });
  });

  test('[MQTT-3.1.4-2] the will of a connection closed by a session takeover is published', () =>
    withBroker({}, async (fx, closes) => {
      const w = await watcher(fx, 'will/#');
      const id = uniqueId('taken');
      const old = await withWill(fx, will('will/taken', 'taken over'), 4, id);
      const fresh = fx.client();
      assert.equal((await fresh.connect({ clientId: id })).reasonCode, 0);
      await old.closedWithin();
      assert.equal((await closes.closeOf(id)).reason, 'session_taken_over');
      assert.equal((await w.nextPublish()).payload.toString(), 'taken over');
    }));

  test('the will is published when the server disconnects a slow consumer', () => {
    const clock = new FakeClock();
    return withBroker({ clock, maxOutboundBytes: 1024, slowConsumerTimeout: 2 }, async (fx, closes) => {
      const w = await watcher(fx, 'will/#', 1);
      const id = uniqueId('slow');
      const slow = pairedClient(fx.broker, {}, { highWaterMark: 128 });
      await slow.connect({ clientId: id, will: will('will/slow', 'too slow', 1) });
      await slow.subscribe('spam/t', 0);
      slow.stream.pause();
      const pub = fx.client();
      await pub.connect();
      for (let i = 0; i < 20; i++) await pub.publish('spam/t', 's'.repeat(200), 1);
      clock.advance(2_000);
      assert.deepEqual(closes.reasonsFor(id), ['slow_consumer']);
      const msg = await w.nextPublish();
      assert.equal(msg.topic, 'will/slow');
      assert.equal(msg.payload.toString(), 'too slow');
    });
  });
});

describe('will: not published after DISCONNECT', () => {
  test('[MQTT-3.1.2-10] [MQTT-3.14.4-3] DISCONNECT discards the will', () =>
    withBroker({}, async (fx, closes) => {
      const w = await watcher(fx, 'will/#');
      const id = uniqueId('clean');
      const c = await withWill(fx, will('will/clean', 'must not appear'), 4, id);
      c.disconnect();
      assert.equal((await closes.closeOf(id)).reason, 'client_disconnect');
      await w.barrier();
      assert.deepEqual(publishes(w.received), []);
    }));

  test('[MQTT-3.14.4-3] after DISCONNECT, the stream closing afterwards does not publish the will either', () =>
    withBroker({}, async (fx, closes) => {
      const w = await watcher(fx, 'will/#');
      const id = uniqueId('cleanthen');
      const c = await withWill(fx, will('will/cleanthen', 'must not appear'), 4, id);
      c.send({ type: PacketType.DISCONNECT, reasonCode: 0 });
      await closes.closeOf(id);
      c.destroy();
      await w.barrier();
      assert.deepEqual(publishes(w.received), []);
    }));

  test('v5: DISCONNECT 0x00 (normal) discards the will', () =>
    withBroker({}, async (fx, closes) => {
      const w = await watcher(fx, 'will5/#');
      const id = uniqueId('normal5');
      const c = await withWill(fx, will('will5/normal', 'must not appear'), 5, id);
      c.send({ type: PacketType.DISCONNECT, reasonCode: ReasonCode.NORMAL_DISCONNECTION });
      await closes.closeOf(id);
      await w.barrier();
      assert.deepEqual(publishes(w.received), []);
    }));

  test('v5: DISCONNECT 0x04 (Disconnect with Will Message) publishes the will', () =>
    withBroker({}, async (fx, closes) => {
      const w = await watcher(fx, 'will5/#');
      const id = uniqueId('with5');
      const c = await withWill(fx, will('will5/with', 'asked for'), 5, id);
      c.send({ type: PacketType.DISCONNECT, reasonCode: ReasonCode.DISCONNECT_WITH_WILL_MESSAGE });
      assert.equal((await closes.closeOf(id)).reason, 'client_disconnect');
      assert.equal((await w.nextPublish()).payload.toString(), 'asked for');
    }));

  test('[MQTT-3.1.2-8] a refused connection never publishes its will', () => {
    const authenticator: Authenticator = { authenticate: () => ({ ok: false, returnCode: 5 }) };
    let allowWatcher = true;
    const gate: Authenticator = {
      authenticate: (info) => (allowWatcher ? { ok: true } : authenticator.authenticate(info)),
    };
    return withBroker({ authenticator: gate }, async (fx) => {
      const w = await watcher(fx, 'will/#');
      allowWatcher = false;
      const c = fx.client();
      const connack = await c.connect({ will: will('will/refused', 'must not appear') });
      assert.equal(connack.reasonCode, 5);
      await c.closedWithin();
      await w.barrier();
      assert.deepEqual(publishes(w.received), []);
    });
  });
});

describe('will: QoS and retain', () => {
  for (const [willQos, subQos, expected] of [[0, 2, 0], [1, 2, 1], [2, 2, 2], [2, 1, 1], [1, 0, 0]] as const) {
    test(`will QoS ${willQos} to a QoS ${subQos} subscription is delivered at QoS ${expected}`, () =>
      withBroker({}, async (fx) => {
        const w = await watcher(fx, 'wq/#', subQos);
        const c = await withWill(fx, will('wq/t', 'q', willQos));
        c.destroy();
        const msg = await w.nextPublish();
        assert.equal(msg.qos, expected);
        assert.equal(msg.payload.toString(), 'q');
      }));
  }

  test('[MQTT-3.1.2-17] will retain 1: the will is stored as retained; a later subscriber gets it with RETAIN 1', () =>
    withBroker({}, async (fx) => {
      const c = await withWill(fx, will('wr/kept', 'last words', 1, true));
      const live = await watcher(fx, 'wr/#', 1);
      c.destroy();
      const seen = await live.nextPublish();
      assert.equal(seen.payload.toString(), 'last words');
      assert.equal(seen.retain, false, '[MQTT-3.3.1-9] a live delivery to an existing subscription has RETAIN 0');

      const later = await watcher(fx, 'wr/#', 1);
      const retained = await later.nextPublish();
      assert.equal(retained.topic, 'wr/kept');
      assert.equal(retained.payload.toString(), 'last words');
      assert.equal(retained.retain, true);
      assert.equal(retained.qos, 1);
    }));

  test('[MQTT-3.1.2-16] will retain 0: the will is not retained', () =>
    withBroker({}, async (fx) => {
      const live = await watcher(fx, 'wn/#', 1);
      const c = await withWill(fx, will('wn/t', 'fleeting', 1, false));
      c.destroy();
      await live.nextPublish();
      const later = await watcher(fx, 'wn/#', 1);
      await later.barrier();
      assert.deepEqual(publishes(later.received), []);
    }));

  test('will with retain 1 and an empty payload clears the retained message of its topic', () =>
    withBroker({}, async (fx) => {
      const pub = fx.client();
      await pub.connect();
      await pub.publish('wc/t', 'old', 1, true);
      const c = await withWill(fx, will('wc/t', '', 0, true));
      const live = await watcher(fx, 'wc/#', 1);
      await waitFor(() => publishes(live.received).length === 1);
      c.destroy();
      await waitFor(() => publishes(live.received).length === 2, { message: 'the empty will' });
      const later = await watcher(fx, 'wc/#', 1);
      await later.barrier();
      assert.deepEqual(payloads(later.received), []);
    }));

  test('[MQTT-3.1.2-9] [MQTT-3.3.2-2] a will topic with a wildcard is not accepted', () =>
    withBroker({}, async (fx) => {
      const c = fx.client();
      const bytes = rawConnect({ flags: 0x02 | 0x04, tail: [0, 3, 0x61, 0x2f, 0x23, 0, 1, 0x78] }); // will topic "a/#"
      c.sendRaw(bytes);
      await c.closedWithin();
      for (const p of c.received) {
        assert.equal(p.type, PacketType.CONNACK);
        assert.notEqual((p as { reasonCode: number }).reasonCode, 0);
      }
    }));
});
