// CONNECT and CONNACK bodies (spec 3.1, 3.2; 3.1.1 sections 3.1, 3.2).
import { malformed, MqttProtocolError, protocolError } from './errors.js';
import { decodeProperties } from './properties-decode.js';
import { WILL_CONTEXT } from './property-table.js';
import { allowedReasonCodes } from './reason-code-sets.js';
import type { Reader } from './reader.js';
import { PacketType, type ConnackPacket, type ConnectPacket, type ProtocolVersion, type QoS, type WillMessage } from './types.js';

/** The protocol name each supported level must come with. */
export function protocolNameFor(version: ProtocolVersion): string {
  return version === 3 ? 'MQIsdp' : 'MQTT';
}

function versionFor(name: string, level: number): ProtocolVersion | undefined {
  if (level === 3) return name === 'MQIsdp' ? 3 : undefined;
  if (level === 4 || level === 5) return name === 'MQTT' ? level : undefined;
  return undefined;
}

/**
 * Decodes a CONNECT body. The packet names its own protocol level, so no version is
 * passed in. Every error after the level byte carries it as `protocolLevel`, so the
 * broker can answer in the CONNACK format the client speaks.
 */
export function decodeConnect(r: Reader): ConnectPacket {
  const protocolName = r.utf8();
  const level = r.u8();
  const version = versionFor(protocolName, level);
  if (version === undefined) {
    // 3.1.1 [MQTT-3.1.2-2] / 5.0 3.1.2.2: answer CONNACK 0x01 / 0x84, then close.
    throw new MqttProtocolError(
      'UNSUPPORTED_PROTOCOL_VERSION',
      `unsupported protocol name/level "${protocolName}"/${level} (supported: MQIsdp/3, MQTT/4, MQTT/5)`,
      level,
    );
  }
  try {
    return decodeConnectBody(r, protocolName, version);
  } catch (err) {
    if (err instanceof MqttProtocolError && err.protocolLevel === undefined) {
      throw new MqttProtocolError(err.code, err.message, level);
    }
    throw err;
  }
}

function decodeConnectBody(r: Reader, protocolName: string, version: ProtocolVersion): ConnectPacket {
  const flags = r.u8();
  if ((flags & 0x01) !== 0) throw malformed('CONNECT reserved flag bit 0 is set [MQTT-3.1.2-3]');
  const willFlag = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  const passwordFlag = (flags & 0x40) !== 0;
  const usernameFlag = (flags & 0x80) !== 0;
  if (!willFlag) {
    if (willQos !== 0) throw malformed('CONNECT Will QoS set without Will Flag [MQTT-3.1.2-11/13]');
    if (willRetain) throw malformed('CONNECT Will Retain set without Will Flag [MQTT-3.1.2-11/15]');
  } else if (willQos === 3) {
    throw malformed('CONNECT Will QoS 3 [MQTT-3.1.2-14]');
  }
  if (version !== 5 && passwordFlag && !usernameFlag) {
    throw malformed('CONNECT Password Flag set without User Name Flag [MQTT-3.1.2-22]');
  }
  const keepAlive = r.u16();
  const properties = version === 5 ? decodeProperties(r, PacketType.CONNECT) : undefined;
  if (properties?.authenticationData !== undefined && properties.authenticationMethod === undefined) {
    throw protocolError('CONNECT Authentication Data without Authentication Method (3.1.2.11.10)');
  }
  const clientId = r.utf8();
  let will: WillMessage | undefined;
  if (willFlag) {
    const willProperties = version === 5 ? decodeProperties(r, WILL_CONTEXT) : undefined;
    const topic = r.utf8();
    const payload = r.binary();
    will = { topic, payload, qos: willQos as QoS, retain: willRetain };
    if (willProperties !== undefined) will.properties = willProperties;
  }
  const username = usernameFlag ? r.utf8() : undefined;
  const password = passwordFlag ? r.binary() : undefined;
  r.expectEnd('CONNECT');

  const packet: ConnectPacket = {
    type: PacketType.CONNECT,
    protocolName,
    protocolVersion: version,
    cleanStart: (flags & 0x02) !== 0,
    keepAlive,
    clientId,
  };
  if (will !== undefined) packet.will = will;
  if (username !== undefined) packet.username = username;
  if (password !== undefined) packet.password = password;
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function decodeConnack(r: Reader, version: ProtocolVersion): ConnackPacket {
  const flags = r.u8();
  const reasonCode = r.u8();
  // MQTT 3.1 has no Session Present flag: the byte is "reserved, not used" there.
  if (version !== 3 && (flags & 0xfe) !== 0) {
    throw malformed('CONNACK acknowledge flags bits 7-1 must be 0 [MQTT-3.2.2-1]');
  }
  const sessionPresent = version !== 3 && (flags & 0x01) !== 0;
  if (!allowedReasonCodes(PacketType.CONNACK, version).has(reasonCode)) {
    throw protocolError(`CONNACK ${version === 5 ? 'reason' : 'return'} code 0x${reasonCode.toString(16)} is not defined`);
  }
  if (sessionPresent && reasonCode !== 0) {
    throw protocolError('CONNACK with a non-zero code must have Session Present 0 [MQTT-3.2.2-4] [MQTT-3.2.2-6]');
  }
  const properties = version === 5 ? decodeProperties(r, PacketType.CONNACK) : undefined;
  r.expectEnd('CONNACK');
  const packet: ConnackPacket = { type: PacketType.CONNACK, sessionPresent, reasonCode };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}
