// Getting a message to one session: QoS 0 straight to the socket (or dropped when the
// client is slow or offline), QoS 1/2 through the inflight window and the bounded queue.
import { PacketType } from '../protocol/types.js';
import type { BrokerContext, ClientRef } from './context.js';
import type { Connection } from './connection.js';
import { ownPayload } from './message.js';
import type { Authorizer } from './ports.js';
import { encodeDelivery } from './publish-encoding.js';
import { allocatePacketId, type Delivery } from './session-state.js';

export function deliver(ctx: BrokerContext, client: ClientRef, delivery: Delivery): void {
  if (expired(ctx, delivery)) return;
  // per-message read rights (mosquitto's `read` ACLs), only when the authorizer has them
  const authorizer = ctx.deps.authorizer;
  if (authorizer.canRead !== undefined && !mayRead(authorizer, client, delivery.message.topic)) return;
  const conn = client.connection;
  if (delivery.qos === 0) {
    // QoS 0 is never queued: not for offline clients (as mosquitto's default), nor behind a slow reader
    if (conn === undefined || conn.state !== 'connected' || conn.isCongested()) {
      ctx.stats.publishDropped++;
      return;
    }
    const bytes = encodeDelivery(ctx, conn, delivery, 0, false);
    if (bytes === undefined) {
      ctx.stats.publishDropped++;
      return;
    }
    conn.sendBytes(bytes);
    ctx.stats.publishSent++;
    return;
  }
  const state = client.state;
  if (conn !== undefined && conn.state === 'connected' && state.queue.length === 0 && hasWindow(ctx, client, conn)) {
    sendInflight(ctx, client, conn, delivery);
    return;
  }
  if (state.queue.length >= ctx.settings.maxQueuedMessages) {
    ctx.stats.publishDropped++;
    return;
  }
  ownPayload(delivery.message);
  state.queue.push(delivery);
  if (state.durable) ctx.durability.queued(state, delivery);
}

function mayRead(authorizer: Authorizer, client: ClientRef, topic: string): boolean {
  const state = client.state;
  const owner = state.owner ?? { clientId: state.clientId, username: undefined, identity: undefined };
  return authorizer.canRead?.(owner, topic) ?? true;
}

/** Moves queued messages into the inflight window while there is room. */
export function drainQueue(ctx: BrokerContext, client: ClientRef): void {
  const conn = client.connection;
  if (conn === undefined || conn.state !== 'connected') return;
  const queue = client.state.queue;
  while (queue.length > 0 && hasWindow(ctx, client, conn)) {
    const delivery = queue.shift() as Delivery;
    // not yet on its way: an expired message is deleted for this subscriber [MQTT-3.3.2-5]
    if (!expired(ctx, delivery)) sendInflight(ctx, client, conn, delivery);
    else if (client.state.durable) ctx.durability.finished(client.state, delivery);
  }
}

/**
 * After a reconnect to a present session: resend unacknowledged PUBLISH with DUP set and
 * PUBREL for those past PUBREC, in the original order [MQTT-4.4.0-1], then the queue.
 */
export function resumeSession(ctx: BrokerContext, client: ClientRef, conn: Connection): void {
  for (const entry of client.state.inflight.values()) {
    if (entry.stage === 'pubrel') {
      conn.send({ type: PacketType.PUBREL, packetId: entry.packetId, reasonCode: 0 });
    } else {
      // already on its way before the reconnect: completed even if expired since
      const bytes = encodeDelivery(ctx, conn, entry.delivery, entry.packetId, true);
      if (bytes !== undefined) {
        conn.sendBytes(bytes);
        ctx.stats.publishSent++;
      }
    }
  }
  drainQueue(ctx, client);
}

function hasWindow(ctx: BrokerContext, client: ClientRef, conn: Connection): boolean {
  const inflight = client.state.inflight.size;
  const max = ctx.settings.maxInflightMessages;
  if (max > 0 && inflight >= max) return false;
  // never more unacknowledged QoS 1/2 than the client's Receive Maximum [MQTT-3.3.4-9];
  // as that is at most 65535, a free packet id always exists when this says yes
  if (inflight >= conn.clientReceiveMaximum) return false;
  return !conn.isCongested();
}

function expired(ctx: BrokerContext, delivery: Delivery): boolean {
  const at = delivery.message.expiresAt;
  if (at === undefined || ctx.deps.clock.now() < at) return false;
  ctx.stats.publishExpired++;
  return true;
}

function sendInflight(ctx: BrokerContext, client: ClientRef, conn: Connection, delivery: Delivery): void {
  const state = client.state;
  const packetId = allocatePacketId(state);
  const bytes = encodeDelivery(ctx, conn, delivery, packetId, false);
  if (bytes === undefined) {
    // too large for this client: dropped as if delivered [MQTT-3.1.2-25]
    ctx.stats.publishDropped++;
    if (state.durable) ctx.durability.finished(state, delivery);
    return;
  }
  ownPayload(delivery.message);
  state.inflight.set(packetId, { packetId, delivery, stage: 'publish' });
  if (state.durable) ctx.durability.sent(state, delivery, packetId);
  conn.sendBytes(bytes);
  ctx.stats.publishSent++;
}
