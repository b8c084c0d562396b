// A node that dies takes no session with it: each node mirrors its persistent sessions to
// Redis, and a client that reconnects to another node after its node died gets its session
// (subscriptions, queued messages) from there. The dead node, restarted, does not bring
// back a stale copy.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';
import { ClientPool, crossNodeReady, show, startCluster, uniqueId, uniqueTopic, type Cluster, type ClusterNode } from './support.js';

let redis: RedisServer | undefined;
let cluster: Cluster | undefined;
const pool = new ClientPool();

before(async () => {
  redis = await startRedisServer();
  cluster = await startCluster(3, redis.url);
});

after(async () => {
  pool.closeAll();
  await cluster?.stop();
  await redis?.stop();
});

const node = (i: number): ClusterNode => (cluster as Cluster).nodes[i - 1] as ClusterNode;

for (const version of [4, 5] as const) {
  test(`v${version}: the session of a client whose node was killed resumes on another node, with its queued messages and subscription`, { timeout: 40_000 }, async () => {
    const [n1, n2, n3] = [node(1), node(2), node(3)];
    if (!n1.alive()) await n1.restart();
    const topic = uniqueTopic(`cluster/failover/v${version}`);
    const clientId = uniqueId(`fo${version}`);
    const session = version === 5 ? { clientId, clean: false, properties: { sessionExpiryInterval: 600 } } : { clientId, clean: false };

    const first = await pool.connect(n1, version, session);
    await first.client.subscribeAsync(topic, { qos: 1 });
    const pub = await pool.connect(n2, version);
    await crossNodeReady(first, pub);
    await first.end();
    const queued = 20;
    for (let i = 0; i < queued; i++) await pub.client.publishAsync(topic, `queued ${i}`, { qos: 1 });

    // n2 acknowledged them; n1 (holding the session) gets them through Redis a moment later and
    // mirrors them there: forwarding is at most once, so the test waits for n1 to have them
    const mirror = (redis as RedisServer).client();
    await waitFor(async () => (await mirror.hkeys(`culex:s:${clientId}`)).filter((f) => f.startsWith('d:')).length === queued, {
      timeoutMs: 5000,
      message: `n1 to mirror the ${queued} queued messages`,
    });

    const killedAt = Date.now();
    await n1.kill();
    // the survivors notice n1 is gone (no heartbeat for 5 s)
    await waitFor(() => n3.logs().some((l) => l.msg === 'cluster: node left (no heartbeat)' && l.node === 'n1' && Number(l.time) >= killedAt), {
      timeoutMs: 15_000,
      message: () => `n3 to notice that n1 left: ${n3.tail(10)}`,
    });

    const second = await pool.connect(n3, version, session);
    assert.equal(second.connack.sessionPresent, true, `${clientId}'s session comes back on n3 from the mirror`);
    await waitFor(() => second.inbox.length >= queued, { timeoutMs: 10_000, message: () => `the ${queued} queued messages at n3: ${show(second.inbox)}` });
    assert.deepEqual(
      second.inbox.map((m) => m.payload),
      Array.from({ length: queued }, (_, i) => `queued ${i}`),
    );
    // the subscription is in force on n3
    await crossNodeReady(second, pub);
    await pub.client.publishAsync(topic, 'after failover', { qos: 1 });
    await waitFor(() => second.on(topic).some((m) => m.payload === 'after failover'), { timeoutMs: 5000, message: 'a new message after failover' });
    console.log(`${clientId}: ${queued} queued messages taken over by n3 after n1 was killed`);

    // n1 comes back: its stored copy of the session is dropped, not resumed there
    await second.end();
    await n1.restart();
    const third = await pool.connect(n2, version, session);
    assert.equal(third.connack.sessionPresent, true, 'the session moves on to n2 from n3, its holder');
    await crossNodeReady(third, pub);
    await pub.client.publishAsync(topic, 'final', { qos: 1 });
    await waitFor(() => third.on(topic).some((m) => m.payload === 'final'), { timeoutMs: 5000, message: "'final' at n2" });
    await third.end();
    assert.equal(third.inbox.filter((m) => m.payload.startsWith('queued')).length, 0, `no stale queued messages replayed: ${show(third.inbox)}`);
    await pub.end();
  });
}

test('a session a node restored from its own store at restart is mirrored again, so it survives that node dying later', { timeout: 60_000 }, async () => {
  const [n1, n2, n3] = [node(1), node(2), node(3)];
  if (!n1.alive()) await n1.restart();
  const topic = uniqueTopic('cluster/failover/restored');
  const clientId = uniqueId('restored');
  const session = { clientId, clean: false };
  const first = await pool.connect(n2, 4, session);
  await first.client.subscribeAsync(topic, { qos: 1 });
  const pub = await pool.connect(n1, 4);
  await crossNodeReady(first, pub);
  await first.end();
  for (let i = 0; i < 5; i++) await pub.client.publishAsync(topic, `kept ${i}`, { qos: 1 });
  const mirror = (redis as RedisServer).client();
  const key = `culex:s:${clientId}`;
  await waitFor(async () => (await mirror.hkeys(key)).filter((f) => f.startsWith('d:')).length === 5, { timeoutMs: 5000, message: 'n2 to mirror the 5 messages' });

  // n2 stops; its mirror copy is lost (as after a Redis restart); n2 comes back from its SQLite
  await n2.stop();
  await mirror.del(key);
  await n2.restart();
  await waitFor(async () => (await mirror.hkeys(key)).filter((f) => f.startsWith('d:')).length === 5, {
    timeoutMs: 5000,
    message: 'n2 to mirror its restored session again when it rejoins',
  });

  const killedAt = Date.now();
  await n2.kill();
  await waitFor(() => n3.logs().some((l) => l.msg === 'cluster: node left (no heartbeat)' && l.node === 'n2' && Number(l.time) >= killedAt), {
    timeoutMs: 15_000,
    message: () => `n3 to notice that n2 left: ${n3.tail(10)}`,
  });
  const again = await pool.connect(n3, 4, session);
  assert.equal(again.connack.sessionPresent, true);
  await waitFor(() => again.inbox.length >= 5, { timeoutMs: 10_000, message: () => `the 5 messages at n3: ${show(again.inbox)}` });
  assert.deepEqual(
    again.inbox.map((m) => m.payload),
    ['kept 0', 'kept 1', 'kept 2', 'kept 3', 'kept 4'],
  );
  await again.end();
  await pub.end();
  await n2.restart();
});
