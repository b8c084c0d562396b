// Admission limits with a fake clock: max_connections per listener and broker-wide, and the
// max_connections_per_second token bucket.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ListenerAdmission, SharedConnectionLimit } from './admission.js';

function clock(): { now: () => number; advance(ms: number): void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('connection admission', () => {
  test('unlimited by default (-1 and 0)', () => {
    const a = new ListenerAdmission({});
    for (let i = 0; i < 10_000; i++) assert.equal(a.admit(), 'accepted');
    assert.equal(a.counters.current, 10_000);
  });

  test('max_connections counts open connections: a release makes room', () => {
    const a = new ListenerAdmission({ maxConnections: 2 });
    assert.equal(a.admit(), 'accepted');
    assert.equal(a.admit(), 'accepted');
    assert.equal(a.admit(), 'max_connections');
    a.release();
    assert.equal(a.admit(), 'accepted');
    assert.deepEqual(a.counters, { current: 2, accepted: 3, refusedMaxConnections: 1, refusedRate: 0, refusedBrokerMaxConnections: 0 });
  });

  test('max_connections 0 refuses everything', () => {
    const a = new ListenerAdmission({ maxConnections: 0 });
    assert.equal(a.admit(), 'max_connections');
  });

  test('max_connections_per_second: a burst of one second, then the refill rate', () => {
    const c = clock();
    const a = new ListenerAdmission({ maxConnectionsPerSecond: 5 }, undefined, c.now);
    for (let i = 0; i < 5; i++) assert.equal(a.admit(), 'accepted', `burst ${i}`);
    assert.equal(a.admit(), 'max_connections_per_second');
    c.advance(199);
    assert.equal(a.admit(), 'max_connections_per_second', 'not a whole token yet');
    c.advance(1);
    assert.equal(a.admit(), 'accepted', 'one token after 200 ms at 5/s');
    assert.equal(a.admit(), 'max_connections_per_second');
    c.advance(60_000);
    for (let i = 0; i < 5; i++) assert.equal(a.admit(), 'accepted', 'the bucket holds at most one second');
    assert.equal(a.admit(), 'max_connections_per_second');
    assert.equal(a.counters.refusedRate, 4);
  });

  test('refused connections spend no token', () => {
    const c = clock();
    const shared = new SharedConnectionLimit(1);
    const a = new ListenerAdmission({ maxConnectionsPerSecond: 1 }, shared, c.now);
    const b = new ListenerAdmission({}, shared, c.now);
    assert.equal(b.admit(), 'accepted');
    assert.equal(a.admit(), 'broker_max_connections');
    b.release();
    assert.equal(a.admit(), 'accepted', 'the token was still there');
  });

  test('the broker-wide limit is shared by listeners and counted', () => {
    const shared = new SharedConnectionLimit(3);
    const a = new ListenerAdmission({}, shared);
    const b = new ListenerAdmission({ maxConnections: 10 }, shared);
    assert.equal(a.admit(), 'accepted');
    assert.equal(b.admit(), 'accepted');
    assert.equal(b.admit(), 'accepted');
    assert.equal(a.admit(), 'broker_max_connections');
    assert.equal(b.admit(), 'broker_max_connections');
    assert.equal(shared.current, 3);
    assert.equal(shared.refused, 2);
    a.release();
    assert.equal(shared.current, 2);
    assert.equal(b.admit(), 'accepted');
    assert.equal(b.counters.refusedBrokerMaxConnections, 1);
  });

  test('a listener limit is checked before the broker-wide one (no broker slot is taken)', () => {
    const shared = new SharedConnectionLimit(5);
    const a = new ListenerAdmission({ maxConnections: 1 }, shared);
    assert.equal(a.admit(), 'accepted');
    assert.equal(a.admit(), 'max_connections');
    assert.equal(shared.current, 1);
  });

  test('the broker-wide maximum can change at run time', () => {
    const shared = new SharedConnectionLimit(1);
    const a = new ListenerAdmission({}, shared);
    assert.equal(a.admit(), 'accepted');
    assert.equal(a.admit(), 'broker_max_connections');
    shared.max = -1;
    assert.equal(a.admit(), 'accepted');
  });
});
