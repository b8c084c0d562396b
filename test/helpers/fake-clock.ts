// A manual clock for keepalive, timeout and $SYS tests: time moves only by advance().
import type { Clock, TimerHandle } from '../../src/core/ports.js';

interface Timer {
  at: number;
  fn: () => void;
  every: number | undefined;
  cleared: boolean;
}

export class FakeClock implements Clock {
  #now: number;
  #timers: Timer[] = [];

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.#add(fn, ms, undefined);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.#add(fn, ms, ms);
  }

  /** Moves time forward, firing due timers in order (timers set while firing count too). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const due = this.#timers.filter((t) => !t.cleared && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.#now = Math.max(this.#now, due.at);
      if (due.every !== undefined) due.at += due.every;
      else due.cleared = true;
      due.fn();
    }
    this.#now = end;
    this.#timers = this.#timers.filter((t) => !t.cleared);
  }

  get pending(): number {
    return this.#timers.filter((t) => !t.cleared).length;
  }

  #add(fn: () => void, ms: number, every: number | undefined): TimerHandle {
    const timer: Timer = { at: this.#now + ms, fn, every, cleared: false };
    this.#timers.push(timer);
    return { clear: () => void (timer.cleared = true) };
  }
}
