import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { duplexPair } from './duplex-pair.js';
import { waitFor } from './wait-for.js';

function collect(stream: Duplex): { readonly data: () => string } {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { data: () => Buffer.concat(chunks).toString() };
}

describe('duplexPair', () => {
  test('what one side writes, the other reads, in both directions', async () => {
    const [a, b] = duplexPair();
    const fromA = collect(b);
    const fromB = collect(a);
    a.write('hello ');
    a.write(Buffer.from('broker'));
    b.write('hi');
    await waitFor(() => fromA.data() === 'hello broker' && fromB.data() === 'hi');
  });

  test('end() is the peer\'s end; without half-open both sides then close', async () => {
    const [a, b] = duplexPair();
    a.resume();
    b.resume();
    const closed = Promise.all([once(a, 'close'), once(b, 'close')]);
    const bEnded = once(b, 'end');
    a.end('bye');
    await bEnded;
    await closed;
  });

  test('with allowHalfOpen the peer stays writable after end', async () => {
    const [a, b] = duplexPair({ allowHalfOpen: true });
    const fromB = collect(a);
    b.resume();
    a.end();
    await once(b, 'end');
    b.end('late reply');
    await once(a, 'end');
    assert.equal(fromB.data(), 'late reply');
  });

  test('destroying one side ends the other, which then closes; its writes are dropped', async () => {
    const [a, b] = duplexPair();
    b.resume();
    const bEnded = once(b, 'end');
    const bClosed = once(b, 'close');
    a.destroy();
    await bEnded;
    await bClosed;
    assert.equal(b.errored, null);
  });

  test('destroy with an error errors only that side', async () => {
    const [a, b] = duplexPair({ allowHalfOpen: true });
    b.resume();
    const aError = once(a, 'error');
    const bEnded = once(b, 'end');
    a.destroy(new Error('socket reset'));
    const [err] = await aError;
    assert.equal((err as Error).message, 'socket reset');
    await bEnded;
    b.write('into the void', (e) => assert.ifError(e));
    b.end();
    await once(b, 'finish');
  });

  test('backpressure: a reader that stops reading makes write() return false until it reads', async () => {
    const [a, b] = duplexPair({ highWaterMark: 16 });
    const chunk = Buffer.alloc(16, 1);
    let writes = 0;
    while (a.write(chunk)) {
      writes++;
      assert.ok(writes < 100, 'write() never reported backpressure');
    }
    const drained = once(a, 'drain');
    let received = 0;
    b.on('data', (c: Buffer) => (received += c.length));
    await drained;
    await waitFor(() => received === (writes + 1) * 16);
  });

  test('a writer blocked on a reader that is destroyed is released', async () => {
    const [a, b] = duplexPair({ highWaterMark: 8 });
    while (a.write(Buffer.alloc(8))) {
      // fill until backpressure
    }
    const drained = once(a, 'drain');
    const ended = once(a, 'end');
    a.resume();
    b.destroy();
    await drained;
    await ended;
  });
});
