// Packet body dispatch, and decodePacket for exactly one whole packet.
import { malformed } from './errors.js';
import { decodeConnack, decodeConnect } from './decode-connect.js';
import {
  decodeAck,
  decodePublish,
  decodeReasonOnly,
  decodeSuback,
  decodeSubscribe,
  decodeUnsuback,
  decodeUnsubscribe,
} from './decode-packets.js';
import { checkFirstByte, packetTypeName } from './fixed-header.js';
import { Reader } from './reader.js';
import { PacketType, type Packet, type ProtocolVersion } from './types.js';

/**
 * Decodes the body in `r` (bounded to the Remaining Length) of a packet whose first
 * byte `first` already passed checkFirstByte for `version`.
 */
export function decodeBody(r: Reader, first: number, version: ProtocolVersion): Packet {
  const type = first >> 4;
  switch (type) {
    case PacketType.PUBLISH:
      return decodePublish(r, first, version);
    case PacketType.PUBACK:
    case PacketType.PUBREC:
    case PacketType.PUBREL:
    case PacketType.PUBCOMP:
      return decodeAck(r, type, version);
    case PacketType.CONNECT:
      return decodeConnect(r);
    case PacketType.CONNACK:
      return decodeConnack(r, version);
    case PacketType.SUBSCRIBE:
      return decodeSubscribe(r, version);
    case PacketType.SUBACK:
      return decodeSuback(r, version);
    case PacketType.UNSUBSCRIBE:
      return decodeUnsubscribe(r, version);
    case PacketType.UNSUBACK:
      return decodeUnsuback(r, version);
    case PacketType.PINGREQ:
    case PacketType.PINGRESP:
      r.expectEnd(packetTypeName(type));
      return { type };
    case PacketType.DISCONNECT:
    case PacketType.AUTH:
      return decodeReasonOnly(r, type, version);
    default:
      // checkFirstByte rejects type 0 (and 15 before 5.0) before we get here.
      throw malformed(`packet type ${type} is reserved`);
  }
}

/**
 * Decodes `bytes`, which must hold exactly one whole packet (fixed header included), as
 * `version`. A CONNECT is decoded by the level it names. Throws MqttProtocolError on
 * malformed input, including missing or extra bytes. Binary fields and the payload are
 * views into `bytes`.
 */
export function decodePacket(bytes: Buffer, version: ProtocolVersion): Packet {
  const r = new Reader(bytes, 0, bytes.length);
  const first = r.u8();
  checkFirstByte(first, version);
  const remaining = r.varint();
  if (r.remaining() < remaining) throw malformed(`packet truncated: ${r.remaining()} of ${remaining} bytes`);
  if (r.remaining() > remaining) throw malformed(`${r.remaining() - remaining} byte(s) after the packet`);
  return decodeBody(r, first, version);
}
