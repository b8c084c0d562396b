import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WaitForTimeoutError, waitFor } from './wait-for.js';

describe('waitFor', () => {
  test('resolves as soon as a sync predicate holds', async () => {
    let calls = 0;
    await waitFor(() => ++calls >= 3, { intervalMs: 1 });
    assert.equal(calls, 3);
  });

  test('resolves on the first check without waiting', async () => {
    const started = Date.now();
    await waitFor(() => true, { intervalMs: 1000 });
    assert.ok(Date.now() - started < 500);
  });

  test('accepts an async predicate', async () => {
    let calls = 0;
    await waitFor(async () => ++calls === 2, { intervalMs: 1 });
    assert.equal(calls, 2);
  });

  test('rejects after the deadline with a message naming what was awaited', async () => {
    const started = Date.now();
    await assert.rejects(waitFor(() => false, { timeoutMs: 50, intervalMs: 5, message: 'the broker to start' }), (e) => {
      assert.ok(e instanceof WaitForTimeoutError);
      assert.match(e.message, /timed out after 50 ms waiting for the broker to start/);
      return true;
    });
    assert.ok(Date.now() - started >= 45);
  });

  test('a message function is only called on timeout', async () => {
    let built = 0;
    const message = (): string => `state ${++built}`;
    await waitFor(() => true, { message });
    assert.equal(built, 0);
    await assert.rejects(waitFor(() => false, { timeoutMs: 20, message }), /waiting for state 1/);
  });

  test('an async check still pending at the deadline rejects at the deadline', async () => {
    const never = new Promise<boolean>(() => undefined);
    await assert.rejects(waitFor(() => never, { timeoutMs: 30 }), WaitForTimeoutError);
  });

  test('an exception from the predicate rejects at once, unchanged', async () => {
    const boom = new Error('boom');
    await assert.rejects(
      waitFor(() => {
        throw boom;
      }),
      (e) => e === boom,
    );
  });
});
