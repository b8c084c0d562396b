// Turning what a durable store read back (DurableSnapshot) into live session state.
// The timers (session expiry, delayed wills) are the broker's: see Broker.#restoreDurable.
import type { Durability } from './durability.js';
import type { Properties, QoS } from '../protocol/types.js';
import { createMessage, type Message } from './message.js';
import type { DurableSnapshot } from './ports.js';
import { addIncomingQos2, createSessionState, setSubscription, type Delivery, type SessionState } from './session-state.js';

export type StoredSession = DurableSnapshot['sessions'][number];

/**
 * The session as it was stored (`restored`: read back from this node's store, whose rows it
 * keeps) or as another node handed it over (not stored here yet: the caller stores it).
 */
export function rebuildSession(durability: Durability, stored: StoredSession, restored = true): SessionState {
  const record = stored.record;
  const state = createSessionState(record.clientId, record.expiryInterval);
  state.owner = record.owner;
  state.durable = restored;
  for (const [filter, options] of stored.subscriptions) setSubscription(state, filter, options);
  let maxSeq = 0;
  let lastPacketId = 0;
  // in seq order: the in-flight ones in the order they were sent, then the queue
  for (const { record: d, message } of stored.deliveries) {
    if (restored) durability.restoredReference(message, d.messageId);
    const delivery: Delivery = { message, qos: d.qos, retain: d.retain, subscriptionIdentifiers: d.subscriptionIdentifiers };
    if (restored) delivery.seq = d.seq;
    if (d.shareGroup !== undefined) delivery.shareGroup = d.shareGroup;
    if (d.seq > maxSeq) maxSeq = d.seq;
    if (d.packetId === 0) state.queue.push(delivery);
    else {
      state.inflight.set(d.packetId, { packetId: d.packetId, delivery, stage: d.stage });
      lastPacketId = d.packetId;
    }
  }
  for (const id of stored.incomingQos2) addIncomingQos2(state, id);
  state.nextSeq = maxSeq + 1;
  state.nextPacketId = lastPacketId === 65535 ? 1 : lastPacketId + 1;
  return state;
}

/** What a will is made of: the CONNECT's WillMessage, or a stored WillRecord. */
export interface WillContent {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: Properties | undefined;
}

/** The will's Will Delay Interval, in ms. */
export function willDelayMs(will: { properties?: Properties | undefined }): number {
  return (will.properties?.willDelayInterval ?? 0) * 1000;
}

/**
 * Builds the message a will becomes. It is built when it is published, so its Message
 * Expiry Interval starts then (section 3.1.3.2.4); the Will Delay Interval is for the
 * broker, not the subscribers.
 */
export function willBuilder(will: WillContent, clientId: string | undefined, now: () => number): () => Message {
  let properties: Properties | undefined;
  if (will.properties !== undefined) {
    const { willDelayInterval: _delay, ...rest } = will.properties;
    properties = Object.keys(rest).length > 0 ? rest : undefined;
  }
  return () => {
    const seconds = properties?.messageExpiryInterval;
    const expiresAt = seconds === undefined ? undefined : now() + seconds * 1000;
    return createMessage(will.topic, will.payload, will.qos, will.retain, properties, clientId, expiresAt);
  };
}
