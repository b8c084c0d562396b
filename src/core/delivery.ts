// Getting a message to one session: QoS 0 straight to the socket (or dropped when the
// client is slow or offline), QoS 1/2 through the inflight window and the bounded queue.
import { encodePublish } from '../protocol/index.js';
import { PacketType, type PublishPacket } from '../protocol/types.js';
import type { BrokerContext, ClientRef } from './context.js';
import type { Connection } from './connection.js';
import { ownPayload } from './message.js';
import { allocatePacketId, type Delivery, type OutgoingInflight } from './session-state.js';

export function deliver(ctx: BrokerContext, client: ClientRef, delivery: Delivery): void {
  const conn = client.connection;
  if (delivery.qos === 0) {
    // QoS 0 is never queued: not for offline clients (as mosquitto's default), nor behind a slow reader
    if (conn === undefined || conn.state !== 'connected' || conn.isCongested()) {
      ctx.stats.publishDropped++;
      return;
    }
    conn.sendBytes(encodeQos0(delivery, conn));
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
}

/** Moves queued messages into the inflight window while there is room. */
export function drainQueue(ctx: BrokerContext, client: ClientRef): void {
  const conn = client.connection;
  if (conn === undefined || conn.state !== 'connected') return;
  const queue = client.state.queue;
  while (queue.length > 0 && hasWindow(ctx, client, conn)) {
    sendInflight(ctx, client, conn, queue.shift() as Delivery);
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
      conn.sendBytes(encodeInflight(entry, conn, true));
      ctx.stats.publishSent++;
    }
  }
  drainQueue(ctx, client);
}

function hasWindow(ctx: BrokerContext, client: ClientRef, conn: Connection): boolean {
  const max = ctx.settings.maxInflightMessages;
  if (max > 0 && client.state.inflight.size >= max) return false;
  return !conn.isCongested();
}

function sendInflight(ctx: BrokerContext, client: ClientRef, conn: Connection, delivery: Delivery): void {
  const packetId = allocatePacketId(client.state);
  if (packetId === 0) {
    // every id is in flight (only possible with max_inflight_messages 0): keep it queued
    client.state.queue.push(delivery);
    return;
  }
  ownPayload(delivery.message);
  const entry: OutgoingInflight = { packetId, delivery, stage: 'publish' };
  client.state.inflight.set(packetId, entry);
  conn.sendBytes(encodeInflight(entry, conn, false));
  ctx.stats.publishSent++;
}

function encodeQos0(delivery: Delivery, conn: Connection): Buffer {
  const message = delivery.message;
  const v5 = conn.protocolVersion === 5;
  if (delivery.subscriptionIdentifiers !== undefined && v5) {
    return encodePublish(toPacket(delivery, 0, false, conn), 5);
  }
  // the same bytes go to every QoS 0 subscriber of the same protocol family
  const slot = (v5 ? 2 : 0) + (delivery.retain ? 1 : 0);
  let bytes = message.qos0Bytes[slot];
  if (bytes === undefined) {
    bytes = encodePublish(toPacket(delivery, 0, false, conn), conn.protocolVersion);
    message.qos0Bytes[slot] = bytes;
  }
  return bytes;
}

function encodeInflight(entry: OutgoingInflight, conn: Connection, dup: boolean): Buffer {
  return encodePublish(toPacket(entry.delivery, entry.packetId, dup, conn), conn.protocolVersion);
}

function toPacket(delivery: Delivery, packetId: number, dup: boolean, conn: Connection): PublishPacket {
  const message = delivery.message;
  const packet: PublishPacket = {
    type: PacketType.PUBLISH,
    topic: message.topic,
    payload: message.payload,
    qos: delivery.qos,
    retain: delivery.retain,
    dup,
  };
  if (delivery.qos > 0) packet.packetId = packetId;
  if (conn.protocolVersion === 5) {
    const ids = delivery.subscriptionIdentifiers;
    if (message.properties !== undefined || ids !== undefined) {
      packet.properties = ids === undefined ? message.properties : { ...message.properties, subscriptionIdentifiers: ids };
    }
  }
  return packet;
}
