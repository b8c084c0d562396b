// CONNECT and CONNACK encoding (spec 3.1, 3.2; 3.1.1 sections 3.1, 3.2).
import { malformed, MqttProtocolError, protocolError } from './errors.js';
import { protocolNameFor } from './decode-connect.js';
import { propertiesLength, writeProperties } from './properties-encode.js';
import { WILL_CONTEXT } from './property-table.js';
import { allowedReasonCodes } from './reason-code-sets.js';
import { PacketType, type ConnackPacket, type ConnectPacket, type ProtocolVersion } from './types.js';
import { varintSize } from './varint.js';
import {
  allocPacket,
  binaryLength,
  checkInt,
  finish,
  utf8Length,
  writeBinary,
  writeU16,
  writeUtf8,
} from './writer.js';

export function encodeConnect(packet: ConnectPacket, version: ProtocolVersion): Buffer {
  const name = protocolNameFor(version);
  if (packet.protocolVersion !== version || packet.protocolName !== name) {
    // The level decides the layout, so it must agree with the version we encode for.
    throw new MqttProtocolError(
      'UNSUPPORTED_PROTOCOL_VERSION',
      `CONNECT "${packet.protocolName}"/${packet.protocolVersion} cannot be encoded as ${name}/${version}`,
      packet.protocolVersion,
    );
  }
  const { will, username, password } = packet;
  if (version !== 5 && password !== undefined && username === undefined) {
    throw malformed('CONNECT password without user name [MQTT-3.1.2-22]');
  }
  checkInt(packet.keepAlive, 0xffff, 'CONNECT Keep Alive');
  const clientIdLength = utf8Length(packet.clientId, 'CONNECT Client Identifier');
  // Protocol Name (2 + name), Protocol Level, Connect Flags, Keep Alive.
  let remaining = 2 + name.length + 1 + 1 + 2 + 2 + clientIdLength;
  let propsLength = 0;
  if (version === 5) {
    if (packet.properties?.authenticationData !== undefined && packet.properties.authenticationMethod === undefined) {
      throw protocolError('CONNECT Authentication Data without Authentication Method (3.1.2.11.10)');
    }
    propsLength = propertiesLength(packet.properties, PacketType.CONNECT);
    remaining += varintSize(propsLength) + propsLength;
  }
  let flags = packet.cleanStart ? 0x02 : 0;
  let willTopicLength = 0;
  let willPropsLength = 0;
  if (will !== undefined) {
    checkInt(will.qos, 2, 'CONNECT Will QoS');
    willTopicLength = utf8Length(will.topic, 'CONNECT Will Topic');
    remaining += 2 + willTopicLength + 2 + binaryLength(will.payload, 'CONNECT Will Payload');
    if (version === 5) {
      willPropsLength = propertiesLength(will.properties, WILL_CONTEXT);
      remaining += varintSize(willPropsLength) + willPropsLength;
    }
    flags |= 0x04 | (will.qos << 3) | (will.retain ? 0x20 : 0);
  }
  let usernameLength = 0;
  if (username !== undefined) {
    usernameLength = utf8Length(username, 'CONNECT User Name');
    remaining += 2 + usernameLength;
    flags |= 0x80;
  }
  if (password !== undefined) {
    remaining += 2 + binaryLength(password, 'CONNECT Password');
    flags |= 0x40;
  }

  const buf = allocPacket(PacketType.CONNECT << 4, remaining);
  let pos = writeUtf8(buf, buf.length - remaining, name, name.length);
  buf[pos++] = version;
  buf[pos++] = flags;
  pos = writeU16(buf, pos, packet.keepAlive);
  if (version === 5) pos = writeProperties(buf, pos, packet.properties, propsLength);
  pos = writeUtf8(buf, pos, packet.clientId, clientIdLength);
  if (will !== undefined) {
    if (version === 5) pos = writeProperties(buf, pos, will.properties, willPropsLength);
    pos = writeUtf8(buf, pos, will.topic, willTopicLength);
    pos = writeBinary(buf, pos, will.payload);
  }
  if (username !== undefined) pos = writeUtf8(buf, pos, username, usernameLength);
  if (password !== undefined) pos = writeBinary(buf, pos, password);
  return finish(buf, pos);
}

/**
 * For 3.1/3.1.1 `reasonCode` is the return code (0..5). MQTT 3.1 has no Session Present
 * flag, so that byte is always written as 0 there.
 */
export function encodeConnack(packet: ConnackPacket, version: ProtocolVersion): Buffer {
  const { reasonCode, sessionPresent } = packet;
  if (!allowedReasonCodes(PacketType.CONNACK, version).has(reasonCode)) {
    throw protocolError(`CONNACK code 0x${reasonCode.toString(16)} is not defined for MQTT level ${version}`);
  }
  if (sessionPresent && reasonCode !== 0) {
    throw protocolError('CONNACK with a non-zero code must have Session Present 0 [MQTT-3.2.2-4] [MQTT-3.2.2-6]');
  }
  let remaining = 2;
  let propsLength = 0;
  if (version === 5) {
    propsLength = propertiesLength(packet.properties, PacketType.CONNACK);
    remaining += varintSize(propsLength) + propsLength;
  }
  const buf = allocPacket(PacketType.CONNACK << 4, remaining);
  let pos = buf.length - remaining;
  buf[pos++] = sessionPresent && version !== 3 ? 1 : 0;
  buf[pos++] = reasonCode;
  if (version === 5) pos = writeProperties(buf, pos, packet.properties, propsLength);
  return finish(buf, pos);
}
