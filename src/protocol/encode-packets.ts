// Encoding of acks, SUBSCRIBE/UNSUBSCRIBE and their acks, PING, DISCONNECT and AUTH.
// For 3.1/3.1.1 the 5.0-only fields (reason codes on acks, properties, subscription
// options) are ignored, as types.ts documents.
import { protocolError } from './errors.js';
import { FLAGS_0010, packetTypeName } from './fixed-header.js';
import { propertiesLength, writeProperties } from './properties-encode.js';
import { allowedReasonCodes } from './reason-code-sets.js';
import {
  PacketType,
  type AckPacket,
  type AuthPacket,
  type DisconnectPacket,
  type Properties,
  type ProtocolVersion,
  type SubackPacket,
  type SubscribePacket,
  type UnsubackPacket,
  type UnsubscribePacket,
} from './types.js';
import { varintSize } from './varint.js';
import { allocPacket, checkInt, checkPacketId, finish, utf8Length, writeU16, writeUtf8 } from './writer.js';

function checkReasonCode(type: number, code: number, version: ProtocolVersion): number {
  if (!allowedReasonCodes(type, version).has(code)) {
    throw protocolError(`reason code 0x${code.toString(16)} is not defined for ${packetTypeName(type)}`);
  }
  return code;
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP. */
export function encodeAck(packet: AckPacket, version: ProtocolVersion): Buffer {
  const { type } = packet;
  const first = (type << 4) | (type === PacketType.PUBREL ? FLAGS_0010 : 0);
  const id = checkPacketId(packet.packetId, packetTypeName(type));
  let remaining = 2;
  let code = 0;
  let propsLength = 0;
  if (version === 5) {
    code = checkReasonCode(type, packet.reasonCode, version);
    propsLength = propertiesLength(packet.properties, type);
    // Shortest form: Reason Code omitted when Success with no properties (3.4.2.1), and
    // Property Length omitted when there are none (3.4.2.2.1).
    if (propsLength > 0) remaining += 1 + varintSize(propsLength) + propsLength;
    else if (code !== 0) remaining += 1;
  }
  const buf = allocPacket(first, remaining);
  let pos = writeU16(buf, buf.length - remaining, id);
  if (remaining > 2) buf[pos++] = code;
  if (propsLength > 0) pos = writeProperties(buf, pos, packet.properties, propsLength);
  return finish(buf, pos);
}

function propsFor(version: ProtocolVersion, properties: Properties | undefined, type: number): number {
  return version === 5 ? propertiesLength(properties, type) : 0;
}

export function encodeSubscribe(packet: SubscribePacket, version: ProtocolVersion): Buffer {
  const id = checkPacketId(packet.packetId, 'SUBSCRIBE');
  const subs = packet.subscriptions;
  if (subs.length === 0) throw protocolError('SUBSCRIBE needs at least one topic filter [MQTT-3.8.3-3]');
  const propsLength = propsFor(version, packet.properties, PacketType.SUBSCRIBE);
  let remaining = 2 + (version === 5 ? varintSize(propsLength) + propsLength : 0);
  const lengths: number[] = new Array<number>(subs.length);
  for (let i = 0; i < subs.length; i++) {
    const sub = subs[i]!;
    checkInt(sub.qos, 2, 'SUBSCRIBE requested QoS');
    if (version === 5) checkInt(sub.retainHandling, 2, 'SUBSCRIBE Retain Handling');
    const n = utf8Length(sub.topicFilter, 'SUBSCRIBE Topic Filter');
    lengths[i] = n;
    remaining += 3 + n;
  }
  const buf = allocPacket((PacketType.SUBSCRIBE << 4) | FLAGS_0010, remaining);
  let pos = writeU16(buf, buf.length - remaining, id);
  if (version === 5) pos = writeProperties(buf, pos, packet.properties, propsLength);
  for (let i = 0; i < subs.length; i++) {
    const sub = subs[i]!;
    pos = writeUtf8(buf, pos, sub.topicFilter, lengths[i]!);
    let options = sub.qos;
    if (version === 5) {
      options |= (sub.noLocal ? 0x04 : 0) | (sub.retainAsPublished ? 0x08 : 0) | (sub.retainHandling << 4);
    }
    buf[pos++] = options;
  }
  return finish(buf, pos);
}

export function encodeUnsubscribe(packet: UnsubscribePacket, version: ProtocolVersion): Buffer {
  const id = checkPacketId(packet.packetId, 'UNSUBSCRIBE');
  const filters = packet.topicFilters;
  if (filters.length === 0) throw protocolError('UNSUBSCRIBE needs at least one topic filter [MQTT-3.10.3-2]');
  const propsLength = propsFor(version, packet.properties, PacketType.UNSUBSCRIBE);
  let remaining = 2 + (version === 5 ? varintSize(propsLength) + propsLength : 0);
  const lengths: number[] = new Array<number>(filters.length);
  for (let i = 0; i < filters.length; i++) {
    const n = utf8Length(filters[i]!, 'UNSUBSCRIBE Topic Filter');
    lengths[i] = n;
    remaining += 2 + n;
  }
  const buf = allocPacket((PacketType.UNSUBSCRIBE << 4) | FLAGS_0010, remaining);
  let pos = writeU16(buf, buf.length - remaining, id);
  if (version === 5) pos = writeProperties(buf, pos, packet.properties, propsLength);
  for (let i = 0; i < filters.length; i++) pos = writeUtf8(buf, pos, filters[i]!, lengths[i]!);
  return finish(buf, pos);
}

/** SUBACK always, UNSUBACK in 5.0: packet id, properties, one code per filter. */
function encodeCodeList(
  type: number,
  packetId: number,
  codes: number[],
  properties: Properties | undefined,
  version: ProtocolVersion,
): Buffer {
  const id = checkPacketId(packetId, packetTypeName(type));
  if (codes.length === 0) throw protocolError(`${packetTypeName(type)} needs one code per topic filter`);
  for (const code of codes) checkReasonCode(type, code, version);
  const propsLength = propsFor(version, properties, type);
  const remaining = 2 + (version === 5 ? varintSize(propsLength) + propsLength : 0) + codes.length;
  const buf = allocPacket(type << 4, remaining);
  let pos = writeU16(buf, buf.length - remaining, id);
  if (version === 5) pos = writeProperties(buf, pos, properties, propsLength);
  for (const code of codes) buf[pos++] = code;
  return finish(buf, pos);
}

export function encodeSuback(packet: SubackPacket, version: ProtocolVersion): Buffer {
  return encodeCodeList(PacketType.SUBACK, packet.packetId, packet.reasonCodes, packet.properties, version);
}

export function encodeUnsuback(packet: UnsubackPacket, version: ProtocolVersion): Buffer {
  if (version === 5) {
    return encodeCodeList(PacketType.UNSUBACK, packet.packetId, packet.reasonCodes, packet.properties, version);
  }
  // 3.1/3.1.1 UNSUBACK carries only the packet identifier (3.1.1 section 3.11.3).
  const buf = allocPacket(PacketType.UNSUBACK << 4, 2);
  return finish(buf, writeU16(buf, 2, checkPacketId(packet.packetId, 'UNSUBACK')));
}

/** DISCONNECT (all versions) and AUTH (5.0 only). */
export function encodeReasonOnly(packet: DisconnectPacket | AuthPacket, version: ProtocolVersion): Buffer {
  const { type } = packet;
  if (version !== 5) {
    if (type === PacketType.AUTH) throw protocolError('AUTH exists only in MQTT 5.0');
    return finish(allocPacket(type << 4, 0), 2);
  }
  const code = checkReasonCode(type, packet.reasonCode, version);
  const propsLength = propertiesLength(packet.properties, type);
  let remaining = 0;
  // Both may be empty for Success/Normal with no properties (3.14.2.1, 3.15.2.1). A
  // DISCONNECT may also stop after the Reason Code (3.14.2.2.1); AUTH always gets a
  // Property Length then, since 3.15 does not spell out that form.
  if (propsLength > 0 || (code !== 0 && type === PacketType.AUTH)) remaining = 1 + varintSize(propsLength) + propsLength;
  else if (code !== 0) remaining = 1;
  const buf = allocPacket(type << 4, remaining);
  let pos = buf.length - remaining;
  if (remaining > 0) buf[pos++] = code;
  if (remaining > 1) pos = writeProperties(buf, pos, packet.properties, propsLength);
  return finish(buf, pos);
}

export function encodePing(type: 12 | 13): Buffer {
  return finish(allocPacket(type << 4, 0), 2);
}
