// PUBLISH encoding: the broker's hot path. One allocation per packet, sized exactly
// before anything is written; no intermediate buffers, arrays or concatenation.
//
// Fan-out without re-encoding: the bytes of a PUBLISH differ between subscribers only in
// the first byte (QoS, DUP, RETAIN) and the packet identifier, as long as the properties
// are the same (5.0 Subscription Identifiers and Topic Alias are per subscriber; encode
// separately when they are used). So the broker encodes a message once per protocol
// version, writes that very Buffer to every QoS 0 subscriber, and derives each QoS 1/2
// copy with withPublishHeader (one allocation + memcpy, no string or property encoding).
import { malformed } from './errors.js';
import { propertiesLength, writeProperties } from './properties-encode.js';
import { PacketType, type ProtocolVersion, type PublishPacket, type QoS } from './types.js';
import { varintSize } from './varint.js';
import { allocPacket, checkPacketId, finish, utf8Length, writeU16, writeUtf8 } from './writer.js';

function firstByte(qos: number, dup: boolean, retain: boolean): number {
  if (qos !== 0 && qos !== 1 && qos !== 2) throw malformed(`PUBLISH QoS must be 0, 1 or 2, got ${qos} [MQTT-3.3.1-4]`);
  if (dup && qos === 0) throw malformed('PUBLISH DUP must be 0 for QoS 0 [MQTT-3.3.1-2]');
  return (PacketType.PUBLISH << 4) | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 0x01 : 0);
}

/**
 * Encodes a PUBLISH. `packetId` is written iff qos > 0 (and required then); it is
 * ignored for QoS 0. Properties are written only for version 5.
 */
export function encodePublish(packet: PublishPacket, version: ProtocolVersion): Buffer {
  const { qos, topic, payload } = packet;
  const first = firstByte(qos, packet.dup, packet.retain);
  const topicLength = utf8Length(topic, 'PUBLISH Topic Name');
  const id = qos > 0 ? checkPacketId(packet.packetId, 'PUBLISH with QoS > 0') : 0;
  let remaining = 2 + topicLength + (qos > 0 ? 2 : 0) + payload.length;
  let propsLength = 0;
  if (version === 5) {
    propsLength = propertiesLength(packet.properties, PacketType.PUBLISH);
    remaining += varintSize(propsLength) + propsLength;
  }
  const buf = allocPacket(first, remaining);
  let pos = writeUtf8(buf, buf.length - remaining, topic, topicLength);
  if (qos > 0) pos = writeU16(buf, pos, id);
  if (version === 5) pos = writeProperties(buf, pos, packet.properties, propsLength);
  pos += payload.copy(buf, pos);
  return finish(buf, pos);
}

/** Where the Topic Name ends in an encoded PUBLISH: the packet id (if any) starts there. */
function topicEnd(encoded: Buffer): number {
  if (encoded.length < 4 || encoded[0]! >> 4 !== PacketType.PUBLISH) {
    throw malformed('not an encoded PUBLISH packet');
  }
  let i = 1;
  while ((encoded[i]! & 0x80) !== 0) i++;
  const start = i + 1; // first variable header byte
  return start + 2 + ((encoded[start]! << 8) | encoded[start + 1]!);
}

/**
 * Byte offset of the Packet Identifier in a PUBLISH produced by encodePublish, or -1
 * when it has QoS 0 (and so no identifier). Use it to patch identifiers by hand.
 */
export function publishPacketIdOffset(encoded: Buffer): number {
  const end = topicEnd(encoded);
  return (encoded[0]! & 0x06) === 0 ? -1 : end;
}

/** The per-delivery parts of a PUBLISH. */
export interface PublishHeader {
  qos: QoS;
  /** Required iff qos > 0. */
  packetId?: number;
  dup?: boolean;
  retain?: boolean;
}

/**
 * Sets QoS/DUP/RETAIN and the packet identifier in place. The QoS must stay on the same
 * side of 0 (the identifier field must already exist, or not); otherwise use
 * withPublishHeader. For buffers the caller owns exclusively, such as a withPublishHeader
 * result being marked DUP for a retransmission.
 */
export function patchPublishHeader(encoded: Buffer, header: PublishHeader): void {
  const offset = publishPacketIdOffset(encoded);
  if ((offset === -1) !== (header.qos === 0)) {
    throw malformed('patchPublishHeader cannot change QoS between 0 and 1/2; use withPublishHeader');
  }
  encoded[0] = firstByte(header.qos, header.dup ?? false, header.retain ?? false);
  if (header.qos > 0) writeU16(encoded, offset, checkPacketId(header.packetId, 'PUBLISH with QoS > 0'));
}

/**
 * A copy of an encoded PUBLISH with a new QoS/DUP/RETAIN and packet identifier: one
 * allocation and two memcpys, adding or removing the identifier field (and adjusting the
 * Remaining Length) when the QoS crosses 0. Topic, properties and payload are copied as
 * bytes, never re-encoded.
 */
export function withPublishHeader(encoded: Buffer, header: PublishHeader): Buffer {
  const first = firstByte(header.qos, header.dup ?? false, header.retain ?? false);
  const idOffset = topicEnd(encoded);
  const hadId = (encoded[0]! & 0x06) !== 0;
  const restStart = hadId ? idOffset + 2 : idOffset;
  let headerEnd = 1;
  while ((encoded[headerEnd]! & 0x80) !== 0) headerEnd++;
  headerEnd++;
  const hasId = header.qos > 0;
  const id = hasId ? checkPacketId(header.packetId, 'PUBLISH with QoS > 0') : 0;
  const remaining = idOffset - headerEnd + (hasId ? 2 : 0) + (encoded.length - restStart);
  const out = allocPacket(first, remaining);
  let pos = out.length - remaining;
  pos += encoded.copy(out, pos, headerEnd, idOffset);
  if (hasId) pos = writeU16(out, pos, id);
  pos += encoded.copy(out, pos, restStart);
  return finish(out, pos);
}
