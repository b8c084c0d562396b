// The part of a session that outlives a connection [MQTT-4.1.0-1]: subscriptions,
// QoS 1/2 messages in flight or queued, and the incoming QoS 2 packet ids.
import type { QoS } from '../protocol/types.js';
import type { Message } from './message.js';
import { Deque } from './deque.js';
import { InflightWindow } from './inflight-window.js';
import type { ClientIdentity } from './ports.js';

export interface SubscriptionOptions {
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionIdentifier: number | undefined;
}

/** A message on its way to one subscriber. */
export interface Delivery {
  message: Message;
  qos: QoS;
  retain: boolean;
  subscriptionIdentifiers: number[] | undefined;
  /** Set when a shared subscription chose this session: the group's `$share/{name}/{filter}` (see shared-subscriptions.ts). */
  shareGroup?: string;
  /** Its order in a durable session (durability.ts); unset for sessions that are not stored. */
  seq?: number;
}

export interface OutgoingInflight {
  packetId: number;
  delivery: Delivery;
  /** 'publish': waiting for PUBACK/PUBREC; 'pubrel': PUBREC received, waiting for PUBCOMP. */
  stage: 'publish' | 'pubrel';
}

export interface SessionState {
  readonly clientId: string;
  /** Change it only with setSubscription / deleteSubscription / clearSubscriptions. */
  subscriptions: ReadonlyMap<string, SubscriptionOptions>;
  /** Outgoing QoS 1/2 packets not yet completed, by packet id, in send order (not a Map: see inflight-window.ts). */
  readonly inflight: InflightWindow;
  /** QoS 1/2 messages waiting for an inflight slot or for the client to come back. */
  readonly queue: Deque<Delivery>;
  /** Incoming QoS 2 packet ids received but not yet released (PUBREL); change it with addIncomingQos2 / releaseIncomingQos2. */
  incomingQos2: ReadonlySet<number>;
  nextPacketId: number;
  /**
   * Seconds the session outlives its connection: 0 ends it with the connection,
   * 0xFFFFFFFF never expires (v5 Session Expiry Interval; 3.1.1 persistent sessions get
   * persistent_client_expiration).
   */
  expiryInterval: number;
  /**
   * Who the session belongs to, as authorization sees it (set at every CONNECT): per-message
   * read checks (Authorizer.canRead) use it, also while the session is offline.
   */
  owner: ClientIdentity | undefined;
  /** True while the session is written to the durable store (durability.ts). */
  durable: boolean;
  /** Next DeliveryRecord.seq of a durable session. */
  nextSeq: number;
}

// An empty Map costs about 280 bytes and an empty Set 220: most sessions never use incoming
// QoS 2, and idle ones may have no subscription, so they share these until their first entry.
class SealedEmptyMap<K, V> extends Map<K, V> {
  override set(): this {
    throw new Error('the shared empty subscription map was written to (use setSubscription)');
  }
}
class SealedEmptySet<T> extends Set<T> {
  override add(): this {
    throw new Error('the shared empty packet id set was written to (use addIncomingQos2)');
  }
}
const NO_SUBSCRIPTIONS: ReadonlyMap<string, SubscriptionOptions> = new SealedEmptyMap();
const NO_PACKET_IDS: ReadonlySet<number> = new SealedEmptySet();

/** Adds or replaces the subscription to `filter`; true if it replaced one. */
export function setSubscription(state: SessionState, filter: string, options: SubscriptionOptions): boolean {
  const map = state.subscriptions === NO_SUBSCRIPTIONS ? new Map<string, SubscriptionOptions>() : (state.subscriptions as Map<string, SubscriptionOptions>);
  const existed = map.has(filter);
  map.set(filter, options);
  state.subscriptions = map;
  return existed;
}

/** Removes the subscription to `filter`; true if there was one. */
export function deleteSubscription(state: SessionState, filter: string): boolean {
  if (!(state.subscriptions as Map<string, SubscriptionOptions>).delete(filter)) return false;
  if (state.subscriptions.size === 0) state.subscriptions = NO_SUBSCRIPTIONS;
  return true;
}

export function clearSubscriptions(state: SessionState): void {
  state.subscriptions = NO_SUBSCRIPTIONS;
}

export function addIncomingQos2(state: SessionState, packetId: number): void {
  if (state.incomingQos2 === NO_PACKET_IDS) state.incomingQos2 = new Set([packetId]);
  else (state.incomingQos2 as Set<number>).add(packetId);
}

/**
 * Forgets an incoming QoS 2 packet id (its PUBREL came); true if it was known. The set stays
 * once made, even empty: a client that publishes QoS 2 one at a time would otherwise cost a
 * new Set per message.
 */
export function releaseIncomingQos2(state: SessionState, packetId: number): boolean {
  return (state.incomingQos2 as Set<number>).delete(packetId);
}

/** The v5 value that means "the session does not expire". */
export const NEVER_EXPIRES = 0xffffffff;

export function createSessionState(clientId: string, expiryInterval: number): SessionState {
  return {
    clientId,
    expiryInterval,
    subscriptions: NO_SUBSCRIPTIONS,
    inflight: new InflightWindow(),
    queue: new Deque(),
    incomingQos2: NO_PACKET_IDS,
    nextPacketId: 1,
    owner: undefined,
    durable: false,
    nextSeq: 1,
  };
}

/**
 * Next free packet id (1..65535) not used by an inflight packet [MQTT-2.3.1-2]. Callers keep
 * fewer than 65535 in flight (delivery.ts hasWindow), so one is always free; 0 only if not.
 */
export function allocatePacketId(state: SessionState): number {
  for (let tries = 0; tries < 65535; tries++) {
    const id = state.nextPacketId;
    state.nextPacketId = id === 65535 ? 1 : id + 1;
    if (!state.inflight.has(id)) return id;
  }
  return 0;
}
