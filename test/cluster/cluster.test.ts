// Cluster mode: three real `culex` processes sharing a real Redis (Debian's redis-server,
// started here on a free port). Subscriptions, retained messages and sessions are shared,
// so a message published on any node reaches matching subscribers on every node exactly as
// on one node. Routes propagate asynchronously: every test waits until cross-node routing
// is established (probes, with deadlines) before it asserts on a delivery; nothing sleeps.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/wait-for.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import {
  ClientPool,
  awaitNoRetained,
  awaitRetained,
  clusterDiagnostics,
  crossNodeReady,
  probeUntil,
  readyTimes,
  show,
  startCluster,
  uniqueId,
  uniqueTopic,
  type Cluster,
  type ClusterNode,
  type Received,
  type TestClient,
  type Version,
} from './support.js';

const SESSION_TAKEN_OVER = 0x8e;

describe('cluster: three culex nodes sharing one Redis', () => {
  let redis: RedisServer | undefined;
  let cluster: Cluster | undefined;
  const pool = new ClientPool();
  const node = (i: 1 | 2 | 3): ClusterNode => {
    const n = cluster?.nodes[i - 1];
    if (n === undefined) throw new Error('the cluster did not start (see the before hook)');
    return n;
  };

  before(
    async () => {
      const started = Date.now();
      redis = await startRedisServer();
      cluster = await startCluster(3, redis.url);
      console.log(`redis-server on port ${redis.port}; nodes ${cluster.nodes.map((n) => `${n.name}:${n.port}`).join(' ')} joined in ${Date.now() - started} ms`);
    },
    { timeout: 30_000 },
  );

  afterEach(() => pool.closeAll());

  after(
    async () => {
      pool.closeAll();
      if (readyTimes.length > 0) {
        const sorted = [...readyTimes].sort((a, b) => a - b);
        console.log(`crossNodeReady: ${sorted.length} waits, median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted[sorted.length - 1]} ms`);
      }
      try {
        await cluster?.stop();
      } finally {
        await redis?.stop();
      }
    },
    { timeout: 30_000 },
  );

  /** A test body that, when it fails, prints what the nodes logged meanwhile (warnings, cluster lines). */
  const logged =
    (fn: () => Promise<void>) =>
    async (): Promise<void> => {
      const since = Date.now();
      try {
        await fn();
      } catch (err) {
        console.log(`node logs during the failed test:\n${clusterDiagnostics(cluster, since)}`);
        throw err;
      }
    };

  /** Waits for `count` messages in `client`'s inbox matching `pred` (deadline), naming what it got. */
  function until(client: TestClient, count: number, what: string, pred: (m: Received) => boolean = () => true, timeoutMs = 5000): Promise<void> {
    return waitFor(() => client.inbox.filter(pred).length >= count, {
      timeoutMs,
      message: () => `${what} at ${client.label}: ${client.inbox.filter(pred).length} of ${count}; inbox tail ${show(client.inbox.slice(-10))}`,
    });
  }

  // -------------------------------------------------------------------------------------
  // 1. cross-node pub/sub

  test('QoS 0, 1 and 2 across nodes: each message arrives once, at min(publish QoS, subscription QoS), in order per publisher [MQTT-3.8.4-6] [MQTT-4.6.0-6]', { timeout: 30_000 }, logged(async () => {
    const base = uniqueTopic('cluster/qos');
    const [n1, n2, n3] = [node(1), node(2), node(3)];
    // two subscribers on node 2: one at QoS 2 (delivered QoS = publish QoS), one at QoS 1
    const s2 = await pool.connect(n2, 4);
    const granted2 = await s2.client.subscribeAsync(`${base}/#`, { qos: 2 });
    assert.equal(granted2[0]?.qos, 2);
    const s1 = await pool.connect(n2, 5);
    const granted1 = await s1.client.subscribeAsync(`${base}/#`, { qos: 1 });
    assert.equal(granted1[0]?.qos, 1);
    const p1 = await pool.connect(n1, 4);
    const p3 = await pool.connect(n3, 5);
    for (const sub of [s2, s1]) for (const pub of [p1, p3]) await crossNodeReady(sub, pub);

    const expected: { payload: string; topic: string; qos: 0 | 1 | 2 }[] = [];
    for (const pub of [p1, p3]) {
      for (const qos of [0, 1, 2] as const) {
        const topic = `${base}/${pub.node.name}/q${qos}`;
        for (let i = 0; i < 5; i++) {
          const payload = `${pub.node.name} q${qos} #${i}`;
          expected.push({ payload, topic, qos });
          await pub.client.publishAsync(topic, payload, { qos });
        }
      }
    }
    const data = (m: Received): boolean => !m.topic.startsWith(`${base}/end/`);
    await until(s2, expected.length, 'every message', data);
    await until(s1, expected.length, 'every message', data);
    // a barrier per publishing node: a duplicate would come before the marker of its node
    for (const pub of [p1, p3]) await pub.client.publishAsync(`${base}/end/${pub.node.name}`, 'end', { qos: 1 });
    for (const sub of [s2, s1]) await until(sub, 2, 'the end markers', (m) => m.topic.startsWith(`${base}/end/`));

    for (const [sub, subQos] of [
      [s2, 2],
      [s1, 1],
    ] as const) {
      const got = sub.inbox.filter(data);
      console.log(`${sub.label} (QoS ${subQos} subscription) got ${got.length} of ${expected.length} messages from n1 and n3`);
      assert.equal(got.length, expected.length, `each message exactly once at ${sub.label}: ${show(got)}`);
      for (const e of expected) {
        const copies = got.filter((m) => m.payload === e.payload);
        assert.equal(copies.length, 1, `${JSON.stringify(e.payload)} once at ${sub.label}`);
        assert.equal(copies[0]?.topic, e.topic);
        assert.equal(copies[0]?.packet.qos, Math.min(e.qos, subQos), `QoS of ${JSON.stringify(e.payload)} at ${sub.label} is min(${e.qos}, ${subQos})`);
        assert.equal(copies[0]?.packet.retain, false);
      }
      // ordered per publisher and QoS [MQTT-4.6.0-6]
      for (const topic of new Set(expected.map((e) => e.topic))) {
        assert.deepEqual(
          got.filter((m) => m.topic === topic).map((m) => m.payload),
          expected.filter((e) => e.topic === topic).map((e) => e.payload),
          `order on ${topic} at ${sub.label}`,
        );
      }
    }
    await Promise.all([s2, s1, p1, p3].map((c) => c.end()));
  }));

  test('5.0 No Local across nodes: a subscriber on n2 does not get its own messages, but gets everyone else\'s [MQTT-3.8.3-3]', { timeout: 30_000 }, logged(async () => {
    const topic = uniqueTopic('cluster/nolocal');
    const [n1, n2, n3] = [node(1), node(2), node(3)];
    const self = await pool.connect(n2, 5);
    await self.client.subscribeAsync(topic, { qos: 1, nl: true });
    const o1 = await pool.connect(n1, 5);
    const o3 = await pool.connect(n3, 4);
    const local = await pool.connect(n2, 5);
    // a plain subscriber on n1 proves that self's own messages do travel across nodes
    await o1.client.subscribeAsync(topic, { qos: 1 });
    await crossNodeReady(self, o1);
    await crossNodeReady(self, o3);
    await crossNodeReady(o1, self);

    await self.client.publishAsync(topic, 'mine 1', { qos: 1 });
    await o1.client.publishAsync(topic, 'theirs n1', { qos: 1 });
    await o3.client.publishAsync(topic, 'theirs n3', { qos: 1 });
    await local.client.publishAsync(topic, 'theirs n2', { qos: 1 });
    await self.client.publishAsync(topic, 'mine 2', { qos: 0 });
    await until(o1, 2, "self's two messages at the plain subscriber on n1", (m) => m.payload.startsWith('mine'));
    // barriers after self's last message, from every node
    for (const c of [local, o1, o3]) await c.client.publishAsync(topic, `last from ${c.node.name}`, { qos: 1 });
    await until(self, 3, 'the three last-markers', (m) => m.payload.startsWith('last from'));
    const got = self.inbox.map((m) => m.payload).filter((p) => !p.startsWith('last from'));
    console.log(`no-local subscriber got ${JSON.stringify(got)}`);
    assert.deepEqual([...got].sort(), ['theirs n1', 'theirs n2', 'theirs n3'], `no own message, every other one once: ${show(self.inbox)}`);
    await Promise.all([self, o1, o3, local].map((c) => c.end()));
  }));

  // -------------------------------------------------------------------------------------
  // 2. retained

  test('retained across nodes: published on n1, served flagged to new subscribers on n2 and n3; replaced; cleared on n3 everywhere [MQTT-3.3.1-6] [MQTT-3.3.1-9] [MQTT-3.3.1-10]', { timeout: 40_000 }, logged(async () => {
    const topic = uniqueTopic('cluster/retained');
    const [n1, n2, n3] = [node(1), node(2), node(3)];
    const p1 = await pool.connect(n1, 4);
    await p1.client.publishAsync(topic, 'kept', { qos: 1, retain: true });
    for (const [n, version] of [
      [n2, 4],
      [n3, 5],
      [n1, 5],
    ] as const) {
      const sub = await pool.connect(n, version);
      const { message, rounds } = await awaitRetained(sub, topic, 'kept');
      console.log(`retained 'kept' reached a new subscriber on ${n.name} after ${rounds} subscribe round(s)`);
      assert.equal(message.packet.retain, true, 'a retained message sent for a new subscription has RETAIN 1 [MQTT-3.3.1-6]');
      assert.equal(message.packet.qos, 1);
      await sub.end();
    }

    // live delivery to an existing subscriber on another node: RETAIN 0 [MQTT-3.3.1-9]
    const live = await pool.connect(n2, 4);
    await live.client.subscribeAsync(topic, { qos: 1 });
    await crossNodeReady(live, p1);
    const from = live.inbox.length;
    await p1.client.publishAsync(topic, 'replaced', { qos: 1, retain: true });
    await until(live, 1, "the live 'replaced'", (m) => m.payload === 'replaced');
    assert.equal(live.inbox.slice(from).find((m) => m.payload === 'replaced')?.packet.retain, false, 'live delivery carries RETAIN 0 [MQTT-3.3.1-9]');
    const later = await pool.connect(n3, 4);
    await awaitRetained(later, topic, 'replaced');
    await later.end();

    // an empty retained message on n3 clears it everywhere [MQTT-3.3.1-10]
    const p3 = await pool.connect(n3, 5);
    await p3.client.publishAsync(topic, '', { qos: 1, retain: true });
    for (const n of [n1, n2, n3]) {
      const sub = await pool.connect(n, 4);
      const rounds = await awaitNoRetained(sub, topic);
      console.log(`no retained message on ${n.name} after ${rounds} round(s)`);
      await sub.end();
    }
    await Promise.all([p1, live, p3].map((c) => c.end()));
  }));

  // -------------------------------------------------------------------------------------
  // 3. shared subscriptions

  test('shared subscription across nodes: 200 messages from n3, each delivered to exactly one member (n1 or n2), both members get some', { timeout: 30_000 }, logged(async () => {
    const base = uniqueTopic('cluster/share');
    const endTopic = `${base}-end`;
    const [n1, n2, n3] = [node(1), node(2), node(3)];
    const m1 = await pool.connect(n1, 5);
    const m2 = await pool.connect(n2, 5);
    for (const m of [m1, m2]) {
      await m.client.subscribeAsync(`$share/g/${base}/#`, { qos: 1 });
      await m.client.subscribeAsync(endTopic, { qos: 1 });
    }
    const p3 = await pool.connect(n3, 5);
    await crossNodeReady(m1, p3);
    await crossNodeReady(m2, p3);
    // the group itself: QoS 0 probes through the share until each member has had one
    const shareProbes = (m: TestClient): number => m.probes.filter((p) => p.topic.startsWith(`${base}/`)).length;
    const sentProbes = await probeUntil(p3, base, () => shareProbes(m1) > 0 && shareProbes(m2) > 0, {
      what: `probes through $share/g/${base}/# reaching both members (m1 on n1 got ${shareProbes(m1)}, m2 on n2 got ${shareProbes(m2)})`,
    });
    console.log(`share group ready after ${sentProbes} probes (n1 got ${shareProbes(m1)}, n2 got ${shareProbes(m2)})`);

    const total = 200;
    const started = Date.now();
    for (let i = 0; i < total; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => p3.client.publishAsync(`${base}/jobs/${i + j}`, `job ${i + j}`, { qos: 1 })));
    }
    const jobs = (c: TestClient): Received[] => c.inbox.filter((m) => m.topic.startsWith(`${base}/jobs/`));
    await waitFor(() => new Set([...jobs(m1), ...jobs(m2)].map((m) => m.payload)).size >= total, {
      timeoutMs: 10_000,
      message: () => `all ${total} jobs delivered: n1 got ${jobs(m1).length}, n2 got ${jobs(m2).length}`,
    });
    // a barrier before counting duplicates: a plain message to both members, after the jobs
    await p3.client.publishAsync(endTopic, 'end', { qos: 1 });
    await until(m1, 1, 'the end marker', (m) => m.topic === endTopic);
    await until(m2, 1, 'the end marker', (m) => m.topic === endTopic);
    console.log(`${total} shared jobs in ${Date.now() - started} ms: n1 got ${jobs(m1).length}, n2 got ${jobs(m2).length}`);

    const counts = new Map<string, number>();
    for (const m of [...jobs(m1), ...jobs(m2)]) counts.set(m.payload, (counts.get(m.payload) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([p]) => p);
    const missing = Array.from({ length: total }, (_, i) => `job ${i}`).filter((p) => !counts.has(p));
    assert.deepEqual(twice, [], 'no job delivered to both members (or twice to one)');
    assert.deepEqual(missing, [], 'no job missing');
    assert.ok(jobs(m1).length > 0, 'the member on n1 got some jobs');
    assert.ok(jobs(m2).length > 0, 'the member on n2 got some jobs');
    for (const m of [...jobs(m1), ...jobs(m2)]) assert.equal(m.packet.qos, 1);
    await Promise.all([m1, m2, p3].map((c) => c.end()));
  }));

  // -------------------------------------------------------------------------------------
  // 4. session resume on another node

  for (const version of [4, 5] as const satisfies readonly Version[]) {
    const what = version === 5 ? '5.0, Session Expiry Interval 600' : '3.1.1, clean session 0';
    test(`session resume on another node (${what}): Session Present, the queued messages, the subscription in force on n2, nothing left on n1 [MQTT-3.2.2-2] [MQTT-3.1.2-5]`, { timeout: 30_000 }, logged(async () => {
      const topic = uniqueTopic(`cluster/resume/v${version}`);
      const [n1, n2, n3] = [node(1), node(2), node(3)];
      const clientId = uniqueId(`rs${version}`);
      const session = version === 5 ? { clientId, clean: false, properties: { sessionExpiryInterval: 600 } } : { clientId, clean: false };

      const first = await pool.connect(n1, version, session);
      assert.equal(first.connack.sessionPresent, false, 'a new session');
      await first.client.subscribeAsync(topic, { qos: 1 });
      const p3 = await pool.connect(n3, version);
      await crossNodeReady(first, p3);
      await first.end();

      const queued = 10;
      for (let i = 0; i < queued; i++) await p3.client.publishAsync(topic, `offline ${i}`, { qos: 1 });

      const second = await pool.connect(n2, version, session);
      assert.equal(second.connack.sessionPresent, true, `${clientId} resumes on n2 the session it left on n1 [MQTT-3.2.2-2]`);
      await until(second, queued, 'the messages queued while offline');
      assert.deepEqual(
        second.inbox.map((m) => m.payload),
        Array.from({ length: queued }, (_, i) => `offline ${i}`),
        'every queued message, in order',
      );
      for (const m of second.inbox) assert.equal(m.packet.qos, 1);

      // its subscription is in force on n2: a new publish on n3 reaches it, once
      await crossNodeReady(second, p3);
      await p3.client.publishAsync(topic, 'after resume', { qos: 1 });
      await until(second, 1, "'after resume'", (m) => m.payload === 'after resume');
      // a barrier from each node that could hold a stale copy of the session
      const p1 = await pool.connect(n1, version);
      await crossNodeReady(second, p1);
      await p3.client.publishAsync(topic, 'marker n3', { qos: 1 });
      await p1.client.publishAsync(topic, 'marker n1', { qos: 1 });
      await until(second, 2, 'the markers', (m) => m.payload.startsWith('marker'));
      assert.equal(second.on(topic).filter((m) => m.payload === 'after resume').length, 1, `'after resume' exactly once: ${show(second.inbox)}`);
      assert.equal(second.inbox.length, queued + 3, `nothing delivered twice: ${show(second.inbox)}`);
      console.log(`${clientId}: ${queued} queued messages resumed on n2; subscription in force there`);

      // n1 no longer holds it: back on n1, the session is the current one, not n1's stale copy
      await second.end();
      await p3.client.publishAsync(topic, 'gap', { qos: 1 });
      const third = await pool.connect(n1, version, session);
      assert.equal(third.connack.sessionPresent, true, `${clientId} resumes on n1 again`);
      await until(third, 1, "'gap', queued while offline", (m) => m.payload === 'gap');
      await crossNodeReady(third, p3);
      await p3.client.publishAsync(topic, 'final', { qos: 1 });
      await until(third, 1, "'final'", (m) => m.payload === 'final');
      assert.deepEqual(
        third.inbox.map((m) => m.payload),
        ['gap', 'final'],
        `back on n1: only what was published since it left n2, none of the messages n1 queued before or n2 delivered: ${show(third.inbox)}`,
      );
      // end the session so it does not linger in Redis (clean start, then a clean end)
      await third.end();
      const cleanup = await pool.connect(n1, version, version === 5 ? { clientId, clean: true, properties: { sessionExpiryInterval: 0 } } : { clientId, clean: true });
      await cleanup.end();
      await Promise.all([p1, p3].map((c) => c.end()));
    }));
  }

  // -------------------------------------------------------------------------------------
  // 5. takeover across nodes

  for (const version of [4, 5] as const satisfies readonly Version[]) {
    test(`takeover across nodes (${version === 5 ? '5.0' : '3.1.1'}): the same client id on n2 closes the connection on n1${version === 5 ? ' with DISCONNECT 0x8E' : ''}; its will is published exactly once [MQTT-3.1.4-2]${version === 5 ? ' [MQTT-3.1.4-3]' : ''}`, { timeout: 30_000 }, logged(async () => {
      const base = uniqueTopic(`cluster/takeover/v${version}`);
      const clientId = uniqueId(`tk${version}`);
      const willTopic = `${base}/wills/${clientId}`;
      const [n1, n2, n3] = [node(1), node(2), node(3)];
      const watcher = await pool.connect(n3, 4);
      await watcher.client.subscribeAsync(`${base}/#`, { qos: 1 });
      const a1 = await pool.connect(n1, 4);
      const a2 = await pool.connect(n2, 4);
      const a3 = await pool.connect(n3, 4);
      await crossNodeReady(watcher, a1);
      await crossNodeReady(watcher, a2);

      const first = await pool.connect(n1, version, { clientId, will: { topic: willTopic, payload: Buffer.from(`will of ${clientId}`), qos: 1, retain: false } });
      const second = await pool.connect(n2, version, { clientId });
      await waitFor(() => first.closed(), { timeoutMs: 5000, message: `the first ${clientId} (on n1) to be disconnected by the takeover on n2 [MQTT-3.1.4-2]` });
      if (version === 5) {
        assert.equal(first.disconnects.length, 1, `one DISCONNECT to the old connection: ${JSON.stringify(first.disconnects)}`);
        assert.equal(first.disconnects[0]?.reasonCode, SESSION_TAKEN_OVER, 'reason 0x8E Session taken over [MQTT-3.1.4-3]');
      }
      await until(watcher, 1, 'the will of the taken-over connection', (m) => m.topic === willTopic);
      // barrier: a marker from each node, published after the will arrived
      for (const a of [a1, a2, a3]) await a.client.publishAsync(`${base}/marker/${a.node.name}`, 'marker', { qos: 1 });
      await until(watcher, 3, 'the markers from n1, n2 and n3', (m) => m.topic.startsWith(`${base}/marker/`));
      const wills = watcher.on(willTopic);
      console.log(`takeover v${version}: old connection closed, ${wills.length} will(s) seen on n3`);
      assert.equal(wills.length, 1, `the will exactly once: ${show(wills)}`);
      assert.equal(wills[0]?.payload, `will of ${clientId}`);
      assert.equal(wills[0]?.packet.qos, 1);
      assert.equal(wills[0]?.packet.retain, false);
      assert.ok(second.client.connected && !second.closed(), 'the new connection on n2 stays connected');
      await Promise.all([watcher, a1, a2, a3, second].map((c) => c.end()));
    }));
  }

  // -------------------------------------------------------------------------------------
  // 6. a node killed mid-load

  test('a node killed (SIGKILL) mid-load: the others carry on, n1 keeps acking, n2 keeps receiving, n2 still reaches n1; the node rejoins', { timeout: 60_000 }, logged(async () => {
    const base = uniqueTopic('cluster/kill');
    const load = `${base}/load`;
    const back = `${base}/back`;
    const [n1, n2, n3] = [node(1), node(2), node(3)];
    const s1 = await pool.connect(n1, 4);
    await s1.client.subscribeAsync({ [load]: { qos: 1 }, [back]: { qos: 1 } });
    const s2 = await pool.connect(n2, 4);
    await s2.client.subscribeAsync(load, { qos: 1 });
    const s3 = await pool.connect(n3, 5);
    await s3.client.subscribeAsync(load, { qos: 1 });
    const pub = await pool.connect(n1, 4);
    const p2 = await pool.connect(n2, 5);
    await crossNodeReady(s2, pub);
    await crossNodeReady(s3, pub);
    await crossNodeReady(s1, p2);

    // the load: 8 publishers' worth of QoS 1 messages in flight at once, from one client on n1
    let sent = 0;
    const acked: number[] = [];
    let loadError: unknown;
    let running = true;
    const worker = async (): Promise<void> => {
      while (running && loadError === undefined) {
        const i = sent++;
        try {
          await pub.client.publishAsync(load, `L${i}`, { qos: 1 });
          acked.push(i);
        } catch (err) {
          loadError = err;
        }
      }
    };
    let workersDone = false;
    void Promise.all(Array.from({ length: 8 }, worker)).then(() => (workersDone = true));
    try {
      await waitFor(() => s2.inbox.length >= 200 && s3.inbox.length >= 200, {
        timeoutMs: 10_000,
        message: () => `load flowing before the kill: acked ${acked.length}, n2 got ${s2.inbox.length}, n3 got ${s3.inbox.length}`,
      });
      const at = { acked: acked.length, s1: s1.on(load).length, s2: s2.inbox.length, s3: s3.inbox.length };
      const exit = await n3.kill();
      assert.equal(exit.signal, 'SIGKILL');
      const killedAt = Date.now();
      await waitFor(() => s3.closed(), { timeoutMs: 5000, message: "the subscriber on n3 to see its node's connection drop" });

      // growth is watched in steps (each +100 PUBACKs on n1 and +100 deliveries at n2 within 5 s),
      // through the moment the survivors notice n3 is gone (their "node left" log line, after
      // the missed heartbeats), or for 8 s if they never say so; then one more step
      const noticed = (): boolean => [n1, n2].every((n) => n.logs().some((l) => l.node === n3.name && /left/i.test(String(l.msg))));
      let steps = 0;
      const step = async (when: string): Promise<void> => {
        const a = acked.length;
        const b = s2.inbox.length;
        await waitFor(() => acked.length >= a + 100 && s2.inbox.length >= b + 100, {
          timeoutMs: 5000,
          message: () =>
            `PUBACKs on n1 and deliveries to n2 to keep growing ${when} (${Date.now() - killedAt} ms after the kill): +${acked.length - a} acked, +${s2.inbox.length - b} at n2 (want +100 each); load error ${String(loadError)}`,
        });
        steps++;
      };
      do await step('after n3 was killed');
      while (!noticed() && Date.now() - killedAt < 8000);
      const noticedAfter = noticed() ? `${Date.now() - killedAt} ms` : 'not logged within 8 s';
      await step('after the others noticed n3 left');
      const after = { acked: acked.length, s1: s1.on(load).length, s2: s2.inbox.length };
      console.log(
        `kill mid-load: before the kill acked ${at.acked}, n1 ${at.s1}, n2 ${at.s2}, n3 ${at.s3}; n1 and n2 noticed n3 left: ${noticedAfter}; ` +
          `${Date.now() - killedAt} ms after the kill (${steps} growth steps) acked ${after.acked}, n1 ${after.s1}, n2 ${after.s2}`,
      );

      // n2 -> n1 still works
      await p2.client.publishAsync(back, 'after the kill', { qos: 1 });
      await until(s1, 1, "n2's message after the kill", (m) => m.topic === back);
    } finally {
      running = false;
      await waitFor(() => workersDone || pub.closed(), {
        timeoutMs: 5000,
        message: 'the load publishers to finish their last publish',
      }).catch(() => undefined);
    }
    assert.equal(loadError, undefined, `no publish failed: ${String(loadError)}`);

    // every message n1 acked reached n2's QoS 1 subscriber (barrier: a marker after the last one)
    await pub.client.publishAsync(load, 'end', { qos: 1 });
    await until(s2, 1, 'the end marker', (m) => m.payload === 'end', 10_000);
    const atN2 = new Set(s2.inbox.map((m) => m.payload));
    const lost = acked.filter((i) => !atN2.has(`L${i}`));
    console.log(`load: ${acked.length} QoS 1 messages acked by n1, ${s2.inbox.length - 1} deliveries at n2, ${lost.length} missing`);
    assert.deepEqual(lost.slice(0, 20), [], `${lost.length} acked messages never reached the subscriber on n2`);

    // the killed node comes back and rejoins
    const restarted = Date.now();
    await n3.restart();
    const s3b = await pool.connect(n3, 4);
    await s3b.client.subscribeAsync(back, { qos: 1 });
    await crossNodeReady(s3b, p2);
    await p2.client.publishAsync(back, 'after the restart', { qos: 1 });
    await until(s3b, 1, "n2's message at the restarted n3", (m) => m.payload === 'after the restart');
    console.log(`n3 restarted and routing again in ${Date.now() - restarted} ms`);
    await Promise.all([s1, s2, pub, p2, s3b].map((c) => c.end()));
  }));

  // -------------------------------------------------------------------------------------
  // 7. Redis restarted

  test('Redis restarted (empty): the nodes reconnect, subscriptions made before work across nodes again, a retained message from before is still served', { timeout: 60_000 }, logged(async () => {
    const base = uniqueTopic('cluster/redis-restart');
    const back = uniqueTopic('cluster/redis-restart-back');
    const retainedTopic = uniqueTopic('cluster/redis-restart-retained');
    const [n1, n2, n3] = [node(1), node(2), node(3)];
    if (redis === undefined) throw new Error('redis-server did not start');
    const s2 = await pool.connect(n2, 4);
    await s2.client.subscribeAsync(`${base}/#`, { qos: 1 });
    const s1 = await pool.connect(n1, 5);
    await s1.client.subscribeAsync(`${back}/#`, { qos: 1 });
    const p1 = await pool.connect(n1, 4);
    const p2 = await pool.connect(n2, 5);
    await crossNodeReady(s2, p1);
    await crossNodeReady(s1, p2);
    await p1.client.publishAsync(retainedTopic, 'retained before the restart', { qos: 1, retain: true });
    const early = await pool.connect(n2, 4);
    await awaitRetained(early, retainedTopic, 'retained before the restart');
    await early.end();

    const rc = redis.client();
    const keysBefore = await rc.dbsize();
    await redis.kill();
    const restartedAt = Date.now();
    await redis.restart();
    console.log(`redis-server killed (${keysBefore} keys) and restarted empty on port ${redis.port} in ${Date.now() - restartedAt} ms`);

    // probes on the subscriptions made before the restart, both ways
    await probeUntil(p1, base, () => s2.probes.some((m) => m.topic.startsWith(`${base}/`)), {
      timeoutMs: 15_000,
      intervalMs: 100,
      what: `n1 -> n2 on ${base}/# (subscribed before the Redis restart) after the restart`,
    });
    const n1n2 = Date.now() - restartedAt;
    await probeUntil(p2, back, () => s1.probes.some((m) => m.topic.startsWith(`${back}/`)), {
      timeoutMs: 15_000,
      intervalMs: 100,
      what: `n2 -> n1 on ${back}/# (subscribed before the Redis restart) after the restart`,
    });
    console.log(`after the Redis restart: n1 -> n2 routing back after ${n1n2} ms, n2 -> n1 after ${Date.now() - restartedAt} ms; ${await rc.dbsize()} keys in Redis now`);

    await p1.client.publishAsync(`${base}/data`, 'after the restart', { qos: 1 });
    await p2.client.publishAsync(`${back}/data`, 'after the restart, back', { qos: 1 });
    await until(s2, 1, "n1's message after the restart", (m) => m.payload === 'after the restart');
    await until(s1, 1, "n2's message after the restart", (m) => m.payload === 'after the restart, back');
    // barrier before counting: a second message on the same route
    await p1.client.publishAsync(`${base}/data`, 'marker', { qos: 1 });
    await until(s2, 1, 'the marker', (m) => m.payload === 'marker');
    assert.equal(s2.inbox.filter((m) => m.payload === 'after the restart').length, 1, `once: ${show(s2.inbox)}`);
    for (const c of [s1, s2, p1, p2]) assert.ok(c.client.connected, `${c.label} stayed connected through the Redis restart`);

    // the retained message from before the restart, to new subscribers on other nodes
    const targets = n3.alive() ? [n2, n3] : [n2];
    if (!n3.alive()) console.log('n3 is not running (the kill test left it down): checking the retained message on n2 only');
    for (const n of targets) {
      const late = await pool.connect(n, 5);
      const { message, rounds } = await awaitRetained(late, retainedTopic, 'retained before the restart', { timeoutMs: 15_000 });
      assert.equal(message.packet.retain, true);
      console.log(`retained message from before the Redis restart served on ${n.name} after ${rounds} round(s)`);
      await late.end();
    }
    // clear it, so the cluster keeps nothing from this test
    await p1.client.publishAsync(retainedTopic, '', { qos: 1, retain: true });
    await Promise.all([s1, s2, p1, p2].map((c) => c.end()));
  }));
});
