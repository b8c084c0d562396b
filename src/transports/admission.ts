// Connection admission: whether a freshly accepted socket may stay. Checked before a single
// byte is read (before PROXY, TLS or HTTP), so a flood costs an accept and a close, nothing
// more. A refused socket is destroyed at once by the listener and counted here.

/** The broker-wide max_connections, one object shared by every listener. */
export class SharedConnectionLimit {
  /** -1 = unlimited (mosquitto's convention). May be changed at run time (config reload). */
  max: number;
  #current = 0;
  /** Sockets refused because the whole broker was full. */
  refused = 0;

  constructor(max = -1) {
    this.max = max;
  }

  get current(): number {
    return this.#current;
  }

  tryAcquire(): boolean {
    if (this.max >= 0 && this.#current >= this.max) {
      this.refused++;
      return false;
    }
    this.#current++;
    return true;
  }

  release(): void {
    if (this.#current > 0) this.#current--;
  }
}

export interface AdmissionLimits {
  /** Open connections on this listener; -1 (default) = unlimited. */
  maxConnections?: number;
  /** New connections per second on this listener (token bucket, burst of one second); 0 (default) = unlimited. */
  maxConnectionsPerSecond?: number;
}

export type AdmissionVerdict = 'accepted' | 'max_connections' | 'max_connections_per_second' | 'broker_max_connections';

/** Counters for $SYS and /metrics. */
export interface AdmissionCounters {
  /** Connections open now (admitted and not yet closed). */
  current: number;
  accepted: number;
  refusedMaxConnections: number;
  refusedRate: number;
  refusedBrokerMaxConnections: number;
}

/** One listener's admission: its own limits, then the broker-wide one. */
export class ListenerAdmission {
  readonly counters: AdmissionCounters = {
    current: 0,
    accepted: 0,
    refusedMaxConnections: 0,
    refusedRate: 0,
    refusedBrokerMaxConnections: 0,
  };
  readonly #maxConnections: number;
  readonly #rate: number;
  readonly #shared: SharedConnectionLimit | undefined;
  readonly #now: () => number;
  #tokens: number;
  #refilledAt: number;

  /** `now` is in milliseconds (injectable for tests). */
  constructor(limits: AdmissionLimits, shared?: SharedConnectionLimit, now: () => number = () => performance.now()) {
    this.#maxConnections = limits.maxConnections ?? -1;
    this.#rate = limits.maxConnectionsPerSecond ?? 0;
    this.#shared = shared;
    this.#now = now;
    // a full bucket: up to one second's worth may arrive at once
    this.#tokens = Math.max(1, this.#rate);
    this.#refilledAt = now();
  }

  /** Decides for one new socket; an accepted one must be release()d exactly once when it closes. */
  admit(): AdmissionVerdict {
    const c = this.counters;
    if (this.#maxConnections >= 0 && c.current >= this.#maxConnections) {
      c.refusedMaxConnections++;
      return 'max_connections';
    }
    if (this.#rate > 0 && !this.#hasToken()) {
      c.refusedRate++;
      return 'max_connections_per_second';
    }
    if (this.#shared !== undefined && !this.#shared.tryAcquire()) {
      c.refusedBrokerMaxConnections++;
      return 'broker_max_connections';
    }
    // only an admitted connection spends a token: refusals do not starve later clients
    if (this.#rate > 0) this.#tokens -= 1;
    c.current++;
    c.accepted++;
    return 'accepted';
  }

  release(): void {
    if (this.counters.current > 0) this.counters.current--;
    this.#shared?.release();
  }

  #hasToken(): boolean {
    const now = this.#now();
    const capacity = Math.max(1, this.#rate);
    this.#tokens = Math.min(capacity, this.#tokens + ((now - this.#refilledAt) * this.#rate) / 1000);
    this.#refilledAt = now;
    return this.#tokens >= 1;
  }
}
