// Conformance: MQTT 5.0 Topic Alias (section 3.3.2.3.4), both ways: aliases a client
// sends to us (max_topic_alias) and aliases we assign towards a client that allows them
// (its Topic Alias Maximum, capped by max_topic_alias_outbound).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { PacketType, type DisconnectPacket, type PublishPacket } from '../../src/protocol/types.js';
import type { BrokerFixture } from '../helpers/broker-fixture.js';
import type { TestClient } from '../helpers/mqtt-test-client.js';
import { uniqueId } from './lifecycle-support.js';
import { assertNothingDelivered, brokerFor, connected, nextPublishes, text } from './pubsub-support.js';

function aliased(topic: string, alias: number, payload: string): PublishPacket {
  return { type: PacketType.PUBLISH, topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false, properties: { topicAlias: alias } };
}

async function v5(fx: BrokerFixture, topicAliasMaximum?: number): Promise<TestClient> {
  return connected(fx, { version: 5 }, topicAliasMaximum === undefined ? {} : { properties: { topicAliasMaximum } });
}

/** Sends `packet` and expects the server to answer with DISCONNECT `code` and close. */
async function disconnectedWith(client: TestClient, packet: PublishPacket, code: number): Promise<void> {
  client.send(packet);
  const dc = await client.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
  assert.equal(dc.reasonCode, code, `DISCONNECT 0x${dc.reasonCode.toString(16)}, expected 0x${code.toString(16)}`);
  await client.closedWithin();
}

describe('v5 topic alias: from the client (inbound)', () => {
  test('CONNACK announces Topic Alias Maximum = max_topic_alias (default 10, configured 3)', async (t) => {
    const fx = brokerFor(t);
    const c = fx.client({ version: 5 });
    assert.equal((await c.connect()).properties?.topicAliasMaximum, 10);
    const fx3 = brokerFor(t, { maxTopicAlias: 3 });
    const c3 = fx3.client({ version: 5 });
    assert.equal((await c3.connect()).properties?.topicAliasMaximum, 3);
  });

  test('[MQTT-3.3.2-12] a topic with an alias sets the mapping; an empty topic with that alias uses it; subscribers see the topic, not the alias', async (t) => {
    const fx = brokerFor(t);
    const sub = await v5(fx);
    await sub.subscribe('ta/in/#', 0);
    const pub = await v5(fx);
    pub.send(aliased('ta/in/a', 1, 'set'));
    pub.send(aliased('', 1, 'use'));
    pub.send(aliased('', 1, 'use again'));
    const got = await nextPublishes(sub, 3);
    assert.deepEqual(got.map((p) => [p.topic, text(p)]), [['ta/in/a', 'set'], ['ta/in/a', 'use'], ['ta/in/a', 'use again']]);
    for (const p of got) assert.equal(p.properties?.topicAlias, undefined, 'the alias is per hop, not forwarded');
  });

  test('[MQTT-3.3.2-12] every alias from 1 to Topic Alias Maximum is accepted, and an alias can be remapped', async (t) => {
    const fx = brokerFor(t, { maxTopicAlias: 3 });
    const sub = await v5(fx);
    await sub.subscribe('ta/all/#', 1);
    const pub = await v5(fx);
    for (const alias of [1, 2, 3]) pub.send(aliased(`ta/all/${alias}`, alias, `set ${alias}`));
    pub.send(aliased('', 3, 'via 3'));
    pub.send(aliased('ta/all/remapped', 1, 'remap 1'));
    pub.send(aliased('', 1, 'via 1'));
    const got = await nextPublishes(sub, 6);
    assert.deepEqual(got.map((p) => `${p.topic} ${text(p)}`), [
      'ta/all/1 set 1',
      'ta/all/2 set 2',
      'ta/all/3 set 3',
      'ta/all/3 via 3',
      'ta/all/remapped remap 1',
      'ta/all/remapped via 1',
    ]);
  });

  test('[MQTT-3.3.2-12] QoS 1 and 2 PUBLISH with an alias are acknowledged and routed', async (t) => {
    const fx = brokerFor(t);
    const sub = await v5(fx);
    await sub.subscribe('ta/qos', 2);
    const pub = await v5(fx);
    pub.send({ ...aliased('ta/qos', 4, 'q1'), qos: 1, packetId: 1 });
    assert.equal((await pub.nextOfType(PacketType.PUBACK) as { reasonCode: number }).reasonCode, 0);
    pub.send({ ...aliased('', 4, 'q2'), qos: 2, packetId: 2 });
    await pub.nextOfType(PacketType.PUBREC);
    pub.send({ type: PacketType.PUBREL, packetId: 2, reasonCode: 0 });
    await pub.nextOfType(PacketType.PUBCOMP);
    const got = await nextPublishes(sub, 2);
    assert.deepEqual(got.map((p) => `${p.topic} ${text(p)}`), ['ta/qos q1', 'ta/qos q2']);
  });

  test('[MQTT-3.3.2-8] Topic Alias 0 -> DISCONNECT 0x94 (Topic Alias invalid)', async (t) => {
    const fx = brokerFor(t);
    await disconnectedWith(await v5(fx), aliased('ta/zero', 0, 'x'), ReasonCode.TOPIC_ALIAS_INVALID);
  });

  test('[MQTT-3.2.2-17] an alias above the announced Topic Alias Maximum -> DISCONNECT 0x94', async (t) => {
    const fx = brokerFor(t, { maxTopicAlias: 3 });
    await disconnectedWith(await v5(fx), aliased('ta/high', 4, 'x'), ReasonCode.TOPIC_ALIAS_INVALID);
  });

  test('[MQTT-3.2.2-18] max_topic_alias 0: CONNACK announces 0 (or nothing) and any alias -> DISCONNECT 0x94', async (t) => {
    const fx = brokerFor(t, { maxTopicAlias: 0 });
    const c = fx.client({ version: 5 });
    const connack = await c.connect();
    assert.ok((connack.properties?.topicAliasMaximum ?? 0) === 0);
    await disconnectedWith(c, aliased('ta/none', 1, 'x'), ReasonCode.TOPIC_ALIAS_INVALID);
  });

  test('an empty topic with an alias that was never set is a Protocol Error -> DISCONNECT 0x82', async (t) => {
    const fx = brokerFor(t);
    const sub = await v5(fx);
    await sub.subscribe('#', 0);
    await disconnectedWith(await v5(fx), aliased('', 2, 'x'), ReasonCode.PROTOCOL_ERROR);
    await assertNothingDelivered(sub);
  });

  test('an empty topic without any alias is a Protocol Error (section 3.3.2.1) -> DISCONNECT 0x82', async (t) => {
    const fx = brokerFor(t);
    const c = await v5(fx);
    await disconnectedWith(c, { type: PacketType.PUBLISH, topic: '', payload: Buffer.from('x'), qos: 0, retain: false, dup: false }, ReasonCode.PROTOCOL_ERROR);
  });

  test('[MQTT-3.3.2-7] aliases do not carry over to a new connection, even of the same persistent session', async (t) => {
    const fx = brokerFor(t);
    const id = uniqueId('ta-conn');
    const first = fx.client({ version: 5 });
    await first.connect({ clientId: id, properties: { sessionExpiryInterval: 300 } });
    first.send(aliased('ta/conn', 1, 'set on the first connection'));
    await first.barrier();
    first.disconnect();
    await first.closedWithin();
    const second = fx.client({ version: 5 });
    const connack = await second.connect({ clientId: id, cleanStart: false, properties: { sessionExpiryInterval: 300 } });
    assert.equal(connack.sessionPresent, true);
    await disconnectedWith(second, aliased('', 1, 'x'), ReasonCode.PROTOCOL_ERROR);
  });

  test('aliases are per connection: two clients may map the same alias to different topics', async (t) => {
    const fx = brokerFor(t);
    const sub = await v5(fx);
    await sub.subscribe('ta/per/#', 0);
    const a = await v5(fx);
    const b = await v5(fx);
    a.send(aliased('ta/per/a', 1, 'a set'));
    await a.barrier();
    b.send(aliased('ta/per/b', 1, 'b set'));
    await b.barrier();
    a.send(aliased('', 1, 'a use'));
    await a.barrier();
    b.send(aliased('', 1, 'b use'));
    const got = await nextPublishes(sub, 4);
    assert.deepEqual(got.map((p) => `${p.topic} ${text(p)}`), ['ta/per/a a set', 'ta/per/b b set', 'ta/per/a a use', 'ta/per/b b use']);
  });
});

describe('v5 topic alias: to the client (outbound)', () => {
  test('[MQTT-3.1.2-26] [MQTT-3.3.2-11] the first PUBLISH on a topic carries the topic and an alias, the next ones an empty topic and the same alias', async (t) => {
    const fx = brokerFor(t);
    const sub = await v5(fx, 5);
    await sub.subscribe('ta/out/#', 1);
    const pub = await v5(fx);
    for (const [topic, payload, qos] of [['ta/out/x', '1', 0], ['ta/out/x', '2', 1], ['ta/out/x', '3', 0]] as const) {
      await pub.publish(topic, payload, qos);
    }
    const got = await nextPublishes(sub, 3);
    const alias = got[0]?.properties?.topicAlias;
    assert.ok(alias !== undefined && alias >= 1 && alias <= 5, `an alias within 1..5 [MQTT-3.3.2-8/11], got ${String(alias)}`);
    assert.equal(got[0]?.topic, 'ta/out/x');
    for (const p of got.slice(1)) {
      assert.equal(p.topic, '', 'the topic is left out once the alias is set');
      assert.equal(p.properties?.topicAlias, alias);
    }
    assert.deepEqual(got.map(text), ['1', '2', '3']);
  });

  test('[MQTT-3.1.2-26] at most the client\'s Topic Alias Maximum aliases (2): a third topic goes with its full name and no alias', async (t) => {
    const fx = brokerFor(t);
    const sub = await v5(fx, 2);
    await sub.subscribe('ta/two/#', 0);
    const pub = await v5(fx);
    for (const n of [1, 2, 3, 1, 2, 3]) await pub.publish(`ta/two/${n}`, `m${n}`, 0);
    const got = await nextPublishes(sub, 6);
    const aliases = new Set(got.map((p) => p.properties?.topicAlias).filter((a) => a !== undefined));
    assert.ok(aliases.size <= 2, `at most 2 aliases, got ${[...aliases].join(',')}`);
    for (const a of aliases) assert.ok(a >= 1 && a <= 2, `alias ${a} within 1..2`);
    // every delivery is resolvable: a full topic, or an alias set earlier on this connection
    const map = new Map<number, string>();
    for (const p of got) {
      const a = p.properties?.topicAlias;
      if (p.topic !== '') {
        if (a !== undefined) map.set(a, p.topic);
        assert.equal(p.topic, `ta/two/${text(p).slice(1)}`);
      } else {
        assert.ok(a !== undefined, 'an empty topic always has an alias');
        assert.equal(map.get(a), `ta/two/${text(p).slice(1)}`, 'the alias resolves to the right topic');
      }
    }
  });

  test('[MQTT-3.1.2-26] max_topic_alias_outbound caps the aliases below the client\'s maximum (1 of 10)', async (t) => {
    const fx = brokerFor(t, { maxTopicAliasOutbound: 1 });
    const sub = await v5(fx, 10);
    await sub.subscribe('ta/cap/#', 0);
    const pub = await v5(fx);
    for (const n of ['a', 'b', 'c', 'a', 'b']) await pub.publish(`ta/cap/${n}`, n, 0);
    const got = await nextPublishes(sub, 5);
    const aliases = new Set(got.map((p) => p.properties?.topicAlias).filter((a) => a !== undefined));
    assert.deepEqual([...aliases], [1]);
    for (const p of got) if (p.topic === '') assert.equal(text(p), 'a', 'only the first topic got the alias');
  });

  test('[MQTT-3.1.2-27] a client that announced no Topic Alias Maximum, or 0, never gets an alias', async (t) => {
    const fx = brokerFor(t);
    const none = await v5(fx);
    const zero = await v5(fx, 0);
    for (const c of [none, zero]) await c.subscribe('ta/off', 0);
    const pub = await v5(fx);
    for (const n of [1, 2, 3]) await pub.publish('ta/off', `m${n}`, 0);
    for (const c of [none, zero]) {
      for (const p of await nextPublishes(c, 3)) {
        assert.equal(p.topic, 'ta/off');
        assert.equal(p.properties?.topicAlias, undefined);
      }
    }
  });

  test('max_topic_alias_outbound 0: no aliases even to a client that allows them', async (t) => {
    const fx = brokerFor(t, { maxTopicAliasOutbound: 0 });
    const sub = await v5(fx, 10);
    await sub.subscribe('ta/never', 0);
    const pub = await v5(fx);
    for (const n of [1, 2]) await pub.publish('ta/never', `m${n}`, 0);
    for (const p of await nextPublishes(sub, 2)) {
      assert.equal(p.topic, 'ta/never');
      assert.equal(p.properties?.topicAlias, undefined);
    }
  });

  test('[MQTT-3.3.2-7] outbound aliases start afresh on a new connection: the first PUBLISH after a reconnect carries the topic again', async (t) => {
    const fx = brokerFor(t);
    const id = uniqueId('ta-out-conn');
    const first = fx.client({ version: 5 });
    await first.connect({ clientId: id, properties: { sessionExpiryInterval: 300, topicAliasMaximum: 5 } });
    await first.subscribe('ta/reconn', 1);
    const pub = await v5(fx);
    await pub.publish('ta/reconn', 'before', 1);
    assert.equal((await first.nextPublish()).topic, 'ta/reconn');
    first.disconnect();
    await first.closedWithin();
    await pub.publish('ta/reconn', 'queued', 1);
    const second = fx.client({ version: 5 });
    const connack = await second.connect({ clientId: id, cleanStart: false, properties: { sessionExpiryInterval: 0, topicAliasMaximum: 5 } });
    assert.equal(connack.sessionPresent, true);
    const queued = await second.nextPublish();
    assert.equal(text(queued), 'queued');
    assert.equal(queued.topic, 'ta/reconn', 'a new connection has no alias mapping yet');
  });

  test('a 3.1.1 subscriber is unaffected by aliases used towards a v5 subscriber of the same message', async (t) => {
    const fx = brokerFor(t);
    const v5sub = await v5(fx, 5);
    const v4sub = await connected(fx, { version: 4 });
    for (const c of [v5sub, v4sub]) await c.subscribe('ta/mixed', 0);
    const pub = await v5(fx);
    for (const n of [1, 2]) await pub.publish('ta/mixed', `m${n}`, 0);
    assert.deepEqual((await nextPublishes(v4sub, 2)).map((p) => `${p.topic} ${text(p)}`), ['ta/mixed m1', 'ta/mixed m2']);
    assert.deepEqual((await nextPublishes(v5sub, 2)).map((p) => p.topic), ['ta/mixed', '']);
  });
});
