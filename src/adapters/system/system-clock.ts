// The real clock: Date.now and Node timers, unref'd so they never keep the process alive.
// Clearing an unref'd timeout leaves Node's per-duration timer list behind (about 110 bytes
// per distinct duration, until a timer of that duration would have fired); ref() before
// clearTimeout lets Node drop it at once. Keepalive and expiry timers have many durations.
import type { Clock, TimerHandle } from '../../core/ports.js';

export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = setTimeout(fn, ms);
    t.unref();
    return {
      clear: () => {
        t.ref();
        clearTimeout(t);
      },
    };
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const t = setInterval(fn, ms);
    t.unref();
    return { clear: () => clearInterval(t) };
  }
}
