// Failed-login back-off on a fake clock: who is held, for how long, what resets it, and the
// bound on remembered addresses.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthResult, Authenticator, ConnectInfo } from '../../core/ports.js';
import { FakeClock } from '../../../test/helpers/fake-clock.js';
import { LoginBackoff, LoginBackoffError, addressKey, type LoginBackoffOptions } from './login-backoff.js';

const GOOD = 'right';

/** Accepts the password "right"; counts calls; can answer asynchronously or throw. */
class FakeAuth implements Authenticator {
  calls = 0;
  mode: 'sync' | 'async' | 'throw' | 'reject' = 'sync';
  authenticate(info: ConnectInfo): AuthResult | Promise<AuthResult> {
    this.calls++;
    const result: AuthResult = info.password?.toString() === GOOD ? { ok: true, identity: info.username } : { ok: false, returnCode: 4, reason: 'wrong password' };
    if (this.mode === 'throw') throw new Error('inner broke');
    if (this.mode === 'reject') return Promise.reject(new Error('inner broke'));
    return this.mode === 'async' ? Promise.resolve(result) : result;
  }
}

function info(remoteAddress: string | undefined, password: string): ConnectInfo {
  return {
    clientId: 'c',
    username: 'u',
    password: Buffer.from(password),
    protocolVersion: 4,
    remoteAddress,
    properties: undefined,
    listener: undefined,
    certificate: undefined,
  };
}

function setup(options: Partial<LoginBackoffOptions> = {}): { clock: FakeClock; inner: FakeAuth; backoff: LoginBackoff } {
  const clock = new FakeClock();
  const inner = new FakeAuth();
  const backoff = new LoginBackoff(inner, { clock, delayMs: 1000, maxDelayMs: 5000, ...options });
  return { clock, inner, backoff };
}

/** Lets promise callbacks run (the fake clock fires timers synchronously). */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Starts an attempt and tracks when (in fake time) it is answered. */
function attempt(backoff: LoginBackoff, clock: FakeClock, address: string | undefined, password: string) {
  const started = clock.now();
  const state: { result: AuthResult | undefined; answeredAfter: number | undefined; sync: boolean } = { result: undefined, answeredAfter: undefined, sync: false };
  const r = backoff.authenticate(info(address, password));
  if (r instanceof Promise) {
    void r.then((res) => {
      state.result = res;
      state.answeredAfter = clock.now() - started;
    });
  } else {
    state.result = r;
    state.answeredAfter = 0;
    state.sync = true;
  }
  return state;
}

/** Fails once from `address`, answered at once or after its hold. */
async function fail(backoff: LoginBackoff, clock: FakeClock, address: string): Promise<void> {
  const a = attempt(backoff, clock, address, 'wrong');
  clock.advance(60_000);
  await flush();
  assert.equal(a.result?.ok, false);
}

/** How long the next attempt from `address` is held (0 = answered synchronously). */
async function holdOf(backoff: LoginBackoff, clock: FakeClock, address: string, password = GOOD): Promise<number> {
  const a = attempt(backoff, clock, address, password);
  if (a.sync) return 0;
  for (let step = 0; step < 1000; step++) {
    await flush();
    if (a.answeredAfter !== undefined) break;
    clock.advance(50);
  }
  assert.notEqual(a.answeredAfter, undefined, 'answered within 50 s');
  return a.answeredAfter as number;
}

describe('LoginBackoff', () => {
  test('no failure yet: answered at once, synchronously, without remembering anyone', () => {
    const { backoff, clock } = setup();
    const ok = attempt(backoff, clock, '10.0.0.1', GOOD);
    assert.equal(ok.sync, true);
    assert.deepEqual(ok.result, { ok: true, identity: 'u' });
    assert.equal(backoff.size, 0);
  });

  test('after a failure the next attempt, even a correct one, is answered only after the delay', async () => {
    const { backoff, clock, inner } = setup();
    const first = attempt(backoff, clock, '10.0.0.1', 'wrong');
    assert.equal(first.sync, true, 'the failure itself is answered at once');
    assert.deepEqual(first.result, { ok: false, returnCode: 4, reason: 'wrong password' });

    const next = attempt(backoff, clock, '10.0.0.1', GOOD);
    assert.equal(next.sync, false);
    clock.advance(999);
    await flush();
    assert.equal(next.result, undefined, 'not answered before the delay');
    assert.equal(inner.calls, 1, 'not even checked yet (the password hash is spared)');
    clock.advance(1);
    await flush();
    assert.deepEqual(next.result, { ok: true, identity: 'u' });
    assert.equal(next.answeredAfter, 1000);
  });

  test('doubles per consecutive failure up to the maximum', async () => {
    const { backoff, clock } = setup({ delayMs: 1000, maxDelayMs: 5000 });
    const holds: number[] = [];
    for (let i = 0; i < 6; i++) holds.push(await holdOf(backoff, clock, '10.0.0.1', 'wrong'));
    assert.deepEqual(holds, [0, 1000, 2000, 4000, 5000, 5000]);
    assert.equal(await holdOf(backoff, clock, '10.0.0.1'), 5000);
  });

  test('a success resets it', async () => {
    const { backoff, clock } = setup();
    await fail(backoff, clock, '10.0.0.1');
    await fail(backoff, clock, '10.0.0.1');
    assert.equal(await holdOf(backoff, clock, '10.0.0.1'), 2000, 'the success itself is held');
    assert.equal(await holdOf(backoff, clock, '10.0.0.1'), 0);
    assert.equal(backoff.size, 0);
    await fail(backoff, clock, '10.0.0.1');
    assert.equal(await holdOf(backoff, clock, '10.0.0.1', 'wrong'), 1000, 'counting starts again from one failure');
  });

  test('each address has its own count', async () => {
    const { backoff, clock } = setup();
    await fail(backoff, clock, '10.0.0.1');
    assert.equal(await holdOf(backoff, clock, '10.0.0.2'), 0);
    assert.equal(await holdOf(backoff, clock, '10.0.0.1'), 1000);
  });

  test('attempts held at the same time count as failures in advance', async () => {
    const { backoff, clock, inner } = setup({ delayMs: 1000, maxDelayMs: 30_000 });
    await fail(backoff, clock, '10.0.0.1');
    const burst = Array.from({ length: 5 }, () => attempt(backoff, clock, '10.0.0.1', 'wrong'));
    for (let i = 0; i < 200 && burst.some((a) => a.result === undefined); i++) {
      clock.advance(100);
      await flush();
    }
    assert.deepEqual(
      burst.map((a) => a.answeredAfter),
      [1000, 2000, 4000, 8000, 16_000],
    );
    assert.equal(inner.calls, 6);
  });

  test('IPv6 addresses count per /64; IPv4-mapped addresses as their IPv4 address', async () => {
    const { backoff, clock } = setup();
    await fail(backoff, clock, '2001:db8:1:2::1');
    assert.equal(await holdOf(backoff, clock, '2001:db8:1:2:aaaa:bbbb:cccc:dddd', 'wrong'), 1000, 'same /64');
    assert.equal(await holdOf(backoff, clock, '2001:db8:1:3::1'), 0, 'another /64');
    await fail(backoff, clock, '::ffff:192.0.2.7');
    assert.equal(await holdOf(backoff, clock, '192.0.2.7'), 1000);
  });

  test('a connection without an address is never held', async () => {
    const { backoff, clock } = setup();
    await fail(backoff, clock, '');
    const a = attempt(backoff, clock, undefined, 'wrong');
    assert.equal(a.sync, true);
    assert.equal(attempt(backoff, clock, undefined, 'wrong').sync, true);
    assert.equal(backoff.size, 0);
  });

  test('a delay of 0 turns it off: the inner authenticator answers directly', async () => {
    const { backoff, clock } = setup({ delayMs: 0, maxDelayMs: 30_000 });
    for (let i = 0; i < 3; i++) assert.equal(attempt(backoff, clock, '10.0.0.1', 'wrong').sync, true);
    assert.equal(backoff.size, 0);
  });

  test('a maximum below the delay keeps the delay constant', async () => {
    const { backoff, clock } = setup({ delayMs: 2000, maxDelayMs: 0 });
    const holds: number[] = [];
    for (let i = 0; i < 4; i++) holds.push(await holdOf(backoff, clock, '10.0.0.1', 'wrong'));
    assert.deepEqual(holds, [0, 2000, 2000, 2000]);
  });

  test('an address is forgotten forgetAfterMs after its last failure', async () => {
    const { backoff, clock } = setup({ forgetAfterMs: 600_000 });
    await fail(backoff, clock, '10.0.0.1');
    await fail(backoff, clock, '10.0.0.2');
    clock.advance(600_000 - 60_000 - 1);
    assert.equal(await holdOf(backoff, clock, '10.0.0.2', 'wrong'), 1000, 'still remembered just before');
    clock.advance(600_000);
    assert.equal(await holdOf(backoff, clock, '10.0.0.1'), 0);
    assert.equal(backoff.size, 1, 'dropped when looked up');
    await fail(backoff, clock, '10.0.0.3');
    assert.equal(backoff.size, 1, 'expired entries are dropped when another failure is recorded');
  });

  test('remembers at most maxEntries addresses, forgetting the oldest failure first', async () => {
    const { backoff, clock } = setup({ maxEntries: 3 });
    for (const a of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) await fail(backoff, clock, a);
    await fail(backoff, clock, '10.0.0.1'); // a new failure makes 10.0.0.1 the newest again
    await fail(backoff, clock, '10.0.0.4');
    assert.equal(backoff.size, 3);
    assert.equal(await holdOf(backoff, clock, '10.0.0.2'), 0, 'the oldest was forgotten');
    assert.equal(await holdOf(backoff, clock, '10.0.0.1', 'wrong'), 2000, 'two failures');
    assert.equal(await holdOf(backoff, clock, '10.0.0.3', 'wrong'), 1000);
    assert.equal(await holdOf(backoff, clock, '10.0.0.4', 'wrong'), 1000);
  });

  test('works the same with an asynchronous inner authenticator', async () => {
    const { backoff, clock, inner } = setup();
    inner.mode = 'async';
    const first = attempt(backoff, clock, '10.0.0.1', 'wrong');
    await flush();
    assert.equal(first.result?.ok, false);
    assert.equal(await holdOf(backoff, clock, '10.0.0.1'), 1000);
    assert.equal(await holdOf(backoff, clock, '10.0.0.1'), 0);
  });

  test('an inner error propagates (after the hold) and is not counted as a failure', async () => {
    const { backoff, clock, inner } = setup();
    await fail(backoff, clock, '10.0.0.1');
    for (const mode of ['throw', 'reject'] as const) {
      inner.mode = mode;
      const r = backoff.authenticate(info('10.0.0.1', 'wrong'));
      assert.ok(r instanceof Promise);
      const settled = r.then(
        () => 'resolved',
        (err: Error) => err.message,
      );
      clock.advance(1000);
      assert.equal(await settled, 'inner broke');
    }
    inner.mode = 'sync';
    assert.equal(await holdOf(backoff, clock, '10.0.0.1'), 1000, 'still one failure');
    inner.mode = 'throw';
    assert.throws(() => backoff.authenticate(info('10.0.0.9', GOOD)), /inner broke/, 'an unheld attempt throws as the inner did');
  });

  test('dispose answers held attempts with "not authorized" at once and never asks the inner authenticator', async () => {
    const { backoff, clock, inner } = setup();
    await fail(backoff, clock, '10.0.0.1');
    const held = [attempt(backoff, clock, '10.0.0.1', GOOD), attempt(backoff, clock, '10.0.0.1', GOOD)];
    backoff.dispose();
    await flush();
    for (const a of held) assert.deepEqual(a.result, { ok: false, returnCode: 5, reason: 'server shutting down' });
    assert.equal(clock.pending, 0, 'no timer left');
    clock.advance(60_000);
    assert.equal(inner.calls, 1);
    assert.equal(backoff.size, 0);
  });

  test('bad options are a LoginBackoffError', () => {
    const clock = new FakeClock();
    const inner = new FakeAuth();
    for (const bad of [{ delayMs: -1 }, { maxDelayMs: Number.NaN }, { forgetAfterMs: -5 }, { maxEntries: 0 }, { maxEntries: 1.5 }]) {
      assert.throws(
        () => new LoginBackoff(inner, { clock, delayMs: 1000, maxDelayMs: 5000, ...bad }),
        (err: unknown) => err instanceof LoginBackoffError && err.code === 'LOGIN_BACKOFF_INVALID',
        JSON.stringify(bad),
      );
    }
  });
});

describe('addressKey', () => {
  test('IPv4 as is, IPv6 by /64 in canonical form, mapped IPv4 unwrapped, no address undefined', () => {
    const cases: [string | undefined, string | undefined][] = [
      [undefined, undefined],
      ['', undefined],
      ['192.0.2.7', '192.0.2.7'],
      ['::ffff:192.0.2.7', '192.0.2.7'],
      ['::FFFF:c000:0207', '192.0.2.7'],
      ['0:0:0:0:0:ffff:192.0.2.7', '192.0.2.7'],
      ['::1', '0:0:0:0::/64'],
      ['2001:DB8::1', '2001:db8:0:0::/64'],
      ['2001:0db8:0001:0002:0003:0004:0005:0006', '2001:db8:1:2::/64'],
      ['fe80::1%eth0', 'fe80:0:0:0::/64'],
      ['2001:db8::ffff:192.0.2.7', '2001:db8:0:0::/64'],
      ['not:an:address', 'not:an:address'],
      ['1::2::3', '1::2::3'],
    ];
    for (const [input, expected] of cases) assert.equal(addressKey(input), expected, String(input));
  });
});
