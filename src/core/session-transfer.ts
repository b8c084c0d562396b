// A live session as data another node can rebuild (takeover across a cluster): the same
// shape a durable store reads back, so one rebuild (durable-restore.ts) serves both.
import type { TransferredSession } from './ports.js';
import type { Delivery, SessionState } from './session-state.js';

/**
 * The session's subscriptions, in-flight messages (in send order), queue and incoming QoS 2
 * ids. `storeIds`: seq and message ids are the durable store's (for rewriting it there);
 * otherwise numbered afresh, message ids 0.
 */
export function exportSession(state: SessionState, now: number | undefined, storeIds = false): TransferredSession {
  const deliveries: TransferredSession['deliveries'] = [];
  let next = 1;
  const add = (d: Delivery, packetId: number, stage: 'publish' | 'pubrel'): void => {
    const seq = storeIds && d.seq !== undefined ? d.seq : next++;
    const messageId = storeIds ? d.message.storeId : 0;
    const record = { seq, messageId, qos: d.qos, retain: d.retain, subscriptionIdentifiers: d.subscriptionIdentifiers, shareGroup: d.shareGroup, packetId, stage };
    deliveries.push({ record, message: d.message });
  };
  for (const entry of state.inflight.values()) add(entry.delivery, entry.packetId, entry.stage);
  for (const d of state.queue) add(d, 0, 'publish');
  return {
    record: { clientId: state.clientId, expiryInterval: state.expiryInterval, owner: state.owner, disconnectedAt: now },
    subscriptions: [...state.subscriptions],
    deliveries,
    incomingQos2: [...state.incomingQos2],
  };
}
