// Polls a condition until it holds or a deadline passes (DESIGN habit 9: tests never sleep
// a fixed time). Fast when the condition is quick to become true, and a clear failure,
// naming what was awaited, when it never does.
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitForOptions {
  /** Give up after this long. Default 5000 ms. */
  readonly timeoutMs?: number;
  /** Pause between checks. Default 10 ms. */
  readonly intervalMs?: number;
  /** What is awaited, for the error message; a function is called only on timeout. */
  readonly message?: string | (() => string);
}

export class WaitForTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WaitForTimeoutError';
  }
}

/**
 * Resolves as soon as `predicate` returns (or resolves to) true; rejects with a
 * WaitForTimeoutError once `timeoutMs` has passed, including when a single async check is
 * still pending at the deadline. An exception from `predicate` rejects at once: a broken
 * check should fail loudly, not be retried until the timeout hides it.
 */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  options: WaitForOptions = {},
): Promise<void> {
  const { timeoutMs = 5000, intervalMs = 10, message } = options;
  const deadline = Date.now() + timeoutMs;
  const fail = (): WaitForTimeoutError => {
    const what = typeof message === 'function' ? message() : (message ?? 'condition');
    return new WaitForTimeoutError(`waitFor: timed out after ${timeoutMs} ms waiting for ${what}`);
  };
  for (;;) {
    if (await withDeadline(predicate(), deadline, fail)) return;
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw fail();
    await sleep(Math.min(intervalMs, remaining));
  }
}

async function withDeadline(
  result: boolean | Promise<boolean>,
  deadline: number,
  fail: () => Error,
): Promise<boolean> {
  if (typeof result === 'boolean') return result;
  const controller = new AbortController();
  const timer = sleep(Math.max(0, deadline - Date.now()), undefined, { signal: controller.signal }).then(() => {
    throw fail();
  });
  // The losing timer is aborted; its rejection (AbortError) is expected and ignored.
  timer.catch(() => undefined);
  try {
    return await Promise.race([result, timer]);
  } finally {
    controller.abort();
  }
}
