// The bytes of one PUBLISH to one subscriber. 3.x and plain v5 QoS 0 messages share one
// encoding among all subscribers; a v5 delivery that carries something of its own
// (subscription identifiers, the remaining expiry, a topic alias) is encoded for itself.
import { encodePublish } from '../protocol/index.js';
import { PacketType, type Properties, type PublishPacket } from '../protocol/types.js';
import type { BrokerContext } from './context.js';
import type { Connection } from './connection.js';
import type { Delivery } from './session-state.js';

/**
 * Encodes a delivery for `conn`, or returns undefined when it is larger than the client's
 * Maximum Packet Size: such a message is not sent to it [MQTT-3.1.2-25].
 */
export function encodeDelivery(ctx: BrokerContext, conn: Connection, delivery: Delivery, packetId: number, dup: boolean): Buffer | undefined {
  const v5 = conn.protocolVersion === 5;
  const message = delivery.message;
  const own = v5 && (delivery.subscriptionIdentifiers !== undefined || message.expiresAt !== undefined || aliasesOn(ctx, conn));
  let bytes: Buffer;
  if (delivery.qos === 0 && !own) {
    bytes = sharedQos0(delivery, conn);
  } else if (!own) {
    bytes = encodePublish(plainPacket(delivery, packetId, dup, message.topic, v5 ? message.properties : undefined), conn.protocolVersion);
  } else {
    return encodeV5(ctx, conn, delivery, packetId, dup);
  }
  return fits(conn, bytes) ? bytes : undefined;
}

function fits(conn: Connection, bytes: Buffer): boolean {
  const max = conn.clientMaximumPacketSize;
  return max === 0 || bytes.length <= max;
}

function aliasesOn(ctx: BrokerContext, conn: Connection): boolean {
  return conn.clientTopicAliasMaximum > 0 && ctx.settings.maxTopicAliasOutbound > 0;
}

/** The same bytes go to every QoS 0 subscriber of the same protocol family. */
function sharedQos0(delivery: Delivery, conn: Connection): Buffer {
  const message = delivery.message;
  const v5 = conn.protocolVersion === 5;
  const slot = (v5 ? 2 : 0) + (delivery.retain ? 1 : 0);
  let bytes = message.qos0Bytes[slot];
  if (bytes === undefined) {
    bytes = encodePublish(plainPacket(delivery, 0, false, message.topic, v5 ? message.properties : undefined), conn.protocolVersion);
    message.qos0Bytes[slot] = bytes;
  }
  return bytes;
}

function plainPacket(delivery: Delivery, packetId: number, dup: boolean, topic: string, properties: Properties | undefined): PublishPacket {
  const packet: PublishPacket = {
    type: PacketType.PUBLISH,
    topic,
    payload: delivery.message.payload,
    qos: delivery.qos,
    retain: delivery.retain,
    dup,
  };
  if (delivery.qos > 0) packet.packetId = packetId;
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function encodeV5(ctx: BrokerContext, conn: Connection, delivery: Delivery, packetId: number, dup: boolean): Buffer | undefined {
  const message = delivery.message;
  const properties: Properties = { ...message.properties };
  if (delivery.subscriptionIdentifiers !== undefined) properties.subscriptionIdentifiers = delivery.subscriptionIdentifiers;
  if (message.expiresAt !== undefined) {
    // what is left of the interval, not the original [MQTT-3.3.2-6]
    properties.messageExpiryInterval = Math.max(0, Math.ceil((message.expiresAt - ctx.deps.clock.now()) / 1000));
  }
  const plain = encodePublish(plainPacket(delivery, packetId, dup, message.topic, properties), 5);
  if (!fits(conn, plain)) return undefined;
  if (!aliasesOn(ctx, conn)) return plain;
  const aliases = (conn.topicAliasesOut ??= new Map());
  const known = aliases.get(message.topic);
  if (known !== undefined) {
    // an established alias: the topic itself is left out [MQTT-3.3.2-12]
    return encodePublish(plainPacket(delivery, packetId, dup, '', { ...properties, topicAlias: known }), 5);
  }
  if (aliases.size >= Math.min(conn.clientTopicAliasMaximum, ctx.settings.maxTopicAliasOutbound)) return plain;
  const alias = aliases.size + 1;
  const withAlias = encodePublish(plainPacket(delivery, packetId, dup, message.topic, { ...properties, topicAlias: alias }), 5);
  // the alias costs 3 bytes: never let it push the packet over the client's limit
  if (!fits(conn, withAlias)) return plain;
  aliases.set(message.topic, alias);
  return withAlias;
}
