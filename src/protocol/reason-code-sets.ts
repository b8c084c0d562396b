// Which reason codes each packet may carry (MQTT 5.0 section 2.4 and each packet's
// reason code table; 3.1.1 sections 3.2.2.3 and 3.9.3). The decoder rejects others with
// PROTOCOL_ERROR, and the encoder refuses to write them, so a core bug cannot put a
// code on the wire that the peer must treat as an error.
import { PacketType, type ProtocolVersion } from './types.js';

const set = (...codes: number[]): ReadonlySet<number> => new Set(codes);

const CONNACK_V5 = set(
  0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97,
  0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f,
);
const PUBACK_PUBREC_V5 = set(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99);
const PUBREL_PUBCOMP_V5 = set(0x00, 0x92);
const SUBACK_V5 = set(0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2);
const UNSUBACK_V5 = set(0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91);
const DISCONNECT_V5 = set(
  0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95,
  0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
);
const AUTH_V5 = set(0x00, 0x18, 0x19);
/** 3.1/3.1.1 CONNACK return codes 0..5; 6..255 are reserved (3.1.1 table 3.1). */
const CONNACK_V4 = set(0, 1, 2, 3, 4, 5);
/** 3.1.1 SUBACK: granted QoS or 0x80 failure [MQTT-3.9.3-2]. */
const SUBACK_V4 = set(0x00, 0x01, 0x02, 0x80);
/** MQTT 3.1 SUBACK carries granted QoS only; 3.1 has no failure code. */
const SUBACK_V3 = set(0x00, 0x01, 0x02);
const ZERO = set(0);

/**
 * Reason codes allowed in `type` for `version` (for SUBACK/UNSUBACK: each list entry).
 * Packets whose older versions have no reason code get {0}, which the encoder ignores.
 */
export function allowedReasonCodes(type: number, version: ProtocolVersion): ReadonlySet<number> {
  if (version === 5) {
    switch (type) {
      case PacketType.CONNACK: return CONNACK_V5;
      case PacketType.PUBACK:
      case PacketType.PUBREC: return PUBACK_PUBREC_V5;
      case PacketType.PUBREL:
      case PacketType.PUBCOMP: return PUBREL_PUBCOMP_V5;
      case PacketType.SUBACK: return SUBACK_V5;
      case PacketType.UNSUBACK: return UNSUBACK_V5;
      case PacketType.DISCONNECT: return DISCONNECT_V5;
      case PacketType.AUTH: return AUTH_V5;
      default: return ZERO;
    }
  }
  if (type === PacketType.CONNACK) return CONNACK_V4;
  if (type === PacketType.SUBACK) return version === 3 ? SUBACK_V3 : SUBACK_V4;
  return ZERO;
}
