// Bodies of every packet except CONNECT/CONNACK. Each decoder gets a Reader bounded to
// the packet's Remaining Length and must consume it exactly.
import { malformed, protocolError } from './errors.js';
import { packetTypeName } from './fixed-header.js';
import { decodeProperties } from './properties-decode.js';
import { allowedReasonCodes } from './reason-code-sets.js';
import type { Reader } from './reader.js';
import {
  PacketType,
  type AckPacket,
  type AuthPacket,
  type DisconnectPacket,
  type ProtocolVersion,
  type PublishPacket,
  type QoS,
  type SubackPacket,
  type SubscribePacket,
  type Subscription,
  type UnsubackPacket,
  type UnsubscribePacket,
} from './types.js';

function packetId(r: Reader, type: number): number {
  const id = r.u16();
  if (id === 0) throw protocolError(`${packetTypeName(type)} with packet identifier 0 [MQTT-2.3.1-1]`);
  return id;
}

function reasonCode(r: Reader, type: number, version: ProtocolVersion): number {
  const code = r.u8();
  if (!allowedReasonCodes(type, version).has(code)) {
    throw protocolError(`${packetTypeName(type)} reason code 0x${code.toString(16)} is not defined for it`);
  }
  return code;
}

/** The hot path: no allocation beyond the packet object, topic string and payload view. */
export function decodePublish(r: Reader, first: number, version: ProtocolVersion): PublishPacket {
  const qos = ((first >> 1) & 3) as QoS;
  const topic = r.utf8();
  const id = qos > 0 ? packetId(r, PacketType.PUBLISH) : 0;
  const properties = version === 5 ? decodeProperties(r, PacketType.PUBLISH) : undefined;
  const packet: PublishPacket = {
    type: PacketType.PUBLISH,
    topic,
    payload: r.rest(),
    qos,
    retain: (first & 0x01) !== 0,
    dup: (first & 0x08) !== 0,
  };
  if (qos > 0) packet.packetId = id;
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP (3.4-3.7). */
export function decodeAck(r: Reader, type: AckPacket['type'], version: ProtocolVersion): AckPacket {
  const id = packetId(r, type);
  let code = 0;
  let properties;
  // 5.0: Reason Code and Property Length may be omitted (3.4.2.1, 3.4.2.2.1): length 2
  // means Success, length 3 means no properties.
  if (version === 5 && r.remaining() > 0) {
    code = reasonCode(r, type, version);
    if (r.remaining() > 0) properties = decodeProperties(r, type);
  }
  r.expectEnd(packetTypeName(type));
  const packet: AckPacket = { type, packetId: id, reasonCode: code };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function subscription(r: Reader, version: ProtocolVersion): Subscription {
  const topicFilter = r.utf8();
  const options = r.u8();
  const qos = options & 0x03;
  if (version !== 5) {
    if ((options & 0xfc) !== 0 || qos === 3) {
      throw malformed('SUBSCRIBE requested QoS 3 or reserved bits set [MQTT-3-8.3-4]');
    }
    return { topicFilter, qos: qos as QoS, noLocal: false, retainAsPublished: false, retainHandling: 0 };
  }
  if ((options & 0xc0) !== 0) throw malformed('SUBSCRIBE option reserved bits 6-7 set [MQTT-3.8.3-5]');
  if (qos === 3) throw protocolError('SUBSCRIBE Maximum QoS 3 is a Protocol Error (3.8.3.1)');
  const retainHandling = (options >> 4) & 0x03;
  if (retainHandling === 3) throw protocolError('SUBSCRIBE Retain Handling 3 is a Protocol Error (3.8.3.1)');
  return {
    topicFilter,
    qos: qos as QoS,
    noLocal: (options & 0x04) !== 0,
    retainAsPublished: (options & 0x08) !== 0,
    retainHandling: retainHandling as 0 | 1 | 2,
  };
}

export function decodeSubscribe(r: Reader, version: ProtocolVersion): SubscribePacket {
  const id = packetId(r, PacketType.SUBSCRIBE);
  const properties = version === 5 ? decodeProperties(r, PacketType.SUBSCRIBE) : undefined;
  const subscriptions: Subscription[] = [];
  while (r.remaining() > 0) subscriptions.push(subscription(r, version));
  if (subscriptions.length === 0) throw protocolError('SUBSCRIBE without topic filters [MQTT-3.8.3-3]');
  const packet: SubscribePacket = { type: PacketType.SUBSCRIBE, packetId: id, subscriptions };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function decodeSuback(r: Reader, version: ProtocolVersion): SubackPacket {
  const id = packetId(r, PacketType.SUBACK);
  const properties = version === 5 ? decodeProperties(r, PacketType.SUBACK) : undefined;
  const reasonCodes: number[] = [];
  while (r.remaining() > 0) reasonCodes.push(reasonCode(r, PacketType.SUBACK, version));
  // One code per requested filter [MQTT-3.9.3-1], and a SUBSCRIBE has at least one.
  if (reasonCodes.length === 0) throw protocolError('SUBACK without return codes [MQTT-3.9.3-1]');
  const packet: SubackPacket = { type: PacketType.SUBACK, packetId: id, reasonCodes };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function decodeUnsubscribe(r: Reader, version: ProtocolVersion): UnsubscribePacket {
  const id = packetId(r, PacketType.UNSUBSCRIBE);
  const properties = version === 5 ? decodeProperties(r, PacketType.UNSUBSCRIBE) : undefined;
  const topicFilters: string[] = [];
  while (r.remaining() > 0) topicFilters.push(r.utf8());
  if (topicFilters.length === 0) throw protocolError('UNSUBSCRIBE without topic filters [MQTT-3.10.3-2]');
  const packet: UnsubscribePacket = { type: PacketType.UNSUBSCRIBE, packetId: id, topicFilters };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function decodeUnsuback(r: Reader, version: ProtocolVersion): UnsubackPacket {
  const id = packetId(r, PacketType.UNSUBACK);
  const reasonCodes: number[] = [];
  let properties;
  // 3.1/3.1.1 UNSUBACK is just the packet identifier (3.1.1 section 3.11.3: no payload).
  if (version === 5) {
    properties = decodeProperties(r, PacketType.UNSUBACK);
    while (r.remaining() > 0) reasonCodes.push(reasonCode(r, PacketType.UNSUBACK, version));
    if (reasonCodes.length === 0) throw protocolError('UNSUBACK without reason codes [MQTT-3.11.3-1]');
  }
  r.expectEnd('UNSUBACK');
  const packet: UnsubackPacket = { type: PacketType.UNSUBACK, packetId: id, reasonCodes };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

/** DISCONNECT and AUTH: both may drop Reason Code and Property Length (3.14.2.1, 3.15.2.1). */
export function decodeReasonOnly(
  r: Reader,
  type: (DisconnectPacket | AuthPacket)['type'],
  version: ProtocolVersion,
): DisconnectPacket | AuthPacket {
  let code = 0;
  let properties;
  if (version === 5 && r.remaining() > 0) {
    code = reasonCode(r, type, version);
    if (r.remaining() > 0) properties = decodeProperties(r, type);
  }
  r.expectEnd(packetTypeName(type));
  const packet: DisconnectPacket | AuthPacket = { type, reasonCode: code };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}
