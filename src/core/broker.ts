// The broker: owns every session, the subscription index and the connections, all on
// one event loop. Transports hand it duplex streams; adapters are injected as ports.
import type { Duplex } from 'node:stream';
import { ReasonCode } from '../protocol/reason-codes.js';
import type { Properties, QoS } from '../protocol/types.js';
import { TopicTrie, validateTopicName } from '../topic/index.js';
import { Connection, type DispatchTable } from './connection.js';
import { createClientRef, type BrokerContext, type ClientRef, type SubscriberEntry } from './context.js';
import type { CloseReason } from './errors.js';
import { BrokerEvents } from './events.js';
import { createDispatchTable } from './handlers/index.js';
import { clientInfo } from './handlers/client-info.js';
import { createMessage, ownPayload, type Message } from './message.js';
import { DEFAULT_SETTINGS, type BrokerDeps, type BrokerOptions, type BrokerSettings } from './options.js';
import type { ConnectionMeta } from './ports.js';
import { Router } from './router.js';
import { createStats, type BrokerStats } from './stats.js';
import { SysTopics } from './sys-topics.js';
import { SharedSubscriptions } from './shared-subscriptions.js';
import { setLongTimeout } from './long-timer.js';
import { clearSubscriptions, NEVER_EXPIRES } from './session-state.js';
import { Durability } from './durability.js';
import { rebuildSession, willBuilder, willDelayMs } from './durable-restore.js';
import type { ClusterHandlers, DurableSnapshot, TransferredSession } from './ports.js';
import { Cluster } from './cluster.js';
import { createClusterHandlers } from './cluster-handlers.js';

/** A message published through the embedding API. */
export interface PublishOptions {
  topic: string;
  payload: Buffer | string;
  qos?: QoS;
  retain?: boolean;
  properties?: Properties;
}

/** Thrown by the embedding API for invalid arguments. */
export class BrokerApiError extends Error {
  readonly code: 'INVALID_TOPIC' | 'BROKER_CLOSED';
  constructor(code: 'INVALID_TOPIC' | 'BROKER_CLOSED', message: string) {
    super(message);
    this.name = 'BrokerApiError';
    this.code = code;
  }
}

// the client went away (cleanly, or with a reset as mobile networks and load balancers do):
// routine, logged at debug; mosquitto logs these at notice, below its warning level
const QUIET_CLOSES: ReadonlySet<CloseReason> = new Set(['client_disconnect', 'socket_closed', 'socket_error', 'server_shutting_down']);

export class Broker implements BrokerContext {
  readonly settings: Readonly<BrokerSettings>;
  readonly deps: BrokerDeps;
  readonly stats: BrokerStats;
  readonly events = new BrokerEvents();
  readonly clients = new Map<string, ClientRef>();
  readonly subscriptions = new TopicTrie<SubscriberEntry>();
  readonly sharedSubscriptions = new SharedSubscriptions();
  readonly durability: Durability;
  readonly cluster: Cluster | undefined;

  readonly #router: Router;
  readonly #dispatch: DispatchTable = createDispatchTable();
  readonly #connections = new Set<Connection>();
  readonly #sys: SysTopics | undefined;
  #nextConnectionId = 1;
  #dirty: Connection[] = [];
  #spare: Connection[] = [];
  #flushScheduled = false;
  #closed = false;

  constructor(options: BrokerOptions) {
    const { deps, ...overrides } = options;
    const settings: BrokerSettings = { ...DEFAULT_SETTINGS };
    for (const [key, value] of Object.entries(overrides)) {
      if (value !== undefined) (settings as unknown as Record<string, unknown>)[key] = value;
    }
    this.settings = Object.freeze(settings);
    this.deps = deps;
    this.stats = createStats(deps.clock.now());
    this.#router = new Router(this.subscriptions);
    this.durability = new Durability(deps.durable, deps.clock, deps.logger);
    this.cluster = deps.cluster === undefined ? undefined : new Cluster(deps.cluster);
    if (deps.durable !== undefined) this.#restoreDurable(deps.durable.load());
    else this.#restoreSessions();
    this.durability.start();
    deps.cluster?.start(this.#clusterHandlers());
    this.#sys = settings.sysInterval > 0 ? new SysTopics(this) : undefined;
    this.#sys?.start();
  }

  /** Serves one client over any duplex byte stream (a socket, a WebSocket stream, a test pair). */
  handle(stream: Duplex, meta: ConnectionMeta = {}): void {
    if (this.#closed) {
      stream.destroy();
      return;
    }
    const conn = new Connection(this, stream, this.#dispatch, this.#nextConnectionId++, meta);
    this.#connections.add(conn);
    this.stats.connectionsAccepted++;
    conn.start();
  }

  /** Publishes a message as the broker itself (no client origin). */
  publishMessage(options: PublishOptions): void {
    if (this.#closed) throw new BrokerApiError('BROKER_CLOSED', 'broker is closed');
    const invalid = validateTopicName(options.topic);
    if (invalid !== undefined) throw new BrokerApiError('INVALID_TOPIC', `invalid topic "${options.topic}": ${invalid.message}`);
    const payload = typeof options.payload === 'string' ? Buffer.from(options.payload) : options.payload;
    const message = createMessage(options.topic, payload, options.qos ?? 0, options.retain ?? false, options.properties, undefined, this.#expiresAt(options.properties));
    this.publish(message);
  }

  publish(message: Message): void {
    if (message.retain) this.#retain(message);
    if (this.cluster === undefined) this.#router.route(this, message);
    else {
      this.#router.routePlain(this, message);
      this.cluster.route(this, message);
    }
  }

  discardSession(ref: ClientRef): void {
    ref.expiryTimer?.clear();
    ref.expiryTimer = undefined;
    // a delayed will goes out when its session ends, whichever comes first [MQTT-3.1.3-9]
    const pending = ref.pendingWill;
    if (pending !== undefined) {
      pending.timer.clear();
      ref.pendingWill = undefined;
      this.durability.willGone(ref.state.clientId);
      this.publish(pending.build());
    }
    const clientId = ref.state.clientId;
    const cluster = this.cluster;
    if (cluster !== undefined) {
      for (const filter of ref.state.subscriptions.keys()) cluster.unsubscribed(filter);
      cluster.link.sessionEnded(clientId);
    }
    // leave its share groups and hand their unfinished deliveries to other members [MQTT-4.8.2-5]
    this.sharedSubscriptions.sessionEnded(this, ref);
    this.durability.sessionDeleted(ref.state);
    for (const filter of ref.state.subscriptions.keys()) this.subscriptions.remove(filter, clientId);
    this.#forget(ref);
  }

  /** The common end of a session here (ended or moved away): its state and its entries. */
  #forget(ref: ClientRef): void {
    const state = ref.state;
    clearSubscriptions(state);
    state.queue.clear();
    state.inflight.clear();
    if (this.clients.get(state.clientId) === ref) this.clients.delete(state.clientId);
    this.deps.sessions.delete(state.clientId);
  }

  scheduleFlush(connection: Connection): void {
    this.#dirty.push(connection);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // one write per connection per loop turn, however many packets it got meanwhile
      setImmediate(this.#flushAll);
    }
  }

  connectionClosed(conn: Connection, reason: CloseReason, publishWill: boolean, wasConnected: boolean, detail: string | undefined): void {
    this.#connections.delete(conn);
    this.stats.closes[reason] = (this.stats.closes[reason] ?? 0) + 1;
    const fields = { clientId: conn.clientId, remoteAddress: conn.remoteAddress, reason, detail };
    if (QUIET_CLOSES.has(reason)) this.deps.logger.debug(fields, 'connection closed');
    else this.deps.logger.warn(fields, 'connection closed');
    if (wasConnected) {
      this.stats.clientsConnected--;
      const ref = conn.client;
      const current = ref !== undefined && ref.connection === conn;
      if (current) ref.connection = undefined;
      if (publishWill && conn.will !== undefined) this.#publishWill(conn, current ? ref : undefined);
      else if (conn.will !== undefined) {
        // discarded by a clean DISCONNECT [MQTT-3.14.4-3] (or not sent at shutdown)
        conn.will = undefined;
        if (current) this.durability.willGone(ref.state.clientId);
      }
      // shared-subscription deliveries it had not finished go to members still online
      if (current) this.sharedSubscriptions.memberOffline(this, ref);
      if (current) this.#sessionOffline(ref);
      this.events.emit('clientDisconnected', clientInfo(conn), reason);
    }
    this.events.emit('connectionClosed', { remoteAddress: conn.remoteAddress, clientId: conn.clientId, reason, ...(detail ? { detail } : {}) });
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** The current $SYS values (also useful to embedders and the admin API). */
  sysSnapshot(): Map<string, string> {
    return (this.#sys ?? new SysTopics(this)).snapshot();
  }

  /** Closes every connection (v5 clients get DISCONNECT 0x8B) and stops the timers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#sys?.stop();
    for (const conn of [...this.#connections]) {
      conn.close('server_shutting_down', { sendWill: false, disconnectCode: ReasonCode.SERVER_SHUTTING_DOWN });
    }
    this.#flushAll();
    this.durability.stop();
    await this.deps.cluster?.close();
  }

  /** Installs a session another node handed over: replaces any local copy, indexes it. */
  adoptSession(session: TransferredSession): void {
    const old = this.clients.get(session.record.clientId);
    if (old !== undefined) this.#releaseSession(old);
    const state = rebuildSession(this.durability, session, false);
    this.deps.sessions.set(state);
    this.#index(createClientRef(state));
  }

  /**
   * Drops a session that lives on elsewhere now (handed to another node): no will, no
   * hand-back of its shared deliveries (they moved with it), nothing left in the store.
   */
  #releaseSession(ref: ClientRef): void {
    ref.expiryTimer?.clear();
    ref.expiryTimer = undefined;
    // the client is back, on another node: a delayed will is cancelled [MQTT-3.1.3-9]
    ref.pendingWill?.timer.clear();
    ref.pendingWill = undefined;
    const state = ref.state;
    this.durability.willGone(state.clientId);
    this.durability.sessionDeleted(state);
    for (const [filter] of state.subscriptions) {
      this.cluster?.unsubscribed(filter);
      if (!this.sharedSubscriptions.leave(filter, ref)) this.subscriptions.remove(filter, state.clientId);
    }
    this.#forget(ref);
  }

  #clusterHandlers(): ClusterHandlers {
    return createClusterHandlers(this, this.cluster as Cluster, {
      routePlain: (message) => this.#router.routePlain(this, message),
      release: (ref) => this.#releaseSession(ref),
      closed: () => this.#closed,
    });
  }

  readonly #flushAll = (): void => {
    // what the packets below confirm must be stored first; if the store fails, wait
    if (!this.durability.commit()) {
      this.deps.clock.setTimeout(this.#flushAll, 100);
      return;
    }
    this.#flushScheduled = false;
    this.deps.cluster?.flush();
    const list = this.#dirty;
    this.#dirty = this.#spare;
    for (let i = 0; i < list.length; i++) (list[i] as Connection).flush();
    list.length = 0;
    this.#spare = list;
  };

  /** [MQTT-3.3.1-5..11] store or clear the retained message of a topic. */
  #retain(message: Message): void {
    const store = this.deps.retained;
    if (message.payload.length === 0) {
      if (store.get(message.topic) !== undefined) this.durability.unretained(message.topic);
      store.delete(message.topic);
      if (this.cluster !== undefined && !message.topic.startsWith('$SYS/')) this.cluster.link.unretained(message.topic);
      return;
    }
    if (store.size >= this.settings.maxRetainedMessages && store.get(message.topic) === undefined) {
      this.deps.logger.warn({ topic: message.topic, max: this.settings.maxRetainedMessages }, 'retained message not stored: max_retained_messages reached');
      return;
    }
    ownPayload(message);
    store.set(message);
    this.durability.retained(message);
    if (this.cluster !== undefined && !message.topic.startsWith('$SYS/')) this.cluster.link.retained(message);
  }

  /** Retained messages for a filter; expired ones are removed instead [MQTT-3.3.2-5]. */
  matchRetained(filter: string, visit: (message: Message) => void): void {
    const now = this.deps.clock.now();
    let expired: string[] | undefined;
    this.deps.retained.match(filter, (message) => {
      if (message.expiresAt !== undefined && message.expiresAt <= now) (expired ??= []).push(message.topic);
      else visit(message);
    });
    if (expired !== undefined) {
      for (const topic of expired) {
        this.deps.retained.delete(topic);
        this.durability.unretained(topic);
      }
    }
  }

  /** Back online: the session no longer expires, and a delayed will is cancelled [MQTT-3.1.3-9]. */
  resumeSessionTimers(ref: ClientRef): void {
    ref.expiryTimer?.clear();
    ref.expiryTimer = undefined;
    ref.pendingWill?.timer.clear();
    ref.pendingWill = undefined;
  }

  /** The connection of a session ended (`sinceMs` ago): end the session now, or when it expires. */
  #sessionOffline(ref: ClientRef, sinceMs = 0): void {
    const interval = ref.state.expiryInterval;
    const left = interval * 1000 - sinceMs;
    if (interval === 0 || (interval !== NEVER_EXPIRES && left <= 0)) {
      this.discardSession(ref);
      return;
    }
    if (sinceMs === 0) this.durability.sessionChanged(ref.state, this.deps.clock.now());
    if (interval !== NEVER_EXPIRES) {
      this.cluster?.link.sessionOffline(ref.state.clientId, Math.ceil((interval * 1000 - sinceMs) / 1000));
      ref.expiryTimer = setLongTimeout(this.deps.clock, left, () => {
        ref.expiryTimer = undefined;
        if (ref.connection === undefined) this.discardSession(ref);
      });
    }
  }

  #publishWill(conn: Connection, ref: ClientRef | undefined): void {
    const will = conn.will;
    if (will === undefined) return;
    conn.will = undefined;
    const clientId = conn.clientId ?? '';
    const identity = { clientId, username: conn.username, identity: conn.identity };
    if (this.deps.authorizer.canPublish(identity, will.topic, will.qos, will.retain) !== 'allow') {
      this.durability.willGone(clientId);
      return;
    }
    const build = willBuilder(will, conn.clientId, () => this.deps.clock.now());
    const delay = willDelayMs(will);
    // delayed only while the session outlives the connection; discardSession sends it early
    if (delay > 0 && ref !== undefined && ref.state.expiryInterval > 0) {
      const { topic, payload, qos, retain, properties } = will;
      this.durability.willSaved({ clientId, topic, payload, qos, retain, properties, fireAt: this.deps.clock.now() + delay });
      this.#delayWill(ref, build, delay);
      return;
    }
    this.durability.willGone(clientId);
    this.publish(build());
  }

  /** A will that waits for its Will Delay Interval [MQTT-3.1.3-9]; a reconnect cancels it. */
  #delayWill(ref: ClientRef, build: () => Message, ms: number): void {
    ref.pendingWill?.timer.clear();
    ref.pendingWill = {
      build,
      timer: setLongTimeout(this.deps.clock, ms, () => {
        ref.pendingWill = undefined;
        this.durability.willGone(ref.state.clientId);
        this.publish(build());
      }),
    };
  }

  /** Absolute expiry time of a message with a v5 Message Expiry Interval. */
  #expiresAt(properties: Properties | undefined): number | undefined {
    const seconds = properties?.messageExpiryInterval;
    return seconds === undefined ? undefined : this.deps.clock.now() + seconds * 1000;
  }

  /** Rebuilds the live index from the sessions in the (in-memory) session store. */
  #restoreSessions(): void {
    for (const state of this.deps.sessions.all()) this.#index(createClientRef(state));
  }

  #index(ref: ClientRef): void {
    const state = ref.state;
    this.clients.set(state.clientId, ref);
    for (const [filter, options] of state.subscriptions) {
      this.cluster?.subscribed(filter);
      if (!this.sharedSubscriptions.restore(filter, ref, options)) this.subscriptions.add(filter, state.clientId, { client: ref, options });
    }
  }

  /**
   * Startup with a durable store: retained messages, then sessions, then wills. A session
   * that was online when the broker stopped went offline then (the last markAlive), so its
   * expiry counts from that moment, across the downtime; so do delayed wills. A will whose
   * connection was up is sent as for any lost connection (after its delay, if its session
   * persists).
   */
  #restoreDurable(snapshot: DurableSnapshot): void {
    const now = this.deps.clock.now();
    const durability = this.durability;
    durability.startAfter(snapshot.maxMessageId);
    for (const message of snapshot.retained) {
      if (message.expiresAt !== undefined && message.expiresAt <= now) durability.unretained(message.topic);
      else this.deps.retained.set(message);
    }
    const stoppedAt = Math.min(snapshot.lastAlive ?? now, now);
    const offline: [ClientRef, number][] = [];
    for (const stored of snapshot.sessions) {
      const state = rebuildSession(durability, stored);
      this.deps.sessions.set(state);
      const ref = createClientRef(state);
      this.#index(ref);
      const since = stored.record.disconnectedAt ?? stoppedAt;
      if (stored.record.disconnectedAt === undefined) durability.sessionChanged(state, since);
      offline.push([ref, Math.max(0, now - since)]);
    }
    for (const will of snapshot.wills) {
      durability.restoredWill(will.clientId);
      const ref = this.clients.get(will.clientId);
      const build = willBuilder(will, will.clientId, () => this.deps.clock.now());
      const dueAt = will.fireAt ?? stoppedAt + willDelayMs(will);
      if (ref !== undefined && dueAt > now && willDelayMs(will) > 0) {
        if (will.fireAt === undefined) durability.willSaved({ ...will, fireAt: dueAt });
        this.#delayWill(ref, build, dueAt - now);
      } else {
        durability.willGone(will.clientId);
        this.publish(build());
      }
    }
    for (const [ref, since] of offline) this.#sessionOffline(ref, since);
  }
}
