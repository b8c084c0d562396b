// How the core applies an Authorizer's verdicts: per-message read rights (canRead, as
// mosquitto's `read` ACLs) and the 'disconnect' verdict of a Gooee-style topic table.
// The adapters' own rules (ACL file, topic rules) are tested in src/adapters/authz/.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Authorizer, AuthzVerdict, ClientIdentity } from '../../src/core/ports.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { PacketType, type DisconnectPacket } from '../../src/protocol/types.js';
import { assertNothingDelivered, brokerFor, connected, subscriber, text } from './pubsub-support.js';

/** Everyone may publish and subscribe; only `reader` may read under `secret/`. */
class ReadRights implements Authorizer {
  readonly asked: string[] = [];
  constructor(readonly reader: string) {}
  canPublish(): AuthzVerdict {
    return 'allow';
  }
  canSubscribe(): AuthzVerdict {
    return 'allow';
  }
  canRead(client: ClientIdentity, topic: string): boolean {
    this.asked.push(`${client.identity ?? '-'}:${topic}`);
    return !topic.startsWith('secret/') || client.identity === this.reader;
  }
}

/** A topic table with deny_action "disconnect": only `ok/...` is allowed. */
class DisconnectOutside implements Authorizer {
  canPublish(_c: ClientIdentity, topic: string): AuthzVerdict {
    return topic.startsWith('ok/') ? 'allow' : 'disconnect';
  }
  canSubscribe(_c: ClientIdentity, filter: string): AuthzVerdict {
    return filter.startsWith('ok/') ? 'allow' : 'disconnect';
  }
}

describe('authorization: per-message read rights (canRead)', () => {
  test('a subscription to # receives only the topics the client may read, checked per message with its identity', async (t) => {
    const authorizer = new ReadRights('alice');
    const fx = brokerFor(t, { authorizer });
    const bob = await connected(fx, {}, { username: 'bob' });
    await bob.subscribe('#', 1);
    const alice = await connected(fx, {}, { username: 'alice' });
    await alice.subscribe('#', 1);
    const pub = await connected(fx);
    await pub.publish('secret/plan', 'for alice', 1);
    await pub.publish('public/news', 'for all', 1);
    assert.deepEqual([text(await alice.nextPublish()), text(await alice.nextPublish())], ['for alice', 'for all']);
    const got = await bob.nextPublish();
    assert.equal(got.topic, 'public/news');
    await assertNothingDelivered(bob);
    assert.ok(authorizer.asked.includes('bob:secret/plan'), 'asked with the subscriber identity');
  });

  test('retained messages sent on SUBSCRIBE are filtered the same way', async (t) => {
    const fx = brokerFor(t, { authorizer: new ReadRights('alice') });
    const pub = await connected(fx);
    await pub.publish('secret/r', 'hidden', 1, true);
    await pub.publish('public/r', 'shown', 1, true);
    const bob = await connected(fx, {}, { username: 'bob' });
    await bob.subscribe('+/r', 1);
    assert.equal((await bob.nextPublish()).topic, 'public/r');
    await assertNothingDelivered(bob);
  });

  test('messages queued for an offline persistent session are checked with the session owner', async (t) => {
    const fx = brokerFor(t, { authorizer: new ReadRights('alice') });
    const bob = await connected(fx, {}, { clientId: 'bob-1', username: 'bob', cleanStart: false });
    await bob.subscribe('#', 1);
    bob.disconnect();
    await bob.closedWithin();
    const pub = await connected(fx);
    await pub.publish('secret/q', 'hidden', 1);
    await pub.publish('public/q', 'shown', 1);
    await pub.barrier();
    const back = fx.client();
    const connack = await back.connect({ clientId: 'bob-1', username: 'bob', cleanStart: false });
    assert.equal(connack.sessionPresent, true);
    assert.equal((await back.nextPublish()).topic, 'public/q');
    await assertNothingDelivered(back);
  });

  test('without canRead nothing is filtered (the check costs nothing when unused)', async (t) => {
    const fx = brokerFor(t);
    const sub = await subscriber(fx, '#', 0);
    const pub = await connected(fx);
    await pub.publish('secret/x', 'x', 0);
    assert.equal((await sub.nextPublish()).topic, 'secret/x');
  });
});

describe("authorization: the 'disconnect' verdict", () => {
  test('v5: a forbidden PUBLISH gets DISCONNECT 0x87 and is not delivered; other clients carry on', async (t) => {
    const fx = brokerFor(t, { authorizer: new DisconnectOutside() });
    const sub = await subscriber(fx, 'ok/#', 1, { version: 5 });
    const bad = await connected(fx, { version: 5 });
    bad.send({ type: PacketType.PUBLISH, topic: 'other/x', payload: Buffer.from('no'), qos: 1, packetId: 7, retain: false, dup: false });
    const disconnect = await bad.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
    assert.equal(disconnect.reasonCode, ReasonCode.NOT_AUTHORIZED);
    await bad.closedWithin();
    const good = await connected(fx, { version: 5 });
    await good.publish('ok/y', 'fine', 1);
    assert.equal((await sub.nextPublish()).topic, 'ok/y');
    await assertNothingDelivered(sub);
  });

  test('3.1.1: a forbidden PUBLISH closes the connection without an ack', async (t) => {
    const fx = brokerFor(t, { authorizer: new DisconnectOutside() });
    const bad = await connected(fx);
    bad.send({ type: PacketType.PUBLISH, topic: 'other/x', payload: Buffer.from('no'), qos: 1, packetId: 8, retain: false, dup: false });
    await bad.closedWithin();
    assert.equal(bad.received.some((p) => p.type === PacketType.PUBACK), false);
  });

  for (const version of [4, 5] as const) {
    test(`v${version}: a forbidden SUBSCRIBE closes the connection (v5 with DISCONNECT 0x87), no SUBACK`, async (t) => {
      const fx = brokerFor(t, { authorizer: new DisconnectOutside() });
      const bad = await connected(fx, { version });
      bad.send({
        type: PacketType.SUBSCRIBE,
        packetId: 9,
        subscriptions: [{ topicFilter: 'other/#', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }],
      });
      await bad.closedWithin();
      assert.equal(bad.received.some((p) => p.type === PacketType.SUBACK), false);
      if (version === 5) {
        const disconnect = bad.received.find((p): p is DisconnectPacket => p.type === PacketType.DISCONNECT);
        assert.equal(disconnect?.reasonCode, ReasonCode.NOT_AUTHORIZED);
      }
    });
  }
});

describe('authentication refusals', () => {
  test("v5: the authenticator's reason reaches the log but not the client's CONNACK Reason String", async (t) => {
    const logged: string[] = [];
    const logger = {
      debug: () => {},
      info: (fields: object) => logged.push(JSON.stringify(fields)),
      warn: (fields: object) => logged.push(JSON.stringify(fields)),
      error: () => {},
    };
    const authenticator = { authenticate: () => ({ ok: false as const, returnCode: 5 as const, reason: 'token tk1 revoked' }) };
    const fx = brokerFor(t, { authenticator, logger });
    const client = fx.client({ version: 5 });
    const connack = await client.connect({ username: 'authorization', password: Buffer.from('cx_guess') });
    assert.equal(connack.reasonCode, ReasonCode.NOT_AUTHORIZED);
    assert.equal(connack.properties?.reasonString, 'not authorized');
    assert.ok(logged.some((line) => line.includes('token tk1 revoked')), `logged: ${logged.join('\n')}`);
  });
});
