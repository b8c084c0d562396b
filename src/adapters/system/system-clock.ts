// The real clock: Date.now and Node timers, unref'd so they never keep the process alive.
import type { Clock, TimerHandle } from '../../core/ports.js';

export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, ms);
    t.unref();
    return { clear: () => clearTimeout(t) };
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const t = setInterval(fn, ms);
    t.unref();
    return { clear: () => clearInterval(t) };
  }
}
