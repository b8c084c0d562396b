// Timers for deadlines further away than Node timers can wait (2^31-1 ms, about 24.8
// days; a longer delay fires at once). Session expiry can be up to 136 years.
import type { Clock, TimerHandle } from './ports.js';

const MAX_DELAY = 2 ** 31 - 1;

/** Calls `fn` once when `delayMs` has passed, in hops of at most MAX_DELAY. */
export function setLongTimeout(clock: Clock, delayMs: number, fn: () => void): TimerHandle {
  const deadline = clock.now() + delayMs;
  let current: TimerHandle;
  const hop = (): void => {
    const left = deadline - clock.now();
    if (left <= 0) fn();
    else current = clock.setTimeout(hop, Math.min(left, MAX_DELAY));
  };
  current = clock.setTimeout(hop, Math.min(Math.max(delayMs, 0), MAX_DELAY));
  return { clear: () => current.clear() };
}
