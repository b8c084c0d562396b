// Retained messages (MQTT 3.1.1 section 3.3.1.3, 3.8.4, 4.7.2): storage, replacement,
// deletion, delivery to new subscriptions, `$` topics, QoS downgrade, and the
// max_retained_messages bound.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketType } from '../../src/protocol/types.js';
import type { TestClient } from '../helpers/mqtt-test-client.js';
import {
  assertNothingDelivered,
  pendingPublishes,
  brokerFor,
  connected,
  nextPublishes,
  settle,
  subscriber,
  text,
} from './pubsub-support.js';

/** `topic=payload` of every PUBLISH waiting in the inbox, sorted. */
function retainedSeen(client: TestClient): string[] {
  return pendingPublishes(client).map((p) => `${p.topic}=${text(p)}`).sort();
}

describe('Retained messages', () => {
  test('a retained message is sent to a new subscriber with RETAIN 1 [MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8]', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx);
    await pub.publish('ret/a', 'last known', 1, true);
    const sub = await connected(fx);
    await sub.subscribe('ret/a', 1);
    const got = await sub.nextPublish();
    assert.deepEqual([got.topic, text(got), got.qos, got.retain], ['ret/a', 'last known', 1, true]);
    await assertNothingDelivered(sub);
  });

  test('the retained message is sent after the SUBACK [MQTT-3.8.4-1]', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx);
    await pub.publish('ret/order', 'r', 0, true);
    const sub = await connected(fx);
    await sub.subscribe('ret/order', 0);
    await sub.nextPublish();
    const types = sub.received.map((p) => p.type);
    assert.ok(types.indexOf(PacketType.SUBACK) < types.indexOf(PacketType.PUBLISH), `SUBACK before PUBLISH: ${types.join(',')}`);
  });

  test('a newer retained message replaces the older one [MQTT-3.3.1-5]', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx);
    await pub.publish('ret/b', 'old', 1, true);
    await pub.publish('ret/b', 'new', 1, true);
    const sub = await connected(fx);
    await sub.subscribe('ret/b', 1);
    assert.equal(text(await sub.nextPublish()), 'new');
    await assertNothingDelivered(sub, 'only the newest retained message');
  });

  test('a QoS 0 retained message replaces a stored one and is itself stored [MQTT-3.3.1-7]', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx);
    await pub.publish('ret/q0', 'qos2 value', 2, true);
    pub.send({ type: PacketType.PUBLISH, topic: 'ret/q0', payload: Buffer.from('qos0 value'), qos: 0, retain: true, dup: false });
    await pub.barrier();
    const sub = await connected(fx);
    await sub.subscribe('ret/q0', 2);
    const got = await sub.nextPublish();
    assert.deepEqual([text(got), got.qos, got.retain], ['qos0 value', 0, true]);
    await assertNothingDelivered(sub);
  });

  test('a PUBLISH with RETAIN 0 neither stores nor replaces the retained message [MQTT-3.3.1-12]', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx);
    await pub.publish('ret/keep', 'retained', 1, true);
    await pub.publish('ret/keep', 'transient', 1, false);
    await pub.publish('ret/none', 'transient', 1, false);
    const sub = await connected(fx);
    await sub.subscribe('ret/#', 1);
    const got = await sub.nextPublish();
    assert.deepEqual([got.topic, text(got)], ['ret/keep', 'retained']);
    await assertNothingDelivered(sub);
  });

  test('an empty retained payload deletes the retained message and is not stored itself [MQTT-3.3.1-10] [MQTT-3.3.1-11]', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx);
    await pub.publish('ret/del', 'to be deleted', 1, true);
    await pub.publish('ret/del', Buffer.alloc(0), 1, true);
    const sub = await connected(fx);
    await sub.subscribe('ret/del', 1);
    await assertNothingDelivered(sub, 'neither the deleted message nor the empty one');
  });

  test('an empty retained payload is still forwarded to existing subscribers as a normal message [MQTT-3.3.1-10]', async (t) => {
    const fx = brokerFor(t);
    const live = await subscriber(fx, 'ret/clear', 1);
    const pub = await connected(fx);
    await pub.publish('ret/clear', 'x', 1, true);
    await pub.publish('ret/clear', Buffer.alloc(0), 1, true);
    const [first, second] = await nextPublishes(live, 2);
    assert.equal(text(first!), 'x');
    assert.equal(second?.payload.length, 0);
    assert.equal(second?.retain, false, 'forwarded to an established subscription with RETAIN 0 [MQTT-3.3.1-9]');
  });

  test('an empty retained payload for a topic with no retained message changes nothing [MQTT-3.3.1-11]', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx);
    await pub.publish('ret/never', Buffer.alloc(0), 0, true);
    await pub.publish('ret/other', 'kept', 0, true);
    await pub.barrier();
    const sub = await connected(fx);
    await sub.subscribe('ret/+', 0);
    const got = await sub.nextPublish();
    assert.equal(got.topic, 'ret/other');
    await assertNothingDelivered(sub);
  });

  test('a wildcard subscription receives every matching retained message, each once, with RETAIN 1 [MQTT-3.3.1-6]', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx);
    const topics = ['home/kitchen/temp', 'home/kitchen/hum', 'home/garage/temp', 'home', 'office/temp', 'homeless'];
    for (const topic of topics) await pub.publish(topic, `v:${topic}`, 1, true);
    const cases: [filter: string, expected: string[]][] = [
      ['home/#', ['home', 'home/garage/temp', 'home/kitchen/hum', 'home/kitchen/temp']],
      ['+/+/temp', ['home/garage/temp', 'home/kitchen/temp']],
      ['+/temp', ['office/temp']],
      ['#', [...topics].sort()],
    ];
    for (const [filter, expected] of cases) {
      const sub = await connected(fx);
      await sub.subscribe(filter, 1);
      await sub.barrier();
      const got = pendingPublishes(sub);
      assert.deepEqual(got.map((p) => p.topic).sort(), expected, filter);
      for (const p of got) assert.deepEqual([p.retain, text(p)], [true, `v:${p.topic}`]);
    }
  });

  test('retained messages on `$` topics are not matched by filters starting with # or + [MQTT-4.7.2-1]', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx);
    await pub.publish('$internal/state', 'dollar', 1, true);
    await pub.publish('plain/state', 'plain', 1, true);
    const hash = await connected(fx);
    await hash.subscribe('#', 1);
    assert.equal((await hash.nextPublish()).topic, 'plain/state');
    await assertNothingDelivered(hash, '# must not match $internal/state');
    const plus = await connected(fx);
    await plus.subscribe('+/state', 1);
    assert.equal((await plus.nextPublish()).topic, 'plain/state');
    await assertNothingDelivered(plus, '+/state must not match $internal/state');
    const explicit = await connected(fx);
    await explicit.subscribe('$internal/#', 1);
    assert.equal((await explicit.nextPublish()).topic, '$internal/state');
    const explicitPlus = await connected(fx);
    await explicitPlus.subscribe('$internal/+', 1);
    assert.equal((await explicitPlus.nextPublish()).topic, '$internal/state');
  });

  for (const [stored, granted] of [[2, 1], [2, 0], [1, 0], [1, 2], [0, 2]] as const) {
    test(`a QoS ${stored} retained message sent to a QoS ${granted} subscription arrives at QoS ${Math.min(stored, granted)} [MQTT-3.8.4-6]`, async (t) => {
      const fx = brokerFor(t);
      const pub = await connected(fx);
      await pub.publish('ret/qos', 'r', stored, true);
      await pub.barrier();
      const sub = await connected(fx);
      await sub.subscribe('ret/qos', granted);
      const got = await sub.nextPublish();
      assert.equal(got.qos, Math.min(stored, granted));
      assert.equal(got.retain, true);
    });
  }

  test('3.1.1: subscribing again to the same filter re-sends the retained messages [MQTT-3.8.4-3]', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx);
    await pub.publish('ret/again', 'r', 1, true);
    const sub = await connected(fx);
    await sub.subscribe('ret/again', 1);
    assert.equal((await sub.nextPublish()).retain, true);
    await sub.subscribe('ret/again', 0);
    const again = await sub.nextPublish();
    assert.deepEqual([text(again), again.retain, again.qos], ['r', true, 0]);
    await assertNothingDelivered(sub);
  });

  test('a retained message published by the embedding API is delivered like one from a client', async (t) => {
    const fx = brokerFor(t);
    fx.broker.publish({ topic: 'ret/api', payload: 'api', qos: 2, retain: true });
    const sub = await connected(fx);
    await sub.subscribe('ret/api', 2);
    const got = await sub.nextPublish();
    assert.deepEqual([text(got), got.qos, got.retain], ['api', 2, true]);
  });

  test('retained messages survive the publisher disconnecting', async (t) => {
    const fx = brokerFor(t);
    const pub = await connected(fx);
    await pub.publish('ret/orphan', 'still here', 1, true);
    pub.disconnect();
    await pub.closedWithin();
    const sub = await connected(fx);
    await sub.subscribe('ret/orphan', 1);
    assert.equal(text(await sub.nextPublish()), 'still here');
  });
});

describe('maxRetainedMessages', () => {
  test('beyond the cap a new topic is not retained; stored topics stay updatable and deletable', async (t) => {
    const fx = brokerFor(t, { maxRetainedMessages: 2 });
    const pub = await connected(fx);
    await pub.publish('cap/a', 'a1', 1, true);
    await pub.publish('cap/b', 'b1', 1, true);
    await pub.publish('cap/c', 'c1', 1, true); // over the cap: not stored
    await pub.publish('cap/a', 'a2', 1, true); // existing topic: replaced

    const first = await connected(fx);
    await first.subscribe('cap/#', 1);
    await first.barrier();
    assert.deepEqual(retainedSeen(first), ['cap/a=a2', 'cap/b=b1']);

    // deleting one frees a slot for a new topic
    await pub.publish('cap/b', Buffer.alloc(0), 1, true);
    await pub.publish('cap/c', 'c2', 1, true);
    const second = await connected(fx);
    await second.subscribe('cap/#', 1);
    await second.barrier();
    assert.deepEqual(retainedSeen(second), ['cap/a=a2', 'cap/c=c2']);
  });

  test('a message over the cap is still delivered to current subscribers', async (t) => {
    const fx = brokerFor(t, { maxRetainedMessages: 1 });
    const live = await subscriber(fx, 'cap2/#', 1);
    const pub = await connected(fx);
    await pub.publish('cap2/a', 'a', 1, true);
    await pub.publish('cap2/b', 'b', 1, true);
    assert.deepEqual((await nextPublishes(live, 2)).map(text), ['a', 'b']);
    await settle([pub], [live]);
  });
});
