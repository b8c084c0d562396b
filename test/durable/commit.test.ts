// When the store commits, and what waits for it: a PUBACK leaves only after the message is
// stored, one transaction holds one event-loop turn's writes, and a failing store holds the
// acknowledgements back instead of confirming what it did not keep.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import type { SqliteDurableStore } from '../../src/adapters/sqlite/durable-store.js';
import type { DurableStore } from '../../src/core/ports.js';
import { PacketType, type AckPacket, type Packet } from '../../src/protocol/types.js';
import { Restarts, nextTurn } from './restart-support.js';

let r: Restarts;
beforeEach(() => {
  r = new Restarts();
});
afterEach(async () => {
  await r.cleanup();
});

/** The real store, with a switch that makes commit() fail and a commit counter. */
function faulty(store: SqliteDurableStore): DurableStore & { fail: boolean; commits: number } {
  const state = { fail: false, commits: 0 };
  const commit = (): void => {
    if (state.fail) throw new Error('disk full (test)');
    state.commits++;
    store.commit();
  };
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'commit') return commit;
      if (prop === 'fail' || prop === 'commits') return state[prop];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
    set(_target, prop, value) {
      if (prop !== 'fail') return false;
      state.fail = value as boolean;
      return true;
    },
  }) as unknown as DurableStore & { fail: boolean; commits: number };
}

test('a PUBACK is held back while the store cannot commit, and sent once it can; the message is then stored', async () => {
  let wrapped: ReturnType<typeof faulty> | undefined;
  const a = r.boot({}, (s) => (wrapped = faulty(s)));
  const store = wrapped as ReturnType<typeof faulty>;
  const sub = a.client();
  await sub.connect({ clientId: 'offline-reader', cleanStart: false });
  await sub.subscribe('d/#', 1);
  sub.disconnect();
  const pub = a.client();
  await pub.connect();
  store.fail = true;
  pub.send({ type: PacketType.PUBLISH, topic: 'd/1', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, packetId: 3 });
  // several turns pass and retries fail: no PUBACK
  for (let i = 0; i < 5; i++) {
    r.clock.advance(100);
    await nextTurn();
  }
  assert.equal(pub.received.filter((p: Packet) => p.type === PacketType.PUBACK).length, 0);
  assert.equal(a.count('deliveries'), 0);
  store.fail = false;
  r.clock.advance(100);
  const ack = await pub.nextOfType<AckPacket>(PacketType.PUBACK);
  assert.equal(ack.packetId, 3);
  assert.equal(a.count('deliveries'), 1);
  await a.close();
});

test('one event-loop turn of publishes is one transaction', async () => {
  let wrapped: ReturnType<typeof faulty> | undefined;
  const a = r.boot({}, (s) => (wrapped = faulty(s)));
  const store = wrapped as ReturnType<typeof faulty>;
  const sub = a.client();
  await sub.connect({ clientId: 'batch-reader', cleanStart: false });
  await sub.subscribe('b/#', 1);
  sub.disconnect();
  const pub = a.client();
  await pub.connect();
  await nextTurn();
  const before = store.commits;
  // 200 QoS 1 PUBLISH packets in one write: one read, one turn
  const { encodePacket } = await import('../../src/protocol/index.js');
  const bytes = Buffer.concat(
    Array.from({ length: 200 }, (_, i) =>
      encodePacket({ type: PacketType.PUBLISH, topic: `b/${i}`, payload: Buffer.from('p'), qos: 1, retain: false, dup: false, packetId: i + 1 }, 4),
    ),
  );
  pub.sendRaw(bytes);
  for (let i = 0; i < 200; i++) await pub.nextOfType(PacketType.PUBACK);
  const used = store.commits - before;
  assert.ok(used >= 1 && used <= 3, `200 publishes read together took ${used} commits`);
  assert.equal(a.count('deliveries'), 200);
  assert.equal(a.count('messages'), 200);
  await a.close();
});

test('a message queued for several stored sessions is stored once and deleted with its last delivery', async () => {
  const a = r.boot();
  const readers = [];
  for (const id of ['r1', 'r2', 'r3']) {
    const c = a.client();
    await c.connect({ clientId: id, cleanStart: false });
    await c.subscribe('m', 1);
    c.disconnect();
    readers.push(id);
  }
  const pub = a.client();
  await pub.connect();
  await pub.publish('m', 'shared', 1);
  assert.equal(a.count('messages'), 1);
  assert.equal(a.count('deliveries'), 3);
  for (const [i, id] of readers.entries()) {
    const c = a.client();
    await c.connect({ clientId: id, cleanStart: false });
    await c.nextPublish();
    await c.barrier();
    await nextTurn();
    assert.equal(a.count('deliveries'), 2 - i);
    assert.equal(a.count('messages'), i < 2 ? 1 : 0);
  }
  await a.close();
});
