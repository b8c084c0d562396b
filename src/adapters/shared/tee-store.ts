// One durable store that writes to two: the primary (the node's own SQLite file, which
// restarts read and whose commit the acknowledgements wait for) and a mirror (a copy another
// cluster node can take a session from when this node dies; its commit must not throw).
import type { Message } from '../../core/message.js';
import type { DeliveryRecord, DurableSnapshot, DurableStore, SessionRecord, TransferredSession, WillRecord } from '../../core/ports.js';
import type { SubscriptionOptions } from '../../core/session-state.js';

export class TeeStore implements DurableStore {
  readonly #primary: DurableStore;
  readonly #mirror: DurableStore;

  constructor(primary: DurableStore, mirror: DurableStore) {
    this.#primary = primary;
    this.#mirror = mirror;
  }

  load(): DurableSnapshot {
    return this.#primary.load();
  }

  /** Only copies are rewritten: the primary holds every change already. */
  rewriteSession(session: TransferredSession): void {
    this.#mirror.rewriteSession?.(session);
  }

  commit(): void {
    // the primary first: if it fails, the batch stays open in both and is retried whole
    this.#primary.commit();
    this.#mirror.commit();
  }

  saveSession(r: SessionRecord): void {
    this.#primary.saveSession(r);
    this.#mirror.saveSession(r);
  }
  deleteSession(clientId: string): void {
    this.#primary.deleteSession(clientId);
    this.#mirror.deleteSession(clientId);
  }
  saveSubscription(clientId: string, filter: string, options: SubscriptionOptions): void {
    this.#primary.saveSubscription(clientId, filter, options);
    this.#mirror.saveSubscription(clientId, filter, options);
  }
  deleteSubscription(clientId: string, filter: string): void {
    this.#primary.deleteSubscription(clientId, filter);
    this.#mirror.deleteSubscription(clientId, filter);
  }
  saveMessage(id: number, message: Message): void {
    this.#primary.saveMessage(id, message);
    this.#mirror.saveMessage(id, message);
  }
  deleteMessage(id: number): void {
    this.#primary.deleteMessage(id);
    this.#mirror.deleteMessage(id);
  }
  saveDelivery(clientId: string, record: DeliveryRecord): void {
    this.#primary.saveDelivery(clientId, record);
    this.#mirror.saveDelivery(clientId, record);
  }
  updateDelivery(clientId: string, seq: number, packetId: number, stage: 'publish' | 'pubrel'): void {
    this.#primary.updateDelivery(clientId, seq, packetId, stage);
    this.#mirror.updateDelivery(clientId, seq, packetId, stage);
  }
  deleteDelivery(clientId: string, seq: number): void {
    this.#primary.deleteDelivery(clientId, seq);
    this.#mirror.deleteDelivery(clientId, seq);
  }
  saveIncomingQos2(clientId: string, packetId: number): void {
    this.#primary.saveIncomingQos2(clientId, packetId);
    this.#mirror.saveIncomingQos2(clientId, packetId);
  }
  deleteIncomingQos2(clientId: string, packetId: number): void {
    this.#primary.deleteIncomingQos2(clientId, packetId);
    this.#mirror.deleteIncomingQos2(clientId, packetId);
  }
  saveRetained(message: Message): void {
    this.#primary.saveRetained(message);
    this.#mirror.saveRetained(message);
  }
  deleteRetained(topic: string): void {
    this.#primary.deleteRetained(topic);
    this.#mirror.deleteRetained(topic);
  }
  saveWill(record: WillRecord): void {
    this.#primary.saveWill(record);
    this.#mirror.saveWill(record);
  }
  deleteWill(clientId: string): void {
    this.#primary.deleteWill(clientId);
    this.#mirror.deleteWill(clientId);
  }
  markAlive(now: number): void {
    this.#primary.markAlive(now);
    this.#mirror.markAlive(now);
  }
}
