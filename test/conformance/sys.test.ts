// Conformance: the $SYS tree (mosquitto's names) and the `$` rule for wildcards
// [MQTT-4.7.2-1], on a fake clock so each sys_interval tick is explicit.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PublishPacket } from '../../src/protocol/types.js';
import type { BrokerFixture } from '../helpers/broker-fixture.js';
import { NodeRuntimeStats } from '../../src/adapters/system/runtime-stats.js';
import type { RuntimeStats } from '../../src/core/ports.js';
import { FakeClock } from '../helpers/fake-clock.js';
import type { TestClient } from '../helpers/mqtt-test-client.js';
import { publishes, withBroker } from './lifecycle-support.js';

const SYS = '$SYS/broker/';

/** The latest value seen per $SYS topic, from everything `client` received. */
function latest(client: TestClient): Map<string, PublishPacket> {
  const map = new Map<string, PublishPacket>();
  for (const p of publishes(client.received)) map.set(p.topic, p);
  return map;
}

function value(client: TestClient, name: string): string | undefined {
  return latest(client).get(SYS + name)?.payload.toString();
}

async function sysWatcher(fx: BrokerFixture, filter = '$SYS/#'): Promise<TestClient> {
  const w = fx.client();
  await w.connect({ clientId: `sys-watcher-${Math.random().toString(36).slice(2, 8)}` });
  await w.subscribe(filter, 0);
  await w.barrier();
  return w;
}

/** Moves the clock one sys_interval and waits until the updates have reached `w`. */
async function tick(clock: FakeClock, w: TestClient, seconds = 10): Promise<void> {
  clock.advance(seconds * 1000);
  await w.barrier();
}

const TOPICS = [
  'version',
  'uptime',
  'clients/connected',
  'clients/maximum',
  'clients/total',
  'messages/received',
  'messages/sent',
  'publish/messages/received',
  'publish/messages/sent',
  'publish/messages/dropped',
  'bytes/received',
  'bytes/sent',
  'subscriptions/count',
  'retained messages/count',
];

describe('$SYS topics', () => {
  test('every $SYS topic is published retained: a later subscriber to $SYS/# gets them all with RETAIN 1', () => {
    const clock = new FakeClock();
    return withBroker({ clock, sysInterval: 10, version: '9.8.7' }, async (fx) => {
      const w = await sysWatcher(fx);
      const got = latest(w);
      for (const name of TOPICS) {
        const p = got.get(SYS + name);
        assert.ok(p !== undefined, `${SYS + name} missing; got ${[...got.keys()].join(', ')}`);
        assert.equal(p.retain, true, `${name} is retained`);
      }
      assert.equal(value(w, 'version'), 'culex 9.8.7');
      assert.equal(value(w, 'uptime'), '0 seconds');
      // the values match the broker's own snapshot
      const snapshot = fx.broker.sysSnapshot();
      assert.equal(value(w, 'version'), snapshot.get(SYS + 'version'));
    });
  });

  test('uptime is updated every sys_interval', () => {
    const clock = new FakeClock();
    return withBroker({ clock, sysInterval: 10 }, async (fx) => {
      const w = await sysWatcher(fx, '$SYS/broker/uptime');
      assert.equal(value(w, 'uptime'), '0 seconds');
      await tick(clock, w);
      assert.equal(value(w, 'uptime'), '10 seconds');
      await tick(clock, w);
      assert.equal(value(w, 'uptime'), '20 seconds');
      assert.equal(publishes(w.received).length, 3);
    });
  });

  test('nothing is published between intervals', () => {
    const clock = new FakeClock();
    return withBroker({ clock, sysInterval: 10 }, async (fx) => {
      const w = await sysWatcher(fx, '$SYS/broker/uptime');
      clock.advance(9_999);
      await w.barrier();
      assert.equal(publishes(w.received).length, 1, 'only the retained value');
    });
  });

  test('a topic is re-published only when its value changed (version never changes)', () => {
    const clock = new FakeClock();
    return withBroker({ clock, sysInterval: 10 }, async (fx) => {
      const w = await sysWatcher(fx);
      await tick(clock, w);
      await tick(clock, w);
      const versions = publishes(w.received).filter((p) => p.topic === SYS + 'version');
      assert.equal(versions.length, 1);
      assert.ok(publishes(w.received).filter((p) => p.topic === SYS + 'uptime').length >= 3);
    });
  });

  test('clients/connected and clients/maximum follow connects and disconnects', () => {
    const clock = new FakeClock();
    return withBroker({ clock, sysInterval: 10 }, async (fx) => {
      const w = await sysWatcher(fx);
      await tick(clock, w);
      assert.equal(value(w, 'clients/connected'), '1');
      const others = [fx.client(), fx.client()];
      for (const c of others) await c.connect();
      await tick(clock, w);
      assert.equal(value(w, 'clients/connected'), '3');
      assert.equal(value(w, 'clients/maximum'), '3');
      for (const c of others) c.disconnect();
      for (const c of others) await c.closedWithin();
      await tick(clock, w);
      assert.equal(value(w, 'clients/connected'), '1');
      assert.equal(value(w, 'clients/maximum'), '3');
    });
  });

  test('messages/received, bytes/received, bytes/sent and publish/messages/received grow with traffic', () => {
    const clock = new FakeClock();
    return withBroker({ clock, sysInterval: 10 }, async (fx) => {
      const w = await sysWatcher(fx);
      await tick(clock, w);
      const before = Object.fromEntries(['messages/received', 'bytes/received', 'bytes/sent', 'publish/messages/received'].map((n) => [n, Number(value(w, n))]));
      const c = fx.client();
      await c.connect();
      await c.subscribe('traffic/t', 1);
      for (let i = 0; i < 3; i++) await c.publish('traffic/t', 'x'.repeat(100), 1);
      for (let i = 0; i < 3; i++) await c.nextPublish();
      await tick(clock, w);
      // CONNECT, SUBSCRIBE, 3 PUBLISH, 3 PUBACK from c; PINGREQs from the watcher
      assert.ok(Number(value(w, 'messages/received')) >= (before['messages/received'] as number) + 8);
      assert.ok(Number(value(w, 'publish/messages/received')) >= (before['publish/messages/received'] as number) + 3);
      assert.ok(Number(value(w, 'bytes/received')) >= (before['bytes/received'] as number) + 300);
      assert.ok(Number(value(w, 'bytes/sent')) >= (before['bytes/sent'] as number) + 300);
    });
  });

  test('subscriptions/count follows SUBSCRIBE and UNSUBSCRIBE', () => {
    const clock = new FakeClock();
    return withBroker({ clock, sysInterval: 10 }, async (fx) => {
      const w = await sysWatcher(fx);
      await tick(clock, w);
      const base = Number(value(w, 'subscriptions/count'));
      assert.equal(base, 1, 'the watcher\'s own $SYS/# subscription');
      const c = fx.client();
      await c.connect();
      await c.subscribe('a/b', 0);
      await c.subscribe('a/+', 1);
      await tick(clock, w);
      assert.equal(value(w, 'subscriptions/count'), String(base + 2));
      await c.unsubscribe('a/b');
      await tick(clock, w);
      assert.equal(value(w, 'subscriptions/count'), String(base + 1));
    });
  });

  test('retained messages/count follows retained publishes and their removal', () => {
    const clock = new FakeClock();
    return withBroker({ clock, sysInterval: 10 }, async (fx) => {
      const w = await sysWatcher(fx);
      await tick(clock, w);
      const base = Number(value(w, 'retained messages/count'));
      const c = fx.client();
      await c.connect();
      await c.publish('kept/1', 'one', 1, true);
      await c.publish('kept/2', 'two', 1, true);
      await tick(clock, w);
      assert.equal(value(w, 'retained messages/count'), String(base + 2));
      await c.publish('kept/1', '', 1, true);
      await tick(clock, w);
      assert.equal(value(w, 'retained messages/count'), String(base + 1));
    });
  });

  test('publish/messages/dropped counts QoS 0 messages for an offline persistent subscriber', () => {
    const clock = new FakeClock();
    return withBroker({ clock, sysInterval: 10 }, async (fx) => {
      const w = await sysWatcher(fx);
      await tick(clock, w);
      const base = Number(value(w, 'publish/messages/dropped'));
      const sub = fx.client();
      await sub.connect({ clientId: 'offline-sub', cleanStart: false });
      await sub.subscribe('drop/t', 0);
      sub.disconnect();
      await sub.closedWithin();
      const pub = fx.client();
      await pub.connect();
      await pub.publish('drop/t', 'lost', 0);
      await pub.barrier();
      await tick(clock, w);
      assert.equal(value(w, 'publish/messages/dropped'), String(base + 1));
    });
  });

  test('sys_interval 0 turns $SYS off', () => {
    const clock = new FakeClock();
    return withBroker({ clock, sysInterval: 0 }, async (fx) => {
      const w = await sysWatcher(fx);
      await tick(clock, w, 60);
      assert.deepEqual(publishes(w.received), []);
    });
  });
});

describe('$ topics and wildcards', () => {
  test('[MQTT-4.7.2-1] a subscription to # receives no $SYS topics, retained or live; $SYS/# does', () => {
    const clock = new FakeClock();
    return withBroker({ clock, sysInterval: 10 }, async (fx) => {
      const all = fx.client();
      await all.connect();
      await all.subscribe('#', 0);
      const sys = await sysWatcher(fx);
      await tick(clock, sys);
      await all.barrier();
      assert.deepEqual(publishes(all.received).filter((p) => p.topic.startsWith('$')), []);
      assert.ok(publishes(sys.received).some((p) => p.topic === SYS + 'uptime' && p.payload.toString() === '10 seconds'));

      // the # subscription itself works
      const pub = fx.client();
      await pub.connect();
      await pub.publish('plain/topic', 'visible', 1);
      const msg = await all.nextPublish();
      assert.equal(msg.topic, 'plain/topic');
    });
  });

  test('[MQTT-4.7.2-1] a subscription starting with + receives no $SYS topics', () => {
    const clock = new FakeClock();
    return withBroker({ clock, sysInterval: 10 }, async (fx) => {
      const plus = fx.client();
      await plus.connect();
      await plus.subscribe('+/broker/#', 0);
      await plus.subscribe('+/broker/uptime', 0);
      await tick(clock, plus);
      assert.deepEqual(publishes(plus.received), []);
    });
  });

  test('[MQTT-4.7.2-1] a filter naming $SYS explicitly may use wildcards after it', () => {
    const clock = new FakeClock();
    return withBroker({ clock, sysInterval: 10 }, async (fx) => {
      const w = await sysWatcher(fx, '$SYS/broker/+');
      assert.ok(latest(w).has(SYS + 'uptime'));
      assert.ok(!latest(w).has(SYS + 'clients/connected'), '+ matches one level only');
    });
  });

  test('[MQTT-4.7.2-1] the $ rule holds for any $-topic published by a client, not just $SYS', () =>
    withBroker({}, async (fx) => {
      const all = fx.client();
      await all.connect();
      await all.subscribe('#', 0);
      const dollar = fx.client();
      await dollar.connect();
      await dollar.subscribe('$app/#', 0);
      const pub = fx.client();
      await pub.connect();
      await pub.publish('$app/status', 'hidden from #', 1);
      const msg = await dollar.nextPublish();
      assert.equal(msg.payload.toString(), 'hidden from #');
      await all.barrier();
      assert.deepEqual(publishes(all.received), []);
    }));

  test('heap and event-loop lag: mosquitto\'s heap topics in bytes, the lag of each period in ms', () => {
    const clock = new FakeClock();
    const lags = [
      { p50: 0.25, p99: 3.5, max: 12 },
      { p50: 0.5, p99: 1, max: 2 },
    ];
    let heap = 5_000_000;
    let taken = 0;
    const runtime: RuntimeStats = {
      heapUsed: () => heap,
      takeLoopLag: () => lags[taken++] ?? { p50: 0, p99: 0, max: 0 },
      close: () => {},
    };
    return withBroker({ clock, sysInterval: 10, runtime }, async (fx) => {
      const w = await sysWatcher(fx, '$SYS/broker/#');
      assert.equal(value(w, 'heap/current'), '5000000');
      assert.equal(value(w, 'eventloop/lag/p99'), '3.5');
      assert.equal(value(w, 'eventloop/lag/max'), '12.0');
      // a look through the API does not end the lag period
      fx.broker.sysSnapshot();
      assert.equal(taken, 1);
      heap = 4_000_000;
      await tick(clock, w);
      assert.equal(taken, 2);
      assert.equal(value(w, 'heap/current'), '4000000');
      assert.equal(value(w, 'heap/maximum'), '5000000', 'the maximum is kept');
      assert.equal(value(w, 'eventloop/lag/p50'), '0.5');
      assert.equal(value(w, 'eventloop/lag/p99'), '1.0');
    });
  });

  test('the real runtime stats: a blocked loop shows as lag, the heap is the process\'s', async () => {
    const stats = new NodeRuntimeStats(5);
    try {
      await new Promise((r) => setTimeout(r, 30));
      stats.takeLoopLag();
      const until = Date.now() + 60;
      while (Date.now() < until); // block the loop for 60 ms
      await new Promise((r) => setTimeout(r, 20));
      const lag = stats.takeLoopLag();
      assert.ok(lag.max >= 40, `a 60 ms block is seen: max ${lag.max} ms`);
      assert.ok(lag.p50 < lag.max, `p50 ${lag.p50} < max ${lag.max}`);
      const heap = stats.heapUsed();
      assert.ok(heap > 1e6 && heap <= process.memoryUsage().heapTotal, `heap ${heap}`);
    } finally {
      stats.close();
    }
  });
});
