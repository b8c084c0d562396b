// The $SYS tree, named as mosquitto names it, published retained every sys_interval
// seconds; a topic is re-published only when its value changed (as mosquitto does).
import type { BrokerContext } from './context.js';
import { createMessage } from './message.js';
import type { TimerHandle } from './ports.js';

export class SysTopics {
  readonly #ctx: BrokerContext;
  readonly #last = new Map<string, string>();
  #heapMax = 0;
  #timer: TimerHandle | undefined;

  constructor(ctx: BrokerContext) {
    this.#ctx = ctx;
  }

  start(): void {
    this.publishNow();
    this.#timer = this.#ctx.deps.clock.setInterval(() => this.publishNow(), this.#ctx.settings.sysInterval * 1000);
  }

  stop(): void {
    this.#timer?.clear();
    this.#timer = undefined;
  }

  /**
   * Current values of every $SYS topic. `takeLag` ends the event-loop lag period (only the
   * periodic publication does, so that a look through the admin API doesn't shorten it).
   */
  snapshot(takeLag = false): Map<string, string> {
    const ctx = this.#ctx;
    const s = ctx.stats;
    let offline = 0;
    let queued = 0;
    for (const client of ctx.clients.values()) {
      if (client.connection === undefined) offline++;
      queued += client.state.queue.length + client.state.inflight.size;
    }
    const uptime = Math.floor((ctx.deps.clock.now() - s.startedAt) / 1000);
    const values: [string, string | number][] = [
      ['version', `culex ${ctx.settings.version}`],
      ['uptime', `${uptime} seconds`],
      ['clients/connected', s.clientsConnected],
      ['clients/active', s.clientsConnected],
      ['clients/disconnected', offline],
      ['clients/inactive', offline],
      ['clients/total', s.clientsConnected + offline],
      ['clients/maximum', s.clientsMaximum],
      ['messages/received', s.packetsReceived],
      ['messages/sent', s.packetsSent],
      ['messages/stored', queued],
      ['publish/messages/received', s.publishReceived],
      ['publish/messages/sent', s.publishSent],
      ['publish/messages/dropped', s.publishDropped],
      ['publish/messages/expired', s.publishExpired],
      ['publish/messages/throttled', s.publishThrottled],
      ['bytes/received', s.bytesReceived],
      ['bytes/sent', s.bytesSent],
      ['subscriptions/count', ctx.subscriptions.size],
      ['retained messages/count', ctx.deps.retained.size],
      ['store/messages/count', queued],
    ];
    const runtime = ctx.deps.runtime;
    if (runtime !== undefined) {
      // mosquitto's heap topics (bytes), and the event-loop delay since the last publication (ms)
      const heap = runtime.heapUsed();
      this.#heapMax = Math.max(this.#heapMax, heap);
      values.push(['heap/current', heap], ['heap/maximum', this.#heapMax]);
      if (takeLag) {
        const lag = runtime.takeLoopLag();
        values.push(['eventloop/lag/p50', lag.p50.toFixed(1)], ['eventloop/lag/p99', lag.p99.toFixed(1)], ['eventloop/lag/max', lag.max.toFixed(1)]);
      }
    }
    const cluster = ctx.cluster;
    if (cluster !== undefined) {
      const members = cluster.link.members();
      values.push(['cluster/node', cluster.nodeId], ['cluster/nodes', members.length], ['cluster/members', [...members].sort().join(',')]);
    }
    return new Map(values.map(([k, v]) => [`$SYS/broker/${k}`, String(v)]));
  }

  publishNow(): void {
    for (const [topic, value] of this.snapshot(true)) {
      if (this.#last.get(topic) === value) continue;
      this.#last.set(topic, value);
      this.#ctx.publish(createMessage(topic, Buffer.from(value), 0, true, undefined, undefined));
    }
  }
}
