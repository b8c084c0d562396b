// The Redis session mirror against a real redis-server: what the broker writes through
// the DurableStore calls comes back whole from takeSession on another node, copies stay
// owned by the node that wrote them, expire with their session, and a Redis outage costs
// copies, never an exception.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { createMessage } from '../../core/message.js';
import type { DeliveryRecord, Logger, SessionRecord } from '../../core/ports.js';
import type { SubscriptionOptions } from '../../core/session-state.js';
import { startRedisServer, type RedisServer } from '../../../test/helpers/redis-server.js';
import { waitFor } from '../../../test/helpers/wait-for.js';
import { RedisSessionMirror } from './session-mirror.js';
import { ClusterConfigError } from './wire.js';

interface Logged {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: object;
  message: string | undefined;
}

function recordingLogger(): Logger & { lines: Logged[]; warnings(): Logged[] } {
  const lines: Logged[] = [];
  const log = (level: Logged['level']) => (fields: object, message?: string) => void lines.push({ level, fields, message });
  return { lines, warnings: () => lines.filter((l) => l.level === 'warn'), debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

const SUB_A: SubscriptionOptions = { qos: 2, noLocal: true, retainAsPublished: false, retainHandling: 1, subscriptionIdentifier: 7 };
const SUB_B: SubscriptionOptions = { qos: 1, noLocal: false, retainAsPublished: true, retainHandling: 0, subscriptionIdentifier: undefined };

function session(clientId: string, disconnectedAt: number | undefined, expiryInterval = 3600): SessionRecord {
  return { clientId, expiryInterval, owner: { clientId, username: 'user-1', identity: undefined }, disconnectedAt };
}

function delivery(seq: number, messageId: number, over: Partial<DeliveryRecord> = {}): DeliveryRecord {
  return { seq, messageId, qos: 1, retain: false, subscriptionIdentifiers: undefined, shareGroup: undefined, packetId: 0, stage: 'publish', ...over };
}

describe('RedisSessionMirror', () => {
  let server: RedisServer;
  /** The mirrors' connection (as the cluster link makes it: nothing queued while Redis is away). */
  let redis: Redis;
  /** For assertions. */
  let check: Redis;

  before(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    redis.on('error', () => undefined);
    check = server.client();
    await waitFor(() => redis.status === 'ready', { message: 'the mirror connection to be ready' });
  });

  after(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  function mirror(nodeId = 'node-a', logger = recordingLogger()): RedisSessionMirror {
    return new RedisSessionMirror({ redis, nodeId, logger });
  }

  const key = (clientId: string): string => `culex:s:${clientId}`;

  async function fields(clientId: string): Promise<string[]> {
    return (await check.hkeys(key(clientId))).sort();
  }

  test('a session written through the store calls comes back whole from takeSession on another node, and the key is gone', async () => {
    const a = mirror('node-a');
    const expiresAt = Date.now() + 600_000;
    const withProps = createMessage('a/x', Buffer.from('one'), 1, false, { contentType: 'text/plain', correlationData: Buffer.from([1, 2]), userProperties: [['k', 'v']], payloadFormatIndicator: 1 }, 'pub-1', expiresAt);
    const plain = createMessage('b/y', Buffer.from([0, 255]), 2, true, undefined, undefined);

    a.saveSession(session('c-whole', undefined));
    a.saveSubscription('c-whole', 'a/+', SUB_A);
    a.saveSubscription('c-whole', 'b/#', SUB_B);
    a.saveMessage(1, withProps);
    a.saveDelivery('c-whole', delivery(1, 1, { subscriptionIdentifiers: [7], packetId: 5 }));
    a.saveMessage(2, plain);
    a.saveDelivery('c-whole', delivery(2, 2, { qos: 2, retain: true, shareGroup: 'g', packetId: 6 }));
    a.saveDelivery('c-whole', delivery(3, 1, { subscriptionIdentifiers: [7] }));
    a.saveIncomingQos2('c-whole', 11);
    a.saveIncomingQos2('c-whole', 10);
    a.commit();
    // later turns: PUBREC for the QoS 2 one, then the client goes away
    a.updateDelivery('c-whole', 2, 6, 'pubrel');
    a.commit();
    const offline = session('c-whole', Date.now());
    a.saveSession(offline);
    a.commit();
    await waitFor(async () => (await check.hget(key('c-whole'), 'p:2')) === '6:pubrel' && (await check.pttl(key('c-whole'))) > 0, { message: 'the last batches in Redis' });
    assert.equal(await check.hget(key('c-whole'), 'owner'), 'node-a');

    const taken = await mirror('node-b').takeSession('c-whole');
    assert.ok(taken !== undefined);
    assert.deepEqual(taken.record, offline);
    assert.deepEqual(taken.subscriptions, [
      ['a/+', SUB_A],
      ['b/#', SUB_B],
    ]);
    assert.deepEqual(
      taken.deliveries.map((d) => d.record),
      [
        delivery(1, 0, { subscriptionIdentifiers: [7], packetId: 5 }),
        delivery(2, 0, { qos: 2, retain: true, shareGroup: 'g', packetId: 6, stage: 'pubrel' }),
        delivery(3, 0, { subscriptionIdentifiers: [7] }),
      ],
    );
    const [first, second, third] = taken.deliveries.map((d) => d.message);
    assert.ok(first !== undefined && second !== undefined);
    assert.equal(third, first, 'one Message object per stored message');
    assert.equal(first.topic, 'a/x');
    assert.deepEqual(first.payload, Buffer.from('one'));
    assert.equal(first.qos, 1);
    assert.equal(first.retain, false);
    assert.equal(first.origin, 'pub-1');
    assert.equal(first.expiresAt, expiresAt);
    assert.deepEqual(first.properties, withProps.properties);
    assert.equal(second.topic, 'b/y');
    assert.deepEqual(second.payload, Buffer.from([0, 255]));
    assert.equal(second.qos, 2);
    assert.equal(second.retain, true);
    assert.equal(second.properties, undefined);
    assert.equal(second.origin, undefined);
    assert.deepEqual(taken.incomingQos2, [10, 11]);
    assert.equal(await check.exists(key('c-whole')), 0, 'taking deletes the copy');
    assert.equal(await mirror('node-c').takeSession('c-whole'), undefined, 'only one node takes it');
  });

  test('deleteDelivery, deleteSubscription and deleteIncomingQos2 remove their fields', async () => {
    const a = mirror();
    a.saveSession(session('c-del', undefined));
    a.saveSubscription('c-del', 'keep/#', SUB_B);
    a.saveSubscription('c-del', 'drop/+', SUB_A);
    a.saveMessage(1, createMessage('t', Buffer.from('x'), 1, false, undefined, undefined));
    a.saveDelivery('c-del', delivery(1, 1, { packetId: 3 }));
    a.saveDelivery('c-del', delivery(2, 1));
    a.saveIncomingQos2('c-del', 4);
    a.saveIncomingQos2('c-del', 5);
    a.commit();
    await waitFor(async () => (await fields('c-del')).length === 9, { message: 'the copy in Redis' });
    assert.deepEqual(await fields('c-del'), ['d:1', 'd:2', 'in:4', 'in:5', 'meta', 'owner', 'p:1', 'sub:drop/+', 'sub:keep/#']);

    a.deleteDelivery('c-del', 1);
    a.deleteSubscription('c-del', 'drop/+');
    a.deleteIncomingQos2('c-del', 4);
    a.deleteMessage(1);
    a.commit();
    await waitFor(async () => !(await fields('c-del')).includes('in:4'), { message: 'the deletes in Redis' });
    assert.deepEqual(await fields('c-del'), ['d:2', 'in:5', 'meta', 'owner', 'sub:keep/#']);
    // deletes of what is already gone are no-ops
    a.deleteDelivery('c-del', 1);
    a.deleteSubscription('c-del', 'nothing');
    a.saveIncomingQos2('c-del', 6);
    a.commit();
    await waitFor(async () => (await fields('c-del')).includes('in:6'), { message: 'the next batch' });
    assert.deepEqual(await fields('c-del'), ['d:2', 'in:5', 'in:6', 'meta', 'owner', 'sub:keep/#']);
  });

  test('deleteSession deletes only a copy this node owns', async () => {
    const a = mirror('node-a');
    a.saveSession(session('c-own', undefined));
    a.saveSubscription('c-own', 'x', SUB_B);
    a.commit();
    await waitFor(async () => (await check.exists(key('c-own'))) === 1, { message: 'the copy' });

    const b = mirror('node-b');
    b.deleteSession('c-own');
    b.saveSession(session('c-marker', undefined));
    b.commit();
    await waitFor(async () => (await check.exists(key('c-marker'))) === 1, { message: 'node-b’s batch' });
    assert.deepEqual(await fields('c-own'), ['meta', 'owner', 'sub:x'], 'node-b does not own it: kept');

    a.deleteSession('c-own');
    a.commit();
    await waitFor(async () => (await check.exists(key('c-own'))) === 0, { message: 'the owner’s delete' });
  });

  test('the first saveSession starts a new copy: stale fields go, the node claims it, and the old owner’s late writes change nothing', async () => {
    await check.hset(key('c-stale'), 'owner', 'node-z', 'meta', '{}', 'sub:old/#', '{}', 'd:99', 'junk', 'in:3', '1');
    const a = mirror('node-a');
    a.saveSession(session('c-stale', undefined));
    a.saveSubscription('c-stale', 'a/#', SUB_A);
    a.commit();
    await waitFor(async () => (await check.hget(key('c-stale'), 'owner')) === 'node-a', { message: 'node-a’s copy' });
    assert.deepEqual(await fields('c-stale'), ['meta', 'owner', 'sub:a/#']);

    // node-b takes the client over (a handover) and writes its own copy
    const b = mirror('node-b');
    b.saveSession(session('c-stale', undefined));
    b.saveSubscription('c-stale', 'b/#', SUB_B);
    b.commit();
    await waitFor(async () => (await check.hget(key('c-stale'), 'owner')) === 'node-b', { message: 'node-b’s copy' });
    assert.deepEqual(await fields('c-stale'), ['meta', 'owner', 'sub:b/#']);

    // node-a's last writes and its delete arrive after: the copy is node-b's now
    a.saveSubscription('c-stale', 'late/#', SUB_B);
    a.saveIncomingQos2('c-stale', 9);
    a.deleteSession('c-stale');
    a.saveSession(session('c-marker-2', undefined));
    a.commit();
    await waitFor(async () => (await check.exists(key('c-marker-2'))) === 1, { message: 'node-a’s batch' });
    assert.deepEqual(await fields('c-stale'), ['meta', 'owner', 'sub:b/#']);
    assert.equal(await check.hget(key('c-stale'), 'owner'), 'node-b');
  });

  test('an offline session with a finite expiry gets a TTL (its remaining time + 60 s); online or never-expiring, none', async () => {
    const a = mirror();
    const disconnectedAt = Date.now() - 20_000;
    a.saveSession(session('c-ttl', disconnectedAt, 120));
    a.commit();
    await waitFor(async () => (await check.pttl(key('c-ttl'))) > 0, { message: 'a TTL' });
    const ttl = await check.pttl(key('c-ttl'));
    // 120 s expiry, 20 s ago, + 60 s margin
    assert.ok(ttl > 150_000 && ttl <= 160_000, `PTTL ${ttl}`);

    a.saveSession(session('c-ttl', undefined, 120));
    a.commit();
    await waitFor(async () => (await check.pttl(key('c-ttl'))) === -1, { message: 'PERSIST when online' });

    a.saveSession(session('c-ttl', Date.now(), 0xffffffff));
    a.saveSession(session('c-ttl-marker', Date.now(), 60));
    a.commit();
    await waitFor(async () => (await check.exists(key('c-ttl-marker'))) === 1, { message: 'the batch' });
    assert.equal(await check.pttl(key('c-ttl')), -1, 'a session that never expires has no TTL');
    assert.deepEqual(JSON.parse((await check.hget(key('c-ttl'), 'meta')) ?? 'null').expiryInterval, 0xffffffff);
  });

  test('takeSession: an unknown client is undefined; unreadable fields are skipped with a warning', async () => {
    const logger = recordingLogger();
    const b = mirror('node-b', logger);
    assert.equal(await b.takeSession('c-nobody'), undefined);

    const a = mirror('node-a');
    a.saveSession(session('c-corrupt', undefined));
    a.saveSubscription('c-corrupt', 'ok', SUB_B);
    a.commit();
    await waitFor(async () => (await check.exists(key('c-corrupt'))) === 1, { message: 'the copy' });
    await check.hset(key('c-corrupt'), 'sub:bad', 'not json', 'd:7', Buffer.from([0, 0, 0, 200, 1]), 'p:x', '1:publish', 'in:0', '1', 'what', '?');
    const taken = await b.takeSession('c-corrupt');
    assert.ok(taken !== undefined);
    assert.deepEqual(taken.subscriptions, [['ok', SUB_B]]);
    assert.deepEqual(taken.deliveries, []);
    assert.deepEqual(taken.incomingQos2, []);
    assert.deepEqual(logger.warnings().map((w) => (w.fields as { field: string }).field).sort(), ['d:7', 'in:0', 'p:x', 'sub:bad', 'what']);

    // without its record a copy cannot be taken (and is deleted all the same)
    await check.hset(key('c-no-meta'), 'owner', 'node-a', 'sub:x', JSON.stringify(SUB_B));
    assert.equal(await b.takeSession('c-no-meta'), undefined);
    assert.equal(await check.exists(key('c-no-meta')), 0);
  });

  test('mirrorSession writes a restored session whole, and later deliveries of its stored messages', async () => {
    const a = mirror();
    const restored = createMessage('r/1', Buffer.from('restored'), 1, false, undefined, 'p');
    a.mirrorSession({
      record: session('c-restored', undefined),
      subscriptions: [['r/#', SUB_A]],
      deliveries: [{ record: delivery(4, 17, { packetId: 9 }), message: restored }],
      incomingQos2: [2],
    });
    // the broker hands the same stored message (id 17) to another session later
    a.saveSession(session('c-other', undefined));
    a.saveDelivery('c-other', delivery(1, 17));
    a.commit();
    await waitFor(async () => (await check.exists(key('c-other'))) === 1, { message: 'the batch' });
    const taken = await mirror('node-b').takeSession('c-restored');
    assert.deepEqual(taken?.subscriptions, [['r/#', SUB_A]]);
    assert.deepEqual(taken?.deliveries.map((d) => [d.record.seq, d.record.packetId, d.message.topic, d.message.payload.toString()]), [[4, 9, 'r/1', 'restored']]);
    assert.deepEqual(taken?.incomingQos2, [2]);
    assert.deepEqual((await mirror('node-b').takeSession('c-other'))?.deliveries.map((d) => d.message.topic), ['r/1']);
  });

  test('a delivery of a message the mirror never saw drops the copy (with a warning) rather than leave it without', async () => {
    const logger = recordingLogger();
    const a = mirror('node-a', logger);
    a.saveSession(session('c-unknown', undefined));
    a.saveSubscription('c-unknown', 's', SUB_B);
    a.saveDelivery('c-unknown', delivery(1, 4242));
    a.saveIncomingQos2('c-unknown', 3);
    a.saveSession(session('c-unknown-marker', undefined));
    a.commit();
    await waitFor(async () => (await check.exists(key('c-unknown-marker'))) === 1, { message: 'the batch' });
    assert.equal(await check.exists(key('c-unknown')), 0);
    assert.deepEqual(logger.warnings().map((w) => w.fields), [{ clientId: 'c-unknown', messageId: 4242 }]);
  });

  test('a node id that cannot be written is the caller’s error', () => {
    assert.throws(() => mirror(''), (err: unknown) => err instanceof ClusterConfigError && err.code === 'CLUSTER_CONFIG_INVALID');
    assert.throws(() => mirror('x'.repeat(65)), ClusterConfigError);
  });

  test('a batch lost while Redis keeps its data (this connection was down): the copies it touched are deleted, not left partial', async () => {
    const own = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 50, lazyConnect: true });
    own.on('error', () => undefined);
    try {
      await own.connect();
      const a = new RedisSessionMirror({ redis: own, nodeId: 'node-a', logger: recordingLogger() });
      a.saveSession(session('c-lost', undefined));
      a.saveSubscription('c-lost', 'before', SUB_B);
      a.commit();
      await waitFor(async () => (await check.exists(key('c-lost'))) === 1, { message: 'the copy' });

      // sent as the connection closes: the MULTI fails
      own.disconnect();
      assert.equal(own.status, 'ready', 'ioredis notices the close a moment later');
      a.saveSubscription('c-lost', 'during', SUB_A);
      a.commit();
      await waitFor(() => a.failedBatches === 1, { message: 'the failed batch' });
      // not sent at all: the connection is not ready
      a.saveSubscription('c-lost', 'during-2', SUB_A);
      a.commit();
      assert.equal(a.droppedBatches, 1);
      await own.connect();
      a.saveSubscription('c-lost', 'after', SUB_B);
      a.saveSession(session('c-lost-marker', undefined));
      a.commit();
      await waitFor(async () => (await check.exists(key('c-lost-marker'))) === 1, { message: 'the batch after the reconnect' });
      assert.equal(await check.exists(key('c-lost')), 0, 'the copy without "during" is gone');
      assert.equal(await mirror('node-b').takeSession('c-lost'), undefined);
    } finally {
      own.disconnect();
    }
  });

  test('a Redis that lost its script cache (SCRIPT FLUSH): the failed copy is dropped, the script is sent again', async () => {
    const logger = recordingLogger();
    const a = mirror('node-a', logger);
    a.saveSession(session('c-flush', undefined));
    a.commit();
    await waitFor(async () => (await check.exists(key('c-flush'))) === 1, { message: 'the copy' });
    await check.script('FLUSH');
    a.saveSubscription('c-flush', 'x', SUB_B);
    a.commit();
    await waitFor(() => a.failedBatches === 1, { message: 'the NOSCRIPT failure' });
    a.saveSession(session('c-flush-2', undefined));
    a.commit();
    await waitFor(async () => (await check.exists(key('c-flush-2'))) === 1, { message: 'the next batch' });
    assert.equal(await check.exists(key('c-flush')), 0);
    assert.match(JSON.stringify(logger.warnings()), /NOSCRIPT/);
  });

  test('while Redis is down commit() drops and counts batches without throwing (one warning); afterwards copies are whole or absent', { timeout: 30_000 }, async () => {
    const logger = recordingLogger();
    const a = mirror('node-a', logger);
    a.saveSession(session('c-outage', undefined));
    a.saveSubscription('c-outage', 'before', SUB_B);
    a.commit();
    await waitFor(async () => (await check.exists(key('c-outage'))) === 1, { message: 'the copy' });

    await server.kill();
    await waitFor(() => redis.status !== 'ready', { message: 'the mirror connection to notice' });
    a.saveSubscription('c-outage', 'during', SUB_A);
    assert.doesNotThrow(() => a.commit());
    a.saveIncomingQos2('c-outage', 1);
    assert.doesNotThrow(() => a.commit());
    assert.equal(a.droppedBatches, 2);
    assert.equal(logger.warnings().length, 1, 'one warning per outage');
    assert.equal(await a.takeSession('c-outage'), undefined, 'nothing to take while Redis is away');

    await server.restart();
    await waitFor(() => redis.status === 'ready', { timeoutMs: 10_000, message: 'the mirror connection to come back' });
    // the copy that missed writes is not written again (a partial copy is worse than none) ...
    a.saveSubscription('c-outage', 'after', SUB_B);
    // ... a new session is
    a.saveSession(session('c-fresh', undefined));
    a.saveSubscription('c-fresh', 'f', SUB_A);
    a.commit();
    await waitFor(async () => (await check.exists(key('c-fresh'))) === 1, { timeoutMs: 10_000, message: 'the first batch after the restart' });
    assert.deepEqual(await fields('c-fresh'), ['meta', 'owner', 'sub:f']);
    assert.equal(await check.exists(key('c-outage')), 0);
    assert.equal(a.droppedBatches, 2);
    assert.equal(a.failedBatches, 0);
    assert.ok(logger.lines.some((l) => l.level === 'info' && l.message?.includes('writes again')));

    // once that session ends and starts anew, it is mirrored again
    a.deleteSession('c-outage');
    a.saveSession(session('c-outage', undefined));
    a.saveSubscription('c-outage', 'again', SUB_B);
    a.commit();
    await waitFor(async () => (await check.exists(key('c-outage'))) === 1, { message: 'the new copy' });
    assert.deepEqual(await fields('c-outage'), ['meta', 'owner', 'sub:again']);
  });
});
