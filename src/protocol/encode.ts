// encodePacket: one entry point for every packet type and protocol version.
import { malformed, MqttProtocolError } from './errors.js';
import { encodeConnack, encodeConnect } from './encode-connect.js';
import {
  encodeAck,
  encodePing,
  encodeReasonOnly,
  encodeSuback,
  encodeSubscribe,
  encodeUnsuback,
  encodeUnsubscribe,
} from './encode-packets.js';
import { encodePublish } from './encode-publish.js';
import { PacketType, type Packet, type ProtocolVersion } from './types.js';

/**
 * Encodes `packet` for `version` (3 = MQTT 3.1, 4 = 3.1.1, 5 = 5.0) into one Buffer.
 * 5.0-only fields are ignored for 3.1/3.1.1. Throws MqttProtocolError for input that
 * cannot be put on the wire: out-of-range integers, strings over 65,535 bytes or with
 * U+0000 / lone surrogates, QoS > 0 without a packet identifier, reason codes or
 * properties the packet type does not allow, AUTH before 5.0, a packet over 256 MB.
 */
export function encodePacket(packet: Packet, version: ProtocolVersion): Buffer {
  if (version !== 3 && version !== 4 && version !== 5) {
    throw new MqttProtocolError('UNSUPPORTED_PROTOCOL_VERSION', `unknown protocol version ${String(version)}`);
  }
  switch (packet.type) {
    case PacketType.PUBLISH:
      return encodePublish(packet, version);
    case PacketType.PUBACK:
    case PacketType.PUBREC:
    case PacketType.PUBREL:
    case PacketType.PUBCOMP:
      return encodeAck(packet, version);
    case PacketType.CONNECT:
      return encodeConnect(packet, version);
    case PacketType.CONNACK:
      return encodeConnack(packet, version);
    case PacketType.SUBSCRIBE:
      return encodeSubscribe(packet, version);
    case PacketType.SUBACK:
      return encodeSuback(packet, version);
    case PacketType.UNSUBSCRIBE:
      return encodeUnsubscribe(packet, version);
    case PacketType.UNSUBACK:
      return encodeUnsuback(packet, version);
    case PacketType.PINGREQ:
    case PacketType.PINGRESP:
      return encodePing(packet.type);
    case PacketType.DISCONNECT:
    case PacketType.AUTH:
      return encodeReasonOnly(packet, version);
    default:
      throw malformed(`unknown packet type ${String((packet as { type: unknown }).type)}`);
  }
}
