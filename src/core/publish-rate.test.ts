import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PublishRateLimiter } from './publish-rate.js';

test('a message rate lets one second worth through, then asks for a pause until the debt is repaid', () => {
  const limiter = new PublishRateLimiter(10, 0, 0);
  for (let i = 0; i < 10; i++) assert.equal(limiter.take(100, 0), 0, `message ${i + 1} within the burst`);
  assert.equal(limiter.take(100, 0), 100, 'the 11th is one token in debt: 1/10 s');
  assert.equal(limiter.take(100, 0), 200);
  // after 200 ms the debt is repaid and nothing more is owed
  assert.equal(limiter.take(0, 200) > 0, true, 'a message still costs a token');
});

test('a byte rate counts bytes; the longer of the two waits wins', () => {
  const limiter = new PublishRateLimiter(1000, 1000, 0);
  assert.equal(limiter.take(1000, 0), 0);
  assert.equal(limiter.take(500, 0), 500);
  assert.equal(limiter.take(0, 1000), 0, 'one second later the bucket is back in credit');
});

test('the bucket refills continuously but never above one second worth', () => {
  const limiter = new PublishRateLimiter(4, 0, 0);
  for (let i = 0; i < 4; i++) limiter.take(0, 0);
  assert.equal(limiter.take(0, 10_000), 0, 'long idle refills');
  for (let i = 0; i < 3; i++) assert.equal(limiter.take(0, 10_000), 0);
  assert.ok(limiter.take(0, 10_000) > 0, 'but only up to the rate: the 5th in the same instant waits');
});

test('no limits: never a pause', () => {
  const limiter = new PublishRateLimiter(0, 0, 0);
  for (let i = 0; i < 1000; i++) assert.equal(limiter.take(1_000_000, 0), 0);
});
