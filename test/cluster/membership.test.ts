// $SYS shows each node's id and the cluster's membership, and stays per node: a subscriber
// on one node sees that node's $SYS, never another node's.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait-for.js';
import { removeDir, tempDir } from '../interop/support.js';
import { ClientPool, startCluster, type Cluster } from './support.js';

let redis: RedisServer | undefined;
let cluster: Cluster | undefined;
let dir: string | undefined;
const pool = new ClientPool();

before(async () => {
  dir = tempDir('culex-membership-');
  const config = join(dir, 'culex.yaml');
  // a config file turns anonymous access off; $SYS every second so the test is quick
  writeFileSync(config, 'allow_anonymous: true\nsys_interval: 1\nhttp_port: -1\n');
  redis = await startRedisServer();
  cluster = await startCluster(2, redis.url, { extraArgs: ['--config', config] });
});

after(async () => {
  pool.closeAll();
  await cluster?.stop();
  await redis?.stop();
  if (dir !== undefined) removeDir(dir);
});

function latest(values: { topic: string; payload: string }[], topic: string): string | undefined {
  return values.filter((m) => m.topic === topic).at(-1)?.payload;
}

test('$SYS/broker/cluster/{node,nodes,members}: this node, then every live node; a killed node leaves the list', { timeout: 40_000 }, async () => {
  const [n1, n2] = (cluster as Cluster).nodes as [Cluster['nodes'][number], Cluster['nodes'][number]];
  const watcher = await pool.connect(n1, 4);
  await new Promise<void>((resolve, reject) => watcher.client.subscribe('$SYS/broker/cluster/#', { qos: 0 }, (err) => (err ? reject(err) : resolve())));
  await waitFor(() => latest(watcher.inbox, '$SYS/broker/cluster/members') === 'n1,n2', {
    timeoutMs: 10_000,
    message: () => `members n1,n2 on n1; got ${JSON.stringify(watcher.inbox.map((m) => [m.topic, m.payload]))}`,
  });
  assert.equal(latest(watcher.inbox, '$SYS/broker/cluster/nodes'), '2');
  // per node: n1's subscriber never sees n2's own $SYS values
  assert.deepEqual([...new Set(watcher.on('$SYS/broker/cluster/node').map((m) => m.payload))], ['n1']);
  const other = await pool.connect(n2, 5);
  await new Promise<void>((resolve, reject) => other.client.subscribe('$SYS/broker/cluster/node', { qos: 0 }, (err) => (err ? reject(err) : resolve())));
  await waitFor(() => other.on('$SYS/broker/cluster/node').length > 0, { timeoutMs: 5000, message: 'n2 to serve its own $SYS/broker/cluster/node' });
  assert.deepEqual([...new Set(other.on('$SYS/broker/cluster/node').map((m) => m.payload))], ['n2']);

  await n2.kill();
  await waitFor(() => latest(watcher.inbox, '$SYS/broker/cluster/members') === 'n1', {
    timeoutMs: 15_000,
    message: () => `n2 to leave the members on n1; last ${latest(watcher.inbox, '$SYS/broker/cluster/members')}`,
  });
  assert.equal(latest(watcher.inbox, '$SYS/broker/cluster/nodes'), '1');
});
