// Converts between our packet shapes and mqtt-packet v9's objects (its README "Packets"
// section), for the cross-check in mqtt-packet.test.ts. Not a test file itself.
import mqttPacket from 'mqtt-packet';
import { normalizeProperties } from './arbitraries.test-support.js';
import {
  PacketType,
  type AckPacket,
  type ConnectPacket,
  type Packet,
  type Properties,
  type ProtocolVersion,
  type PublishPacket,
  type QoS,
  type UserProperty,
  type WillMessage,
} from './types.js';

/** mqtt-packet's objects, loosely: its bundled typings omit several fields it uses. */
export type MpObject = Record<string, unknown>;

const CMD: Record<number, string> = {
  1: 'connect', 2: 'connack', 3: 'publish', 4: 'puback', 5: 'pubrec', 6: 'pubrel', 7: 'pubcomp',
  8: 'subscribe', 9: 'suback', 10: 'unsubscribe', 11: 'unsuback', 12: 'pingreq', 13: 'pingresp',
  14: 'disconnect', 15: 'auth',
};
const TYPE: Record<string, number> = Object.fromEntries(Object.entries(CMD).map(([t, c]) => [c, Number(t)]));

/** Byte properties mqtt-packet models as booleans (its 'byte' property type). */
const BOOLEAN_PROPS = new Set([
  'payloadFormatIndicator', 'requestProblemInformation', 'requestResponseInformation', 'retainAvailable',
  'wildcardSubscriptionAvailable', 'subscriptionIdentifierAvailable', 'sharedSubscriptionAvailable',
]);

export function propertiesToMp(p: Properties | undefined): MpObject | undefined {
  const n = normalizeProperties(p);
  if (n === undefined) return undefined;
  const out: MpObject = {};
  for (const [key, value] of Object.entries(n) as [string, unknown][]) {
    if (key === 'userProperties') {
      const obj: Record<string, string> = Object.create(null) as Record<string, string>;
      for (const [k, v] of value as UserProperty[]) obj[k] = v;
      out.userProperties = obj;
    } else if (key === 'subscriptionIdentifiers') {
      const ids = value as number[];
      out.subscriptionIdentifier = ids.length === 1 ? ids[0] : ids;
    } else if (key === 'subscriptionIdentifierAvailable') {
      out.subscriptionIdentifiersAvailable = value === 1; // mqtt-packet's name has an "s"
    } else if (BOOLEAN_PROPS.has(key)) {
      out[key] = value === 1;
    } else {
      out[key] = value;
    }
  }
  return out;
}

export function propertiesFromMp(o: unknown): Properties | undefined {
  if (o === undefined || o === null) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(o as MpObject)) {
    if (key === 'userProperties') {
      // Repeated keys come back as arrays; with the unique keys the arbitraries produce
      // for the cross-check, this restores the original order.
      const pairs: UserProperty[] = [];
      for (const [k, v] of Object.entries(value as Record<string, string | string[]>)) {
        for (const item of Array.isArray(v) ? v : [v]) pairs.push([k, item]);
      }
      out.userProperties = pairs;
    } else if (key === 'subscriptionIdentifier') {
      out.subscriptionIdentifiers = Array.isArray(value) ? value : [value];
    } else if (key === 'subscriptionIdentifiersAvailable') {
      out.subscriptionIdentifierAvailable = value === true ? 1 : 0;
    } else if (BOOLEAN_PROPS.has(key)) {
      out[key] = value === true ? 1 : 0;
    } else {
      out[key] = value;
    }
  }
  return normalizeProperties(out as Properties);
}

function withMpProps(target: MpObject, p: Properties | undefined, version: ProtocolVersion): MpObject {
  const props = version === 5 ? propertiesToMp(p) : undefined;
  if (props !== undefined) target.properties = props;
  return target;
}

/** Our packet as an object for mqttPacket.generate(obj, { protocolVersion }). */
export function toMp(packet: Packet, version: ProtocolVersion): MpObject {
  const cmd = CMD[packet.type]!;
  switch (packet.type) {
    case PacketType.CONNECT: {
      const out: MpObject = {
        cmd, protocolId: packet.protocolName, protocolVersion: packet.protocolVersion, clean: packet.cleanStart,
        keepalive: packet.keepAlive, clientId: packet.clientId,
      };
      if (packet.will !== undefined) {
        const { topic, payload, qos, retain, properties } = packet.will;
        out.will = withMpProps({ topic, payload, qos, retain }, properties, version);
      }
      if (packet.username !== undefined) out.username = packet.username;
      if (packet.password !== undefined) out.password = packet.password;
      return withMpProps(out, packet.properties, version);
    }
    case PacketType.CONNACK: {
      const code = version === 5 ? { reasonCode: packet.reasonCode } : { returnCode: packet.reasonCode };
      return withMpProps({ cmd, sessionPresent: packet.sessionPresent, ...code }, packet.properties, version);
    }
    case PacketType.PUBLISH: {
      const out: MpObject = { cmd, topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: packet.retain, dup: packet.dup };
      if (packet.qos > 0) out.messageId = packet.packetId;
      return withMpProps(out, packet.properties, version);
    }
    case PacketType.PUBACK: case PacketType.PUBREC: case PacketType.PUBREL: case PacketType.PUBCOMP:
      return withMpProps({ cmd, messageId: packet.packetId, reasonCode: packet.reasonCode }, packet.properties, version);
    case PacketType.SUBSCRIBE:
      return withMpProps({
        cmd, messageId: packet.packetId,
        subscriptions: packet.subscriptions.map((s) => ({
          topic: s.topicFilter, qos: s.qos, nl: s.noLocal, rap: s.retainAsPublished, rh: s.retainHandling,
        })),
      }, packet.properties, version);
    case PacketType.SUBACK:
      return withMpProps({ cmd, messageId: packet.packetId, granted: packet.reasonCodes }, packet.properties, version);
    case PacketType.UNSUBSCRIBE:
      return withMpProps({ cmd, messageId: packet.packetId, unsubscriptions: packet.topicFilters }, packet.properties, version);
    case PacketType.UNSUBACK:
      return withMpProps({ cmd, messageId: packet.packetId, granted: packet.reasonCodes }, packet.properties, version);
    case PacketType.PINGREQ: case PacketType.PINGRESP:
      return { cmd };
    case PacketType.DISCONNECT: case PacketType.AUTH:
      return withMpProps({ cmd, reasonCode: packet.reasonCode }, packet.properties, version);
  }
}

function attach(target: { properties?: Properties }, o: unknown): void {
  const props = propertiesFromMp(o);
  if (props !== undefined) target.properties = props;
}

/** An object from mqtt-packet's parser as our packet shape, for `version`. */
export function fromMp(o: MpObject, version: ProtocolVersion): Packet {
  const num = (v: unknown): number => v as number;
  const packet = convert(o, version, num);
  if ('properties' in o) attach(packet as { properties?: Properties }, o.properties);
  return packet;
}

function convert(o: MpObject, version: ProtocolVersion, num: (v: unknown) => number): Packet {
  const type = TYPE[o.cmd as string];
  switch (type) {
    case PacketType.CONNECT: {
      const packet: ConnectPacket = {
        type: PacketType.CONNECT, protocolName: o.protocolId as string, protocolVersion: o.protocolVersion as ProtocolVersion,
        cleanStart: o.clean as boolean, keepAlive: num(o.keepalive), clientId: o.clientId as string,
      };
      const will = o.will as MpObject | undefined;
      if (will !== undefined) {
        const w: WillMessage = { topic: will.topic as string, payload: will.payload as Buffer, qos: will.qos as QoS, retain: will.retain as boolean };
        attach(w, will.properties);
        packet.will = w;
      }
      if (o.username !== undefined) packet.username = o.username as string;
      if (o.password !== undefined) packet.password = o.password as Buffer;
      return packet;
    }
    case PacketType.CONNACK:
      return { type: PacketType.CONNACK, sessionPresent: o.sessionPresent as boolean, reasonCode: num(version === 5 ? o.reasonCode : o.returnCode) };
    case PacketType.PUBLISH: {
      const packet: PublishPacket = {
        type: PacketType.PUBLISH, topic: o.topic as string, payload: o.payload as Buffer, qos: o.qos as QoS,
        retain: o.retain as boolean, dup: o.dup as boolean,
      };
      if (packet.qos > 0) packet.packetId = num(o.messageId);
      return packet;
    }
    case PacketType.PUBACK: case PacketType.PUBREC: case PacketType.PUBREL: case PacketType.PUBCOMP:
      return { type: type as AckPacket['type'], packetId: num(o.messageId), reasonCode: num(o.reasonCode ?? 0) };
    case PacketType.SUBSCRIBE:
      return {
        type: PacketType.SUBSCRIBE, packetId: num(o.messageId),
        subscriptions: (o.subscriptions as MpObject[]).map((s) => ({
          topicFilter: s.topic as string, qos: s.qos as QoS, noLocal: s.nl === true, retainAsPublished: s.rap === true,
          retainHandling: (s.rh ?? 0) as 0 | 1 | 2,
        })),
      };
    case PacketType.SUBACK:
      return { type: PacketType.SUBACK, packetId: num(o.messageId), reasonCodes: o.granted as number[] };
    case PacketType.UNSUBSCRIBE:
      return { type: PacketType.UNSUBSCRIBE, packetId: num(o.messageId), topicFilters: o.unsubscriptions as string[] };
    case PacketType.UNSUBACK:
      return { type: PacketType.UNSUBACK, packetId: num(o.messageId), reasonCodes: (o.granted ?? []) as number[] };
    case PacketType.PINGREQ: case PacketType.PINGRESP:
      return { type: type as 12 | 13 };
    case PacketType.DISCONNECT: case PacketType.AUTH:
      return { type: type as 14 | 15, reasonCode: num(o.reasonCode ?? 0) };
    default:
      throw new Error(`unexpected mqtt-packet cmd ${String(o.cmd)}`);
  }
}

/** mqtt-packet's parse of `bytes` (exactly one packet), or its error. */
export function mpParse(bytes: Buffer, version: ProtocolVersion): MpObject {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const packets: MpObject[] = [];
  let error: unknown;
  parser.on('packet', (p) => packets.push(p as unknown as MpObject));
  parser.on('error', (e: unknown) => {
    error = e;
  });
  const left = parser.parse(bytes);
  if (error !== undefined) throw error;
  if (packets.length !== 1 || left !== 0) throw new Error(`mqtt-packet parsed ${packets.length} packets, ${left} bytes left`);
  return packets[0]!;
}

export function mpGenerate(packet: Packet, version: ProtocolVersion): Buffer {
  return mqttPacket.generate(toMp(packet, version) as unknown as mqttPacket.Packet, { protocolVersion: version });
}
