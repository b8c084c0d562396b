// The embeddable broker: createBroker(options) wires the core to the default adapters
// and adds listeners. The only place (with cli/) where concrete parts meet.
import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { AllowAllAuthenticator, AllowAllAuthorizer } from '../adapters/memory/allow-all.js';
import { MemoryRetainedStore } from '../adapters/memory/memory-retained-store.js';
import { MemorySessionStore } from '../adapters/memory/memory-session-store.js';
import { NodeRuntimeStats } from '../adapters/system/runtime-stats.js';
import { SystemClock } from '../adapters/system/system-clock.js';
import { Broker, type PublishOptions } from '../core/broker.js';
import type { BrokerEventMap } from '../core/events.js';
import type { BrokerSettings } from '../core/options.js';
import type { AuthMethod, Authenticator, ClusterLink, ConnectionMeta, DurableStore, Authorizer, Clock, Logger, RetainedStore, RuntimeStats, SessionStore } from '../core/ports.js';
import type { BrokerStats } from '../core/stats.js';
import { startListener, type ListenerOptions, type RunningListener } from '../transports/listeners.js';
import { listenTcp } from '../transports/tcp.js';
import { silentLogger } from './logger.js';
import { packageVersion } from './version.js';

export interface CreateBrokerOptions extends Partial<BrokerSettings> {
  logger?: Logger;
  clock?: Clock;
  sessions?: SessionStore;
  retained?: RetainedStore;
  /** Where sessions, retained messages and wills survive restarts (e.g. SqliteDurableStore); none = memory only. */
  durable?: DurableStore;
  /** Makes the broker one node of a cluster (e.g. RedisClusterLink). */
  cluster?: ClusterLink;
  authenticator?: Authenticator;
  authorizer?: Authorizer;
  /** MQTT 5 enhanced authentication methods (e.g. ScramSha256); a CONNECT naming another gets CONNACK 0x8C. */
  authMethods?: readonly AuthMethod[];
  /** Heap and event-loop lag for $SYS; default: this process's (when $SYS is on). */
  runtime?: RuntimeStats;
}

export class CulexBroker {
  readonly #broker: Broker;
  readonly #servers: Server[] = [];
  readonly #listeners: RunningListener[] = [];
  /** Ours to close: the one made here (one given by the embedder is the embedder's). */
  readonly #ownRuntime: RuntimeStats | undefined;

  constructor(options: CreateBrokerOptions = {}) {
    const { logger, clock, sessions, retained, durable, cluster, authenticator, authorizer, authMethods, runtime, ...settings } = options;
    this.#ownRuntime = runtime === undefined && settings.sysInterval !== 0 ? new NodeRuntimeStats() : undefined;
    const runtimeStats = runtime ?? this.#ownRuntime;
    this.#broker = new Broker({
      version: packageVersion(),
      ...settings,
      deps: {
        logger: logger ?? silentLogger(),
        clock: clock ?? new SystemClock(),
        sessions: sessions ?? new MemorySessionStore(),
        retained: retained ?? new MemoryRetainedStore(),
        authenticator: authenticator ?? new AllowAllAuthenticator(),
        authorizer: authorizer ?? new AllowAllAuthorizer(),
        authMethods: authMethods ?? [],
        ...(durable !== undefined ? { durable } : {}),
        ...(cluster !== undefined ? { cluster } : {}),
        ...(runtimeStats !== undefined ? { runtime: runtimeStats } : {}),
      },
    });
  }

  /** Serves one client over any duplex stream. */
  handle(stream: Duplex, meta: ConnectionMeta = {}): void {
    this.#broker.handle(stream, meta);
  }

  /** Listens for MQTT over TCP; port 0 picks a free port. Resolves with the bound address. */
  async listen(port: number, host?: string): Promise<AddressInfo> {
    const server = await listenTcp(this.#broker, { port, ...(host !== undefined ? { host } : {}) });
    this.#servers.push(server);
    return server.address() as AddressInfo;
  }

  /**
   * Starts a listener of any type (tcp, tls, ws, wss); port 0 picks a free port. Closed by
   * close(). Throws TransportError (bind failure, unreadable certificate files...).
   */
  async listenOn(options: ListenerOptions): Promise<RunningListener> {
    const listener = await startListener(this.#broker, {
      // a WebSocket message holds at least one whole packet; the slack admits a few small
      // ones coalesced with it (browser clients batch their writes)
      maxWebSocketMessageBytes: this.#broker.settings.maxPacketSize + 64 * 1024,
      ...options,
    });
    this.#listeners.push(listener);
    return listener;
  }

  /** The listeners started with listenOn(), still open. */
  get listeners(): readonly RunningListener[] {
    return this.#listeners;
  }

  /** Publishes as the broker itself; throws BrokerApiError on an invalid topic. */
  publish(options: PublishOptions): void {
    this.#broker.publishMessage(options);
  }

  on<K extends keyof BrokerEventMap>(event: K, listener: (...args: BrokerEventMap[K]) => void): this {
    this.#broker.events.on(event, listener);
    return this;
  }

  off<K extends keyof BrokerEventMap>(event: K, listener: (...args: BrokerEventMap[K]) => void): this {
    this.#broker.events.off(event, listener);
    return this;
  }

  get stats(): Readonly<BrokerStats> {
    return this.#broker.stats;
  }

  get settings(): Readonly<BrokerSettings> {
    return this.#broker.settings;
  }

  get connectionCount(): number {
    return this.#broker.connectionCount;
  }

  sysSnapshot(): Map<string, string> {
    return this.#broker.sysSnapshot();
  }

  /** Stops listening, disconnects every client and stops the timers. */
  async close(): Promise<void> {
    const servers = this.#servers.splice(0);
    const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    // stop accepting first; the broker then ends the connections they handed over
    closed.push(...this.#listeners.splice(0).map((l) => l.close()));
    await this.#broker.close();
    await Promise.all(closed);
    this.#ownRuntime?.close();
  }
}

export function createBroker(options: CreateBrokerOptions = {}): CulexBroker {
  return new CulexBroker(options);
}
