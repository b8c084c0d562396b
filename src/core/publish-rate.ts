// Per-client publish rate limits (max_publish_rate, max_publish_bytes_rate): token buckets
// holding one second's worth. A client over its rate is not refused; the broker stops
// reading its socket until the bucket refills (as EMQX's rate limiter does), so TCP
// backpressure slows the client down and nothing it sent is lost.

/** A token bucket refilled continuously at `rate` per second, holding at most `rate`. */
class Bucket {
  #tokens: number;
  #at: number;
  constructor(
    readonly rate: number,
    now: number,
  ) {
    this.#tokens = rate;
    this.#at = now;
  }

  /** Takes `amount`; returns how many ms until the bucket is no longer in debt (0 = none). */
  take(amount: number, now: number): number {
    const elapsed = now - this.#at;
    this.#at = now;
    this.#tokens = Math.min(this.rate, this.#tokens + (elapsed * this.rate) / 1000);
    this.#tokens -= amount;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens * 1000) / this.rate);
  }
}

export class PublishRateLimiter {
  readonly #messages: Bucket | undefined;
  readonly #bytes: Bucket | undefined;

  /** `messagesPerSecond` / `bytesPerSecond`: 0 = no limit. */
  constructor(messagesPerSecond: number, bytesPerSecond: number, now: number) {
    this.#messages = messagesPerSecond > 0 ? new Bucket(messagesPerSecond, now) : undefined;
    this.#bytes = bytesPerSecond > 0 ? new Bucket(bytesPerSecond, now) : undefined;
  }

  /** Counts one PUBLISH of `bytes`; returns how long to stop reading, in ms (0 = go on). */
  take(bytes: number, now: number): number {
    const a = this.#messages?.take(1, now) ?? 0;
    const b = this.#bytes?.take(bytes, now) ?? 0;
    return a > b ? a : b;
  }
}
