// Failed-login back-off (auth_failure_delay / auth_failure_delay_max): after a failed login
// from an address, the next attempt from that address is answered only after a delay,
// doubling with each consecutive failure up to the maximum; a success resets it.
//
// Decisions:
// - Late, not refused: a held attempt is checked and answered normally once its delay has
//   passed, so a legitimate client that mistyped once merely waits.
// - The hold comes BEFORE the check, for successes too. If successes were answered at once
//   and only failures late, "no answer within a few ms" would itself mean "wrong password",
//   and a brute-forcer would just race many connections and drop the slow ones. Holding
//   first also spares the (deliberately slow) password hash for attempts still held.
// - Attempts already held from the same address count as failures in advance (each adds a
//   doubling), so opening many connections at once does not multiply the guess rate.
// - Addresses are keyed per IPv4 address and per IPv6 /64 (one host usually owns a whole
//   /64, so keying full IPv6 addresses would let it pick a fresh address per attempt).
//   An IPv4-mapped IPv6 address counts as its IPv4 address. A connection without an address
//   (an in-process stream) is never delayed.
// - Clients behind one NAT share an address, so one of them failing delays the others'
//   next connection too; any success from the address resets it.
//
// Bound: at most `maxEntries` (default 10,000) addresses are remembered; the one whose last
// failure is oldest is forgotten first, and an address is forgotten `forgetAfterMs`
// (default 15 minutes) after its last failure.
import type { AuthResult, Authenticator, Clock, ConnectInfo, Logger, TimerHandle } from '../../core/ports.js';

export interface LoginBackoffOptions {
  clock: Clock;
  /** Delay after the first failure, in ms (auth_failure_delay × 1000). 0 turns back-off off. */
  delayMs: number;
  /** Cap of the doubling delay, in ms (auth_failure_delay_max × 1000). Below delayMs: the delay stays constant. */
  maxDelayMs: number;
  /** Addresses remembered at most. Default 10,000. */
  maxEntries?: number;
  /** An address with no failure for this long starts afresh. Default 15 minutes. */
  forgetAfterMs?: number;
  /** Failures and held attempts are logged at debug level. */
  logger?: Logger;
}

export class LoginBackoffError extends Error {
  readonly code = 'LOGIN_BACKOFF_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'LoginBackoffError';
  }
}

interface Entry {
  /** Consecutive failures. */
  failures: number;
  lastFailureAt: number;
  /** Attempts from this address being held right now. */
  held: number;
}

interface Hold {
  timer: TimerHandle;
  refuse: () => void;
}

const DEFAULT_MAX_ENTRIES = 10_000;
const DEFAULT_FORGET_AFTER_MS = 15 * 60_000;
/** 2^30 × any sane delay is past every cap: keeps the arithmetic finite. */
const MAX_DOUBLINGS = 30;

export class LoginBackoff implements Authenticator {
  readonly #inner: Authenticator;
  readonly #clock: Clock;
  readonly #delayMs: number;
  readonly #maxDelayMs: number;
  readonly #maxEntries: number;
  readonly #forgetAfterMs: number;
  readonly #logger: Logger | undefined;
  /** By address key, in order of last failure (oldest first): a Map keeps insertion order. */
  readonly #entries = new Map<string, Entry>();
  /** Attempts being held right now (at most one per open connection). */
  readonly #holds = new Set<Hold>();

  constructor(inner: Authenticator, options: LoginBackoffOptions) {
    const { delayMs, maxDelayMs, maxEntries = DEFAULT_MAX_ENTRIES, forgetAfterMs = DEFAULT_FORGET_AFTER_MS } = options;
    for (const [name, value] of Object.entries({ delayMs, maxDelayMs, forgetAfterMs })) {
      if (!Number.isFinite(value) || value < 0) throw new LoginBackoffError(`${name} must be a finite number >= 0, got ${value}`);
    }
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new LoginBackoffError(`maxEntries must be an integer >= 1, got ${maxEntries}`);
    this.#inner = inner;
    this.#clock = options.clock;
    this.#delayMs = delayMs;
    this.#maxDelayMs = Math.max(delayMs, maxDelayMs);
    this.#maxEntries = maxEntries;
    this.#forgetAfterMs = forgetAfterMs;
    this.#logger = options.logger;
  }

  /** Addresses currently remembered (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  authenticate(info: ConnectInfo): AuthResult | Promise<AuthResult> {
    if (this.#delayMs === 0) return this.#inner.authenticate(info);
    const key = addressKey(info.remoteAddress);
    if (key === undefined) return this.#inner.authenticate(info);
    const entry = this.#live(key);
    // the common case (no recent failure from here) stays synchronous and allocation-free
    if (entry === undefined) return this.#check(key, info);
    const holdMs = this.delayFor(entry.failures + entry.held);
    entry.held++;
    this.#logger?.debug({ remoteAddress: info.remoteAddress, clientId: info.clientId, failures: entry.failures, holdMs }, 'login held after failed logins from this address');
    return new Promise<AuthResult>((resolve, reject) => {
      const hold: Hold = {
        timer: this.#clock.setTimeout(() => {
          this.#holds.delete(hold);
          entry.held--;
          try {
            resolve(this.#check(key, info));
          } catch (err) {
            reject(err);
          }
        }, holdMs),
        refuse: () => resolve({ ok: false, returnCode: 5, reason: 'server shutting down' }),
      };
      this.#holds.add(hold);
    });
  }

  /**
   * For shutdown: answers every held attempt with "not authorized" at once and stops their
   * timers, so nothing calls the inner authenticator (and its database) after the broker closed.
   */
  dispose(): void {
    for (const hold of this.#holds) {
      hold.timer.clear();
      hold.refuse();
    }
    this.#holds.clear();
    this.#entries.clear();
  }

  /** The hold after `failures` consecutive failures: delay × 2^(failures−1), capped; 0 for none. */
  delayFor(failures: number): number {
    if (failures <= 0) return 0;
    return Math.min(this.#delayMs * 2 ** Math.min(failures - 1, MAX_DOUBLINGS), this.#maxDelayMs);
  }

  /** Asks the inner authenticator and records the outcome; its errors propagate unrecorded. */
  #check(key: string, info: ConnectInfo): AuthResult | Promise<AuthResult> {
    const result = this.#inner.authenticate(info);
    if (result instanceof Promise) return result.then((r) => this.#record(key, info, r));
    return this.#record(key, info, result);
  }

  #record(key: string, info: ConnectInfo, result: AuthResult): AuthResult {
    if (result.ok) {
      this.#entries.delete(key);
      return result;
    }
    const now = this.#clock.now();
    const entry = this.#live(key) ?? { failures: 0, lastFailureAt: now, held: 0 };
    entry.failures++;
    entry.lastFailureAt = now;
    // re-inserted so the map stays ordered by last failure, oldest first
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#prune(now);
    this.#logger?.debug(
      { remoteAddress: info.remoteAddress, clientId: info.clientId, failures: entry.failures, nextDelayMs: this.delayFor(entry.failures), reason: result.reason },
      'login failed; the next attempt from this address is delayed',
    );
    return result;
  }

  /** The address's entry, unless it has been forgotten (expired entries are dropped here). */
  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.held === 0 && this.#clock.now() - entry.lastFailureAt >= this.#forgetAfterMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Drops expired entries from the old end, then the oldest beyond the bound. */
  #prune(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && now - entry.lastFailureAt < this.#forgetAfterMs) break;
      // an evicted entry may still have held attempts: they keep their own reference
      this.#entries.delete(key);
    }
  }
}

/**
 * The key an address is remembered under: IPv4 as is, IPv6 by its /64 prefix, an
 * IPv4-mapped IPv6 address as its IPv4 address. Undefined for no address.
 */
export function addressKey(address: string | undefined): string | undefined {
  if (address === undefined || address === '') return undefined;
  const lower = address.toLowerCase();
  const zone = lower.indexOf('%');
  const bare = zone >= 0 ? lower.slice(0, zone) : lower;
  if (!bare.includes(':')) return bare;
  const groups = expandIpv6(bare);
  // not a well-formed IPv6 address (a transport bug or a PROXY header oddity): key it whole
  if (groups === undefined) return bare;
  if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff') {
    const [hi, lo] = [parseInt(groups[6] as string, 16), parseInt(groups[7] as string, 16)];
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (an embedded IPv4 tail counts as two). */
function expandIpv6(address: string): string[] | undefined {
  let text = address;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    if ([a, b, c, d].some((n) => n > 255)) return undefined;
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : (halves[0] as string).split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? (halves[1] as string).split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => g.replace(/^0+(?=.)/, ''));
}
