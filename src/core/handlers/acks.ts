// PUBACK, PUBREC, PUBREL, PUBCOMP: the QoS 1 and QoS 2 flows [MQTT-4.3.2, MQTT-4.3.3].
import { ReasonCode } from '../../protocol/reason-codes.js';
import { PacketType, type AckPacket, type Packet } from '../../protocol/types.js';
import type { BrokerContext } from '../context.js';
import type { Connection } from '../connection.js';
import { drainQueue } from '../delivery.js';
import { releaseIncomingQos2 } from '../session-state.js';

/** PUBACK ends an outgoing QoS 1 delivery; PUBCOMP an outgoing QoS 2 one. */
export function handlePubackOrPubcomp(ctx: BrokerContext, conn: Connection, packet: Packet): void {
  const ack = packet as AckPacket;
  const client = conn.client;
  if (client === undefined) return;
  const entry = client.state.inflight.get(ack.packetId);
  const expected = ack.type === PacketType.PUBACK ? 1 : 2;
  // an ack for an id we do not hold (or for the other QoS) is ignored, as mosquitto does
  if (entry === undefined || entry.delivery.qos !== expected) return;
  if (expected === 2 && entry.stage !== 'pubrel') return;
  client.state.inflight.delete(ack.packetId);
  if (client.state.durable) ctx.durability.finished(client.state, entry.delivery);
  drainQueue(ctx, client);
}

/** PUBREC: the client has the QoS 2 message; answer PUBREL [MQTT-4.3.3-1]. */
export function handlePubrec(ctx: BrokerContext, conn: Connection, packet: Packet): void {
  const ack = packet as AckPacket;
  const client = conn.client;
  if (client === undefined) return;
  const entry = client.state.inflight.get(ack.packetId);
  if (entry !== undefined && entry.delivery.qos === 2) {
    if (ack.reasonCode >= 0x80) {
      // v5: the client refused the message; the flow ends here (MQTT 5.0 section 4.3.3)
      client.state.inflight.delete(ack.packetId);
      if (client.state.durable) ctx.durability.finished(client.state, entry.delivery);
      drainQueue(ctx, client);
      return;
    }
    entry.stage = 'pubrel';
    if (client.state.durable) ctx.durability.released(client.state, entry);
    conn.send({ type: PacketType.PUBREL, packetId: ack.packetId, reasonCode: 0 });
    return;
  }
  const notFound = conn.protocolVersion === 5 ? ReasonCode.PACKET_IDENTIFIER_NOT_FOUND : 0;
  conn.send({ type: PacketType.PUBREL, packetId: ack.packetId, reasonCode: notFound });
}

/** PUBREL: release an incoming QoS 2 packet id and answer PUBCOMP (section 4.3.3, method B). */
export function handlePubrel(ctx: BrokerContext, conn: Connection, packet: Packet): void {
  const ack = packet as AckPacket;
  const client = conn.client;
  if (client === undefined) return;
  const known = releaseIncomingQos2(client.state, ack.packetId);
  if (known && client.state.durable) ctx.durability.incomingReleased(client.state, ack.packetId);
  const code = known || conn.protocolVersion !== 5 ? ReasonCode.SUCCESS : ReasonCode.PACKET_IDENTIFIER_NOT_FOUND;
  conn.send({ type: PacketType.PUBCOMP, packetId: ack.packetId, reasonCode: code });
}
