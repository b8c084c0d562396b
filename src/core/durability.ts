// What the broker writes to its durable store (ports.ts DurableStore), and when.
//
// All state lives in memory, as without a store; the store is a journal of the changes to
// the sessions that outlive their connection (expiry interval > 0), the retained messages
// and the wills, read back once at startup (durable-restore.ts). A message queued for many
// stored sessions is stored once and counted (Message.storeRefs); each session holds a
// DeliveryRecord per queued or in-flight message, ordered by a per-session seq.
//
// Writes go into one open batch; commit() ends it. Connection.flush() commits before it
// writes anything, so a PUBACK, PUBREC, SUBACK or CONNACK leaves only once what it confirms
// is stored: group commit, one transaction per event-loop turn, and no added latency.
// A batch nobody flushes (a retained message from a timer) is committed on the next turn.
import type { Message } from './message.js';
import type { Clock, DeliveryRecord, DurableStore, Logger, TimerHandle, WillRecord } from './ports.js';
import type { Delivery, OutgoingInflight, SessionState, SubscriptionOptions } from './session-state.js';
import { exportSession } from './session-transfer.js';

/** How often the store learns the broker is alive: after a crash, sessions that were online count as offline since then. */
const ALIVE_INTERVAL_MS = 5000;
/** After a failed commit, the next try. */
const RETRY_MS = 100;

export class Durability {
  readonly #store: DurableStore | undefined;
  readonly #clock: Clock;
  readonly #logger: Logger;
  #nextMessageId = 1;
  /** Client ids with a stored will (so a connection without one costs no write). At most one per client id. */
  readonly #wills = new Set<string>();
  #dirty = false;
  #commitScheduled = false;
  #failing = false;
  #alive: TimerHandle | undefined;

  constructor(store: DurableStore | undefined, clock: Clock, logger: Logger) {
    this.#store = store;
    this.#clock = clock;
    this.#logger = logger;
  }

  get enabled(): boolean {
    return this.#store !== undefined;
  }

  /** True while a commit has failed and not yet succeeded: nothing that depends on it may be sent. */
  get failing(): boolean {
    return this.#failing;
  }

  /** Ids for new stored messages continue above what the store holds. */
  startAfter(maxMessageId: number): void {
    this.#nextMessageId = maxMessageId + 1;
  }

  start(): void {
    if (this.#store === undefined) return;
    this.#markAlive();
    this.#alive = this.#clock.setInterval(() => this.#markAlive(), ALIVE_INTERVAL_MS);
  }

  stop(): void {
    this.#alive?.clear();
    this.#alive = undefined;
    if (this.#store !== undefined) this.#markAlive();
    this.commit();
  }

  /**
   * Makes every write so far durable. Returns false when the store failed (logged); the
   * batch stays open and is retried, and callers hold back what depends on it.
   */
  commit(): boolean {
    if (!this.#dirty) return true;
    try {
      (this.#store as DurableStore).commit();
    } catch (err) {
      if (!this.#failing) this.#logger.error({ err }, 'durable store commit failed; acknowledgements wait until it succeeds');
      this.#failing = true;
      this.#schedule(RETRY_MS);
      return false;
    }
    if (this.#failing) this.#logger.warn({}, 'durable store commits again');
    this.#failing = false;
    this.#dirty = false;
    return true;
  }

  // --- sessions ---------------------------------------------------------------------

  /**
   * A session was created, came online, went offline or changed its expiry interval:
   * store it if it outlives its connection (writing all of it the first time), forget it
   * if it no longer does.
   */
  sessionChanged(state: SessionState, disconnectedAt: number | undefined): void {
    const store = this.#store;
    if (store === undefined) return;
    if (state.expiryInterval === 0) {
      if (state.durable) this.sessionDeleted(state);
      return;
    }
    if (!state.durable) {
      // written whole the first time: nothing left over from an earlier session of this id
      store.deleteSession(state.clientId);
    }
    store.saveSession({ clientId: state.clientId, expiryInterval: state.expiryInterval, owner: state.owner, disconnectedAt });
    this.#touch();
    if (state.durable) return;
    state.durable = true;
    for (const [filter, options] of state.subscriptions) store.saveSubscription(state.clientId, filter, options);
    for (const delivery of state.queue) this.#add(state, delivery, 0, 'publish');
    for (const entry of state.inflight.values()) this.#add(state, entry.delivery, entry.packetId, entry.stage);
    for (const id of state.incomingQos2) store.saveIncomingQos2(state.clientId, id);
  }

  /** The session ends: its rows go, and its messages lose a reference each. */
  sessionDeleted(state: SessionState): void {
    if (!state.durable) return;
    state.durable = false;
    for (const delivery of state.queue) this.#release(delivery.message);
    for (const entry of state.inflight.values()) this.#release(entry.delivery.message);
    (this.#store as DurableStore).deleteSession(state.clientId);
    this.#touch();
  }

  /** Has a store that keeps copies (a session mirror) write this session whole again. */
  rewrite(state: SessionState, disconnectedAt: number | undefined): void {
    const store = this.#store;
    if (store?.rewriteSession === undefined || !state.durable) return;
    store.rewriteSession(exportSession(state, disconnectedAt, true));
    this.#touch();
  }

  subscribed(state: SessionState, filter: string, options: SubscriptionOptions): void {
    if (!state.durable) return;
    (this.#store as DurableStore).saveSubscription(state.clientId, filter, options);
    this.#touch();
  }

  unsubscribed(state: SessionState, filter: string): void {
    if (!state.durable) return;
    (this.#store as DurableStore).deleteSubscription(state.clientId, filter);
    this.#touch();
  }

  // --- deliveries -------------------------------------------------------------------

  /** A QoS 1/2 delivery joined the session's queue. */
  queued(state: SessionState, delivery: Delivery): void {
    if (state.durable) this.#add(state, delivery, 0, 'publish');
  }

  /** A delivery was sent with `packetId` (from the queue, or straight away). */
  sent(state: SessionState, delivery: Delivery, packetId: number): void {
    if (!state.durable) return;
    if (delivery.seq === undefined) this.#add(state, delivery, packetId, 'publish');
    else {
      (this.#store as DurableStore).updateDelivery(state.clientId, delivery.seq, packetId, 'publish');
      this.#touch();
    }
  }

  /** PUBREC arrived for an outgoing QoS 2 message: only PUBREL is left to resend. */
  released(state: SessionState, entry: OutgoingInflight): void {
    const seq = entry.delivery.seq;
    if (!state.durable || seq === undefined) return;
    (this.#store as DurableStore).updateDelivery(state.clientId, seq, entry.packetId, 'pubrel');
    this.#touch();
  }

  /** A delivery left the session: acknowledged, expired, refused or handed to another member. */
  finished(state: SessionState, delivery: Delivery): void {
    const seq = delivery.seq;
    if (!state.durable || seq === undefined) return;
    delivery.seq = undefined;
    (this.#store as DurableStore).deleteDelivery(state.clientId, seq);
    this.#release(delivery.message);
    this.#touch();
  }

  incomingAdded(state: SessionState, packetId: number): void {
    if (!state.durable) return;
    (this.#store as DurableStore).saveIncomingQos2(state.clientId, packetId);
    this.#touch();
  }

  incomingReleased(state: SessionState, packetId: number): void {
    if (!state.durable) return;
    (this.#store as DurableStore).deleteIncomingQos2(state.clientId, packetId);
    this.#touch();
  }

  // --- retained messages and wills ----------------------------------------------------

  retained(message: Message): void {
    if (this.#store === undefined) return;
    this.#store.saveRetained(message);
    this.#touch();
  }

  unretained(topic: string): void {
    if (this.#store === undefined) return;
    this.#store.deleteRetained(topic);
    this.#touch();
  }

  /** A connection with a will came up (fireAt undefined), or its will is now delayed. */
  willSaved(record: WillRecord): void {
    if (this.#store === undefined) return;
    this.#store.saveWill(record);
    this.#wills.add(record.clientId);
    this.#touch();
  }

  /** The client's will was published, discarded or cancelled. */
  willGone(clientId: string): void {
    if (this.#store === undefined || !this.#wills.delete(clientId)) return;
    this.#store.deleteWill(clientId);
    this.#touch();
  }

  // --- restore ------------------------------------------------------------------------

  /** A message read back from the store: one more stored delivery carries it. */
  restoredReference(message: Message, id: number): void {
    message.storeId = id;
    message.storeRefs++;
  }

  /** A will read back from the store. */
  restoredWill(clientId: string): void {
    this.#wills.add(clientId);
  }

  #add(state: SessionState, delivery: Delivery, packetId: number, stage: 'publish' | 'pubrel'): void {
    const store = this.#store as DurableStore;
    const message = delivery.message;
    if (message.storeId === 0) {
      message.storeId = this.#nextMessageId++;
      store.saveMessage(message.storeId, message);
    }
    message.storeRefs++;
    const seq = state.nextSeq++;
    delivery.seq = seq;
    const record: DeliveryRecord = {
      seq,
      messageId: message.storeId,
      qos: delivery.qos,
      retain: delivery.retain,
      subscriptionIdentifiers: delivery.subscriptionIdentifiers,
      shareGroup: delivery.shareGroup,
      packetId,
      stage,
    };
    store.saveDelivery(state.clientId, record);
    this.#touch();
  }

  #release(message: Message): void {
    if (message.storeId === 0 || --message.storeRefs > 0) return;
    (this.#store as DurableStore).deleteMessage(message.storeId);
    message.storeId = 0;
    message.storeRefs = 0;
  }

  #markAlive(): void {
    (this.#store as DurableStore).markAlive(this.#clock.now());
    this.#touch();
  }

  #touch(): void {
    this.#dirty = true;
    if (!this.#commitScheduled) this.#schedule(0);
  }

  /** A batch nobody flushes this turn is committed on the next one. */
  #schedule(ms: number): void {
    this.#commitScheduled = true;
    const run = (): void => {
      this.#commitScheduled = false;
      this.commit();
    };
    if (ms === 0) setImmediate(run);
    else this.#clock.setTimeout(run, ms);
  }
}
