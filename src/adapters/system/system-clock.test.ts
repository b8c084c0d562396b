import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { SystemClock } from './system-clock.js';

test('a cleared timeout leaves nothing behind, even with a duration of its own', () => {
  // measured in a fresh process: the test runner's own async bookkeeping per timer would blur it
  const script = `
    const { SystemClock } = await import(${JSON.stringify(new URL('./system-clock.js', import.meta.url).href)});
    const clock = new SystemClock();
    const n = 100000;
    gc();
    const before = process.memoryUsage().heapUsed;
    // keepalive timers: every client may pick its own duration
    for (let i = 0; i < n; i++) clock.setTimeout(() => { throw new Error('cleared timer fired'); }, 3600000 + i).clear();
    gc();
    console.log((process.memoryUsage().heapUsed - before) / n);`;
  const run = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const perTimer = Number(run.stdout.trim());
  // unref'd and cleared without ref(): about 110 bytes each stay until the duration elapses
  assert.ok(perTimer < 20, `${perTimer.toFixed(1)} bytes left per cleared timer`);
});

test('a timeout fires once, an interval until cleared', async () => {
  const clock = new SystemClock();
  let once = 0;
  let every = 0;
  clock.setTimeout(() => once++, 1);
  const iv = clock.setInterval(() => every++, 1);
  await new Promise((r) => setTimeout(r, 30));
  iv.clear();
  const seen = every;
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(once, 1);
  assert.ok(seen >= 2, `interval ran ${seen} times`);
  assert.equal(every, seen, 'no tick after clear');
});
