import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InflightWindow } from './inflight-window.js';
import type { OutgoingInflight } from './session-state.js';

function entry(packetId: number): OutgoingInflight {
  return { packetId, stage: 'publish', delivery: { message: undefined as never, qos: 1, retain: false, subscriptionIdentifiers: undefined } };
}

function ids(window: InflightWindow): number[] {
  return [...window.values()].map((e) => e.packetId);
}

test('keeps send order across out-of-order completion, compaction and growth', () => {
  const window = new InflightWindow();
  for (let id = 1; id <= 20; id++) window.set(id, entry(id));
  for (const id of [1, 5, 6, 7, 20, 2]) assert.equal(window.delete(id), true);
  assert.equal(window.delete(5), false, 'already gone');
  assert.deepEqual(ids(window), [3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  for (let id = 21; id <= 60; id++) window.set(id, entry(id));
  assert.equal(window.size, 54);
  assert.deepEqual(ids(window), [3, 4, ...Array.from({ length: 12 }, (_, i) => i + 8), ...Array.from({ length: 40 }, (_, i) => i + 21)]);
  assert.equal(window.get(33)?.packetId, 33);
  assert.equal(window.get(5), undefined);
  assert.equal(window.has(60), true);
  window.clear();
  assert.equal(window.size, 0);
  assert.deepEqual(ids(window), []);
  assert.equal(window.has(3), false);
});

test('an id already present keeps its place and gets the new entry (as a Map)', () => {
  const window = new InflightWindow();
  window.set(7, entry(7)).set(8, entry(8));
  const replacement = { ...entry(7), stage: 'pubrel' as const };
  window.set(7, replacement);
  assert.equal(window.size, 2);
  assert.deepEqual(ids(window), [7, 8]);
  assert.equal(window.get(7), replacement);
});

test('packet ids outside 1..65535 are refused', () => {
  const window = new InflightWindow();
  assert.throws(() => window.set(0, entry(0)), RangeError);
  assert.throws(() => window.set(65536, entry(65536)), RangeError);
});

test('behaves as an insertion-ordered Map under random traffic with wrapping ids', () => {
  let seed = 12345;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const window = new InflightWindow();
  const model = new Map<number, OutgoingInflight>();
  let next = 65000;
  for (let step = 0; step < 200_000; step++) {
    const limit = step < 100_000 ? 300 : 5000;
    if (model.size < limit && random(3) !== 0) {
      // sequential ids that wrap from 65535 to 1 and skip ids still in use, as allocatePacketId does
      let id = next;
      while (model.has(id)) id = id === 65535 ? 1 : id + 1;
      next = id === 65535 ? 1 : id + 1;
      const e = entry(id);
      model.set(id, e);
      window.set(id, e);
    } else if (model.size > 0) {
      // mostly the oldest (in-order acks), sometimes any (out of order, a stuck QoS 2)
      const keys = [...model.keys()];
      const id = random(4) === 0 ? (keys[random(keys.length)] as number) : (keys[0] as number);
      assert.equal(window.delete(id), model.delete(id));
    }
    const probe = 1 + random(65535);
    assert.equal(window.has(probe), model.has(probe));
    assert.equal(window.get(probe), model.get(probe));
    assert.equal(window.size, model.size);
    if (step % 5000 === 0) assert.deepEqual(ids(window), [...model.keys()]);
  }
  assert.deepEqual(ids(window), [...model.keys()]);
});
