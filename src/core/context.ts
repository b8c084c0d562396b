// What handlers and deliveries see of the broker. Broker implements it; keeping it an
// interface lets handlers stay free of the broker's construction and lifecycle.
import type { TopicTrie } from '../topic/index.js';
import type { Message } from './message.js';
import type { TimerHandle, TransferredSession } from './ports.js';
import type { BrokerDeps, BrokerSettings } from './options.js';
import type { SessionState, SubscriptionOptions } from './session-state.js';
import type { BrokerStats } from './stats.js';
import type { Connection } from './connection.js';
import type { BrokerEvents } from './events.js';
import type { SharedSubscriptions } from './shared-subscriptions.js';
import type { CloseReason } from './errors.js';
import type { Durability } from './durability.js';
import type { Cluster } from './cluster.js';

/** The broker's live handle on one session: its state and, while online, its connection. */
export interface ClientRef {
  readonly state: SessionState;
  connection: Connection | undefined;
  /** Ends an offline session when its expiry interval has passed. */
  expiryTimer: TimerHandle | undefined;
  /** A v5 will waiting for its Will Delay Interval [MQTT-3.1.3-9]. */
  pendingWill: { build: () => Message; timer: TimerHandle } | undefined;
  // Scratch fields for routing one message (see router.ts): avoid a Map per publish.
  routeEpoch: number;
  routeQos: number;
  routeRetain: boolean;
  routeSubIds: number[] | undefined;
}

/** A ClientRef for a session that has no connection yet. */
export function createClientRef(state: SessionState): ClientRef {
  return {
    state,
    connection: undefined,
    expiryTimer: undefined,
    pendingWill: undefined,
    routeEpoch: 0,
    routeQos: 0,
    routeRetain: false,
    routeSubIds: undefined,
  };
}

export interface SubscriberEntry {
  readonly client: ClientRef;
  readonly options: SubscriptionOptions;
}

export interface BrokerContext {
  readonly settings: Readonly<BrokerSettings>;
  readonly deps: BrokerDeps;
  readonly stats: BrokerStats;
  readonly events: BrokerEvents;
  readonly clients: Map<string, ClientRef>;
  readonly subscriptions: TopicTrie<SubscriberEntry>;
  /** `$share/{name}/{filter}` groups and their member sessions (MQTT 5.0 section 4.8.2). */
  readonly sharedSubscriptions: SharedSubscriptions;
  /** Writes what must survive a restart to the durable store, if there is one. */
  readonly durability: Durability;
  /** Set when this broker is one node of a cluster. */
  readonly cluster: Cluster | undefined;
  /** Installs a session another node handed over (replacing any local copy). */
  adoptSession(session: TransferredSession): void;
  /** Routes a message to every matching subscriber and updates the retained store. */
  publish(message: Message): void;
  /** Retained messages matching a filter, skipping (and deleting) expired ones. */
  matchRetained(filter: string, visit: (message: Message) => void): void;
  /** A client came back to its session: stop its expiry and cancel a delayed will. */
  resumeSessionTimers(ref: ClientRef): void;
  /** Drops a session: its subscriptions, queue and store entry. */
  discardSession(ref: ClientRef): void;
  /** Schedules a connection's pending output to be written at the end of this tick. */
  scheduleFlush(connection: Connection): void;
  /** Called once per connection when it ends: detaches the session, publishes the will. */
  connectionClosed(
    connection: Connection,
    reason: CloseReason,
    publishWill: boolean,
    wasConnected: boolean,
    detail: string | undefined,
  ): void;
}
