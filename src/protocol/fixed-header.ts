// Fixed header rules (spec 2.1 / 3.1.1 section 2.2): packet type and flag bits.
import { malformed } from './errors.js';
import { PacketType, type ProtocolVersion } from './types.js';

/** Flag bits of PUBREL, SUBSCRIBE and UNSUBSCRIBE (table 2.2): reserved as 0b0010. */
export const FLAGS_0010 = 0b0010;

const NAMES = [
  'reserved type 0', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP',
  'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH',
];

export function packetTypeName(type: number): string {
  return NAMES[type] ?? `type ${type}`;
}

/**
 * Validates the first byte of a packet for `version` and returns the packet type.
 * Called by the parser as soon as that byte arrives, before any body is buffered.
 */
export function checkFirstByte(first: number, version: ProtocolVersion): number {
  const type = first >> 4;
  const flags = first & 0x0f;
  if (type === 0) throw malformed('packet type 0 is reserved');
  if (type === PacketType.AUTH && version !== 5) {
    throw malformed('packet type 15 (AUTH) is reserved before MQTT 5.0');
  }
  if (type === PacketType.PUBLISH) {
    const qos = (flags >> 1) & 3;
    if (qos === 3) throw malformed('PUBLISH with QoS 3 [MQTT-3.3.1-4]');
    if (qos === 0 && (flags & 0x08) !== 0) throw malformed('PUBLISH with DUP set on QoS 0 [MQTT-3.3.1-2]');
    return type;
  }
  if (type === PacketType.PUBREL || type === PacketType.SUBSCRIBE || type === PacketType.UNSUBSCRIBE) {
    // MQTT 3.1 marked retransmitted PUBREL/SUBSCRIBE/UNSUBSCRIBE with DUP (3.1 spec, "DUP"),
    // so a 3.1 client may legally send 0b1010 here; 3.1.1 and 5.0 fixed the flags at 0b0010.
    if (flags === FLAGS_0010 || (version === 3 && flags === (FLAGS_0010 | 0x08))) return type;
    throw malformed(`${NAMES[type]} flags must be 0b0010, got 0b${flags.toString(2).padStart(4, '0')} [MQTT-2.2.2-1/2]`);
  }
  if (flags !== 0) {
    throw malformed(`${NAMES[type]} flags must be 0, got 0b${flags.toString(2).padStart(4, '0')} [MQTT-2.2.2-1/2]`);
  }
  return type;
}
