// A live session as data another node can rebuild (takeover across a cluster): the same
// shape a durable store reads back, so one rebuild (durable-restore.ts) serves both.
import type { TransferredSession } from './ports.js';
import type { SessionState } from './session-state.js';

/**
 * The session's subscriptions, in-flight messages (in send order), queue and incoming QoS 2
 * ids. `storeIds`: message ids are the durable store's (for rewriting it there); otherwise 0.
 */
export function exportSession(state: SessionState, now: number | undefined, storeIds = false): TransferredSession {
  const deliveries: TransferredSession['deliveries'] = [];
  let seq = 1;
  for (const entry of state.inflight.values()) {
    const d = entry.delivery;
    deliveries.push({
      record: { seq: storeIds && d.seq !== undefined ? d.seq : seq++, messageId: storeIds ? d.message.storeId : 0, qos: d.qos, retain: d.retain, subscriptionIdentifiers: d.subscriptionIdentifiers, shareGroup: d.shareGroup, packetId: entry.packetId, stage: entry.stage },
      message: d.message,
    });
  }
  for (const d of state.queue) {
    deliveries.push({
      record: { seq: storeIds && d.seq !== undefined ? d.seq : seq++, messageId: storeIds ? d.message.storeId : 0, qos: d.qos, retain: d.retain, subscriptionIdentifiers: d.subscriptionIdentifiers, shareGroup: d.shareGroup, packetId: 0, stage: 'publish' },
      message: d.message,
    });
  }
  return {
    record: { clientId: state.clientId, expiryInterval: state.expiryInterval, owner: state.owner, disconnectedAt: now },
    subscriptions: [...state.subscriptions],
    deliveries,
    incomingQos2: [...state.incomingQos2],
  };
}
