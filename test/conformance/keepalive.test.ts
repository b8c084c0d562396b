// Conformance: keep alive and the CONNECT timeout (MQTT 3.1.1 sections 3.1.2.10, 3.12,
// 3.13; MQTT 5.0 Server Keep Alive), on a fake clock: time moves only when the test says.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { PacketType, type DisconnectPacket, type ProtocolVersion } from '../../src/protocol/types.js';
import type { Authenticator } from '../../src/core/ports.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { waitFor } from '../helpers/wait-for.js';
import { rawConnect, uniqueId, withBroker } from './lifecycle-support.js';

describe('keep alive', () => {
  for (const version of [3, 4] as ProtocolVersion[]) {
    test(`[MQTT-3.1.2-24] v${version}: no packet for 1.5 x keepalive closes the connection (not before)`, () => {
      const clock = new FakeClock();
      return withBroker({ clock }, async (fx, closes) => {
        const id = uniqueId('idle');
        const c = fx.client({ version });
        await c.connect({ clientId: id, keepAlive: 10 });
        clock.advance(14_999);
        assert.deepEqual(closes.reasonsFor(id), [], 'still open just under 1.5 x keepalive');
        clock.advance(1);
        assert.deepEqual(closes.reasonsFor(id), ['keepalive_timeout']);
        await c.closedWithin();
        assert.equal(fx.broker.stats.closes['keepalive_timeout'], 1);
      });
    });
  }

  test('[MQTT-3.1.2-24] a connection that is still within the limit keeps working', () => {
    const clock = new FakeClock();
    return withBroker({ clock }, async (fx, closes) => {
      const id = uniqueId('alive');
      const c = fx.client();
      await c.connect({ clientId: id, keepAlive: 10 });
      clock.advance(14_999);
      await c.barrier();
      assert.equal(c.closed, false);
      assert.equal(closes.events.length, 0);
    });
  });

  test('[MQTT-3.1.2-24] a PINGREQ resets the keep alive timer', () => {
    const clock = new FakeClock();
    return withBroker({ clock }, async (fx, closes) => {
      const id = uniqueId('ping');
      const c = fx.client();
      await c.connect({ clientId: id, keepAlive: 10 });
      for (let i = 0; i < 5; i++) {
        clock.advance(14_000);
        await c.barrier();
      }
      assert.deepEqual(closes.reasonsFor(id), [], 'open after 70 s of regular pings');
      clock.advance(14_999);
      assert.deepEqual(closes.reasonsFor(id), []);
      clock.advance(1);
      assert.deepEqual(closes.reasonsFor(id), ['keepalive_timeout']);
      await c.closedWithin();
    });
  });

  test('[MQTT-3.1.2-24] any control packet (PUBLISH, SUBSCRIBE) resets the keep alive timer', () => {
    const clock = new FakeClock();
    return withBroker({ clock }, async (fx, closes) => {
      const id = uniqueId('busy');
      const c = fx.client();
      await c.connect({ clientId: id, keepAlive: 4 });
      clock.advance(5_000);
      await c.publish('ka/t', 'x', 1);
      clock.advance(5_000);
      await c.subscribe('ka/#', 0);
      clock.advance(5_000);
      assert.deepEqual(closes.reasonsFor(id), []);
      clock.advance(1_000);
      assert.deepEqual(closes.reasonsFor(id), ['keepalive_timeout']);
    });
  });

  test('[MQTT-3.1.2-24] packets the server sends do not count: a client that only receives still times out', () => {
    const clock = new FakeClock();
    return withBroker({ clock }, async (fx, closes) => {
      const id = uniqueId('listener');
      const c = fx.client();
      await c.connect({ clientId: id, keepAlive: 10 });
      await c.subscribe('feed/t', 0);
      const pub = fx.client();
      await pub.connect();
      for (let i = 0; i < 2; i++) {
        clock.advance(5_000);
        await pub.publish('feed/t', `tick ${i}`, 1);
        await c.nextPublish();
      }
      clock.advance(4_999);
      assert.deepEqual(closes.reasonsFor(id), []);
      clock.advance(1);
      assert.deepEqual(closes.reasonsFor(id), ['keepalive_timeout']);
      assert.equal(pub.closed, false);
    });
  });

  test('[MQTT-3.1.2-24] a partial packet is not a Control Packet: dribbling bytes does not keep the connection alive', () => {
    const clock = new FakeClock();
    return withBroker({ clock }, async (fx, closes) => {
      const id = uniqueId('dribble');
      const c = fx.client();
      await c.connect({ clientId: id, keepAlive: 10 });
      // the first bytes of a PUBLISH whose body never completes, one every 5 s
      for (const byte of [0x30, 0x0a]) {
        clock.advance(5_000);
        const before = fx.broker.stats.bytesReceived;
        c.sendRaw([byte]);
        await waitFor(() => fx.broker.stats.bytesReceived > before, { message: 'the byte to arrive' });
      }
      clock.advance(5_000);
      // 15 s (1.5 x keepalive) without a complete Control Packet
      assert.deepEqual(closes.reasonsFor(id), ['keepalive_timeout']);
      await c.closedWithin();
    });
  });

  test('[MQTT-3.12.4-1] every PINGREQ gets a PINGRESP', () =>
    withBroker({}, async (fx) => {
      const c = fx.client();
      await c.connect({ keepAlive: 30 });
      for (let i = 0; i < 3; i++) c.send({ type: PacketType.PINGREQ });
      for (let i = 0; i < 3; i++) await c.nextOfType(PacketType.PINGRESP);
      assert.equal(c.received.filter((p) => p.type === PacketType.PINGRESP).length, 3);
    }));

  test('[MQTT-3.12.4-1] PINGREQ gets a PINGRESP with keepalive 0 too', () =>
    withBroker({}, async (fx) => {
      const c = fx.client();
      await c.connect({ keepAlive: 0 });
      await c.barrier();
    }));

  test('(3.1.2.10) keepalive 0 turns the mechanism off: no timeout however long the silence', () => {
    const clock = new FakeClock();
    return withBroker({ clock }, async (fx, closes) => {
      const c = fx.client();
      await c.connect({ keepAlive: 0 });
      clock.advance(7 * 24 * 3600 * 1000);
      assert.equal(closes.events.length, 0);
      await c.barrier();
    });
  });

  test('v5: the server keep alive it announces is the one it enforces', () => {
    const clock = new FakeClock();
    return withBroker({ clock, maxKeepalive: 10 }, async (fx, closes) => {
      const id = uniqueId('srvka');
      const c = fx.client({ version: 5 });
      const connack = await c.connect({ clientId: id, keepAlive: 600 });
      assert.equal(connack.properties?.serverKeepAlive, 10);
      clock.advance(14_999);
      assert.deepEqual(closes.reasonsFor(id), []);
      clock.advance(1);
      assert.deepEqual(closes.reasonsFor(id), ['keepalive_timeout']);
      const disconnect = await c.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
      assert.equal(disconnect.reasonCode, ReasonCode.KEEP_ALIVE_TIMEOUT);
      await c.closedWithin();
    });
  });

  test('a keepalive timeout of one client leaves the others connected', () => {
    const clock = new FakeClock();
    return withBroker({ clock }, async (fx, closes) => {
      const idle = fx.client();
      const idleId = uniqueId('idle');
      await idle.connect({ clientId: idleId, keepAlive: 2 });
      const steady = fx.client();
      await steady.connect({ keepAlive: 0 });
      clock.advance(3_000);
      await idle.closedWithin();
      assert.deepEqual(closes.events.map((e) => e.clientId), [idleId]);
      await steady.barrier();
      assert.equal(steady.closed, false);
    });
  });
});

describe('CONNECT timeout', () => {
  test('a connection that never sends CONNECT is closed after connect_timeout (reason connect_timeout)', () => {
    const clock = new FakeClock();
    return withBroker({ clock, connectTimeout: 5 }, async (fx, closes) => {
      const c = fx.client();
      clock.advance(4_999);
      assert.equal(closes.events.length, 0);
      clock.advance(1);
      assert.deepEqual(closes.events.map((e) => e.reason), ['connect_timeout']);
      await c.closedWithin();
      assert.deepEqual(c.received, []);
      assert.equal(fx.broker.connectionCount, 0);
    });
  });

  test('a connection that sent only part of its CONNECT is closed after connect_timeout', () => {
    const clock = new FakeClock();
    return withBroker({ clock, connectTimeout: 5 }, async (fx, closes) => {
      const c = fx.client();
      c.sendRaw(rawConnect().subarray(0, 6));
      clock.advance(5_000);
      assert.deepEqual(closes.events.map((e) => e.reason), ['connect_timeout']);
      await c.closedWithin();
    });
  });

  test('a connection whose CONNECT the (async) authenticator never answers is closed after connect_timeout', () => {
    const clock = new FakeClock();
    const authenticator: Authenticator = { authenticate: () => new Promise<never>(() => undefined) };
    return withBroker({ clock, connectTimeout: 5, authenticator }, async (fx, closes) => {
      const c = fx.client();
      const id = uniqueId('hung');
      c.sendRaw(rawConnect({ clientId: id, keepAlive: 10 }));
      await waitFor(() => fx.broker.stats.packetsReceived > 0, { message: 'the CONNECT to arrive' });
      clock.advance(5_000);
      assert.deepEqual(closes.reasonsFor(id), ['connect_timeout']);
      await c.closedWithin();
    });
  });

  test('a connected client is not subject to the CONNECT timeout', () => {
    const clock = new FakeClock();
    return withBroker({ clock, connectTimeout: 5 }, async (fx, closes) => {
      const c = fx.client();
      await c.connect({ keepAlive: 0 });
      clock.advance(60_000);
      assert.equal(closes.events.length, 0);
      await c.barrier();
    });
  });
});
