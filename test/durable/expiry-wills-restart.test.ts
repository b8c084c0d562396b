// Time across a restart: session expiry and message expiry keep counting during the
// downtime, and wills (of connections lost in the crash, or delayed) are sent once.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { PacketType, type PublishPacket } from '../../src/protocol/types.js';
import { Restarts, nextTurn } from './restart-support.js';

let r: Restarts;
beforeEach(() => {
  r = new Restarts();
});
afterEach(async () => {
  await r.cleanup();
});

async function offlineV5Session(node: ReturnType<Restarts['boot']>, clientId: string, expiry: number): Promise<void> {
  const c = node.client({ version: 5 });
  await c.connect({ clientId, cleanStart: true, properties: { sessionExpiryInterval: expiry } });
  await c.subscribe('t', 1);
  c.disconnect();
  await nextTurn();
}

test('[MQTT-3.1.2-23] session expiry counts across the downtime: still there before it, gone after it', async () => {
  const a = r.boot();
  await offlineV5Session(a, 'ten', 10);
  await offlineV5Session(a, 'thirty', 30);
  r.clock.advance(3000);
  await a.crash();
  r.clock.advance(12_000); // 15 s offline now

  const b = r.boot();
  const ten = b.client({ version: 5 });
  assert.equal((await ten.connect({ clientId: 'ten', cleanStart: false, properties: { sessionExpiryInterval: 10 } })).sessionPresent, false);
  const thirty = b.client({ version: 5 });
  assert.equal((await thirty.connect({ clientId: 'thirty', cleanStart: false, properties: { sessionExpiryInterval: 30 } })).sessionPresent, true);
  await b.close();
});

test('a restored offline session expires at its original time, not a full interval after the restart', async () => {
  const a = r.boot();
  await offlineV5Session(a, 'ten', 10);
  r.clock.advance(4000);
  await a.crash();
  r.clock.advance(4000); // 8 s of the 10 gone
  const b = r.boot();
  r.clock.advance(2500);
  await nextTurn();
  const c = b.client({ version: 5 });
  assert.equal((await c.connect({ clientId: 'ten', cleanStart: false, properties: { sessionExpiryInterval: 10 } })).sessionPresent, false);
  await b.close();
});

test('a session online at the crash counts as offline since the broker was last alive', async () => {
  const a = r.boot();
  const c = a.client({ version: 5 });
  await c.connect({ clientId: 'online', cleanStart: true, properties: { sessionExpiryInterval: 10 } });
  await c.subscribe('t', 1);
  r.clock.advance(6000); // the store hears "alive" at +5 s
  await nextTurn();
  await a.crash();
  r.clock.advance(8000); // 9 s after the last sign of life: not expired
  const b = r.boot();
  const again = b.client({ version: 5 });
  assert.equal((await again.connect({ clientId: 'online', cleanStart: false, properties: { sessionExpiryInterval: 10 } })).sessionPresent, true);
  again.disconnect();
  await b.crash();

  // and the other way: an online session whose interval passed during the downtime is gone
  const d = r.boot();
  const e = d.client({ version: 5 });
  await e.connect({ clientId: 'short', cleanStart: true, properties: { sessionExpiryInterval: 5 } });
  await e.subscribe('t', 1);
  await nextTurn();
  await d.crash();
  r.clock.advance(6000);
  const f = r.boot();
  const g = f.client({ version: 5 });
  assert.equal((await g.connect({ clientId: 'short', cleanStart: false, properties: { sessionExpiryInterval: 5 } })).sessionPresent, false);
  await f.close();
});

test('[MQTT-3.3.2-5] message expiry counts across the downtime; what is left of the interval is sent [MQTT-3.3.2-6]', async () => {
  const a = r.boot();
  await offlineV5Session(a, 'reader', 3600);
  const pub = a.client({ version: 5 });
  await pub.connect();
  for (const [id, topic, seconds] of [
    [1, 't', 5],
    [2, 't', 60],
  ] as const) {
    pub.send({ type: PacketType.PUBLISH, topic, payload: Buffer.from(`${seconds}s`), qos: 1, retain: false, dup: false, packetId: id, properties: { messageExpiryInterval: seconds } });
    await pub.next((p) => p.type === PacketType.PUBACK && p.packetId === id);
  }
  await a.crash();
  r.clock.advance(6000);

  const b = r.boot();
  const c = b.client({ version: 5 });
  await c.connect({ clientId: 'reader', cleanStart: false, properties: { sessionExpiryInterval: 3600 } });
  const got = await c.nextPublish();
  assert.equal(got.payload.toString(), '60s');
  assert.equal(got.properties?.messageExpiryInterval, 54);
  await c.barrier();
  assert.equal(c.received.filter((p) => p.type === PacketType.PUBLISH).length, 1);
  await b.close();
});

test('the will of a connection lost in a crash is sent when the broker restarts, once', async () => {
  const a = r.boot();
  const dying = a.client();
  await dying.connect({ clientId: 'dying', will: { topic: 'wills/dying', payload: Buffer.from('gone'), qos: 1, retain: true } });
  const clean = a.client();
  await clean.connect({ clientId: 'polite', will: { topic: 'wills/polite', payload: Buffer.from('gone'), qos: 1, retain: true } });
  clean.disconnect(); // a clean DISCONNECT discards the will [MQTT-3.14.4-3]
  await nextTurn();
  await a.crash();

  const b = r.boot();
  const watcher = b.client();
  await watcher.connect();
  await watcher.subscribe('wills/#', 1);
  const will = await watcher.nextPublish();
  assert.deepEqual([will.topic, will.payload.toString(), will.retain], ['wills/dying', 'gone', true]);
  await watcher.barrier();
  assert.equal(watcher.received.filter((p) => p.type === PacketType.PUBLISH).length, 1);
  await b.crash();

  // sent once: a second restart does not send it again (only the retained copy remains)
  const c = r.boot();
  const w2 = c.client();
  await w2.connect();
  await w2.subscribe('wills/#', 1);
  const retained = await w2.nextPublish();
  assert.equal(retained.topic, 'wills/dying');
  await w2.barrier();
  assert.equal(w2.received.filter((p) => p.type === PacketType.PUBLISH).length, 1);
  assert.equal(c.count('wills'), 0);
  await c.close();
});

test('[MQTT-3.1.3-9] a delayed will pending at the crash is sent at its time after the restart; a reconnect cancels it', async () => {
  const a = r.boot();
  for (const id of ['late', 'back']) {
    const c = a.client({ version: 5 });
    await c.connect({
      clientId: id,
      cleanStart: true,
      properties: { sessionExpiryInterval: 3600 },
      will: { topic: `wills/${id}`, payload: Buffer.from(id), qos: 1, retain: false, properties: { willDelayInterval: 30 } },
    });
    c.destroy();
  }
  await nextTurn();
  await nextTurn();
  r.clock.advance(10_000);
  await a.crash();
  r.clock.advance(5_000); // 15 s of the 30 gone

  const b = r.boot();
  const watcher = b.client();
  await watcher.connect();
  await watcher.subscribe('wills/#', 1);
  const back = b.client({ version: 5 });
  await back.connect({ clientId: 'back', cleanStart: false, properties: { sessionExpiryInterval: 3600 } });
  r.clock.advance(14_000);
  await watcher.barrier();
  assert.equal(watcher.received.filter((p) => p.type === PacketType.PUBLISH).length, 0, 'not before its time');
  r.clock.advance(1_500);
  const will: PublishPacket = await watcher.nextPublish();
  assert.equal(will.topic, 'wills/late');
  await watcher.barrier();
  assert.equal(watcher.received.filter((p) => p.type === PacketType.PUBLISH).length, 1, 'the reconnected client\'s will is cancelled');
  await b.close();
});

test('a will is not kept for a clean shutdown: stop() discards it, as without a store', async () => {
  const a = r.boot();
  const c = a.client();
  await c.connect({ clientId: 'c', will: { topic: 'wills/c', payload: Buffer.from('x'), qos: 0, retain: false } });
  await nextTurn();
  assert.equal(a.count('wills'), 1);
  // the broker stops while the client is still connected
  await a.broker.close();
  a.db.close();
  const b = r.boot();
  assert.equal(b.count('wills'), 0);
  await b.close();
});
