// The redis-server helper the cluster tests use: a real server on a free port, no
// persistence (a restart on the same port comes back empty), stopped by its handle.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ping, startRedisServer, type RedisServer } from './redis-server.js';

describe('redis-server helper', () => {
  let redis: RedisServer | undefined;

  after(async () => {
    await redis?.stop();
  });

  test('starts on a free port, keeps nothing across a restart on the same port, stops', { timeout: 30_000 }, async () => {
    const started = Date.now();
    redis = await startRedisServer();
    const { port } = redis;
    assert.ok(![1883, 8883, 8080, 8083].includes(port), `port ${port} is one the tests never use`);
    assert.equal(redis.url, `redis://127.0.0.1:${port}`);
    const pid = redis.child.proc.pid;
    console.log(`redis-server pid ${pid} answered PING on port ${port} after ${Date.now() - started} ms`);

    const client = redis.client();
    assert.equal(await client.set('culex:helper-test', 'kept?'), 'OK');
    assert.equal(await client.get('culex:helper-test'), 'kept?');

    const restarting = Date.now();
    await redis.restart();
    assert.equal(redis.port, port, 'the same port after a restart');
    assert.notEqual(redis.child.proc.pid, pid, 'a new process');
    console.log(`restarted on port ${port} in ${Date.now() - restarting} ms`);
    // the client reconnects on its own; no persistence: the key is gone
    assert.equal(await client.get('culex:helper-test'), null);
    assert.equal(await redis.client().dbsize(), 0);

    // kill (SIGKILL) then restart: the same port again
    await redis.kill();
    assert.equal(redis.running(), false);
    assert.equal(await ping(port), false, 'nothing answers on the port after kill');
    await redis.restart();
    assert.equal(await ping(port), true);
    assert.equal(await client.get('culex:helper-test'), null);

    const child = redis.child;
    await redis.stop();
    assert.equal(redis.running(), false);
    assert.equal(child.exit?.signal ?? null, null, `a clean exit on SIGTERM: ${JSON.stringify(child.exit)}`);
    assert.equal(client.status === 'end' || client.status === 'close', true, `the client was closed by stop (status ${client.status})`);
    assert.equal(await ping(port), false, 'nothing answers on the port after stop');
    redis = undefined;
  });
});
