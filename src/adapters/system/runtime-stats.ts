// The process's own health for $SYS: V8 heap in use and event-loop lag. The lag is measured
// here, by how late a repeating timer fires: Node 20's monitorEventLoopDelay() did not see a
// 60 ms block of the loop when tried (its maximum stayed at the sampling period).
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { LoopLag, RuntimeStats } from '../../core/ports.js';

const US_PER_MS = 1000;

export class NodeRuntimeStats implements RuntimeStats {
  /** Lateness of each tick, in µs (+1: the histogram only takes values ≥ 1). */
  readonly #histogram: RecordableHistogram = createHistogram();
  readonly #timer: NodeJS.Timeout;

  /** `resolutionMs`: how often the loop is sampled; a block shorter than this may go unseen. */
  constructor(resolutionMs = 10) {
    let last = performance.now();
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.#histogram.record(Math.max(1, Math.round((now - last - resolutionMs) * US_PER_MS) + 1));
      last = now;
    }, resolutionMs);
    this.#timer.unref();
  }

  heapUsed(): number {
    return getHeapStatistics().used_heap_size;
  }

  takeLoopLag(): LoopLag {
    const h = this.#histogram;
    const ms = (us: number): number => Math.max(0, us - 1) / US_PER_MS;
    const lag = h.count === 0 ? { p50: 0, p99: 0, max: 0 } : { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
    h.reset();
    return lag;
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
