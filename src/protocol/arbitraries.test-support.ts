// fast-check arbitraries for valid MQTT packets of every type and version, plus the
// normalisation that maps an encoder input to what the decoder gives back. Not a test
// file itself (the runner only picks up *.test.ts); shared by the codec's property
// tests and available to other suites (conformance, e2e fuzzing).
import fc from 'fast-check';
import { allowedReasonCodes } from './reason-code-sets.js';
import { VARINT_MAX } from './varint.js';
import {
  PacketType,
  type AckPacket,
  type AuthPacket,
  type ConnackPacket,
  type ConnectPacket,
  type DisconnectPacket,
  type Packet,
  type Properties,
  type ProtocolVersion,
  type PublishPacket,
  type QoS,
  type SubackPacket,
  type SubscribePacket,
  type Subscription,
  type UnsubackPacket,
  type UnsubscribePacket,
  type UserProperty,
  type WillMessage,
} from './types.js';

export const VERSIONS: readonly ProtocolVersion[] = [3, 4, 5];

export interface PacketArbOptions {
  /**
   * Only generate what mqtt-packet v9 represents faithfully (for the cross-check):
   * - user properties become a plain object there, so keys must be unique (duplicates
   *   would be grouped, losing the order) and not integer-like (JS orders those first);
   * - it refuses a CONNECT whose client id is empty in 3.1 or with clean session off, or
   *   whose will topic is empty, or with a password but no user name (even in 5.0);
   * - its parser reads past the packet end on an AUTH with Remaining Length 0, so an AUTH
   *   with reason 0 always gets an Authentication Method (which real AUTHs carry anyway).
   */
  mqttPacketCompatible?: boolean;
  /** Largest PUBLISH payload (default 300, enough for two-byte Remaining Lengths). */
  maxPayload?: number;
}

/** UTF-8 Encoded Strings: mostly ASCII, sometimes any code point; never U+0000. */
export function utf8StringArb(maxLength = 12, minLength = 0): fc.Arbitrary<string> {
  return fc
    .oneof(
      { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength, maxLength }) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength, maxLength }) },
    )
    .map((s) => s.replaceAll('\u0000', '_'));
}

export function bufferArb(maxLength = 16): fc.Arbitrary<Buffer> {
  return fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
}

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.oneof(fc.integer({ min: 0, max: 0xffff_ffff }), fc.constantFrom(0, 0xffff_ffff));
const flag = fc.constantFrom(0, 1);
const packetIdArb = fc.oneof(fc.integer({ min: 1, max: 0xffff }), fc.constantFrom(1, 0xffff));
/** Subscription identifiers, biased to the Variable Byte Integer size boundaries. */
const subscriptionIdArb = fc.oneof(
  fc.integer({ min: 1, max: VARINT_MAX }),
  fc.integer({ min: 1, max: 200 }),
  fc.constantFrom(1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, VARINT_MAX),
);

function userPropertiesArb(compatible: boolean): fc.Arbitrary<UserProperty[]> {
  const pair = fc.tuple(utf8StringArb(8), utf8StringArb(8));
  if (!compatible) return fc.array(pair, { minLength: 1, maxLength: 4 });
  const key = utf8StringArb(8).filter((k) => !/^\d+$/.test(k) && k !== '__proto__');
  return fc.uniqueArray(fc.tuple(key, utf8StringArb(8)), { minLength: 1, maxLength: 4, selector: (p) => p[0] });
}

/** Where a property block sits; the keys allowed in each (spec table 2-4), restated here. */
export type PropertyPlace =
  | 'connect' | 'connack' | 'publish' | 'will' | 'ack' | 'subscribe' | 'suback' | 'unsubscribe'
  | 'unsuback' | 'disconnect' | 'auth';

export const ALLOWED_PROPERTIES: Readonly<Record<PropertyPlace, readonly (keyof Properties)[]>> = {
  connect: [
    'sessionExpiryInterval', 'receiveMaximum', 'maximumPacketSize', 'topicAliasMaximum',
    'requestResponseInformation', 'requestProblemInformation', 'userProperties',
    'authenticationMethod', 'authenticationData',
  ],
  connack: [
    'sessionExpiryInterval', 'receiveMaximum', 'maximumQoS', 'retainAvailable', 'maximumPacketSize',
    'assignedClientIdentifier', 'topicAliasMaximum', 'reasonString', 'userProperties',
    'wildcardSubscriptionAvailable', 'subscriptionIdentifierAvailable', 'sharedSubscriptionAvailable',
    'serverKeepAlive', 'responseInformation', 'serverReference', 'authenticationMethod', 'authenticationData',
  ],
  publish: [
    'payloadFormatIndicator', 'messageExpiryInterval', 'topicAlias', 'responseTopic', 'correlationData',
    'userProperties', 'subscriptionIdentifiers', 'contentType',
  ],
  will: [
    'willDelayInterval', 'payloadFormatIndicator', 'messageExpiryInterval', 'contentType', 'responseTopic',
    'correlationData', 'userProperties',
  ],
  ack: ['reasonString', 'userProperties'],
  subscribe: ['subscriptionIdentifiers', 'userProperties'],
  suback: ['reasonString', 'userProperties'],
  unsubscribe: ['userProperties'],
  unsuback: ['reasonString', 'userProperties'],
  disconnect: ['sessionExpiryInterval', 'reasonString', 'userProperties', 'serverReference'],
  auth: ['authenticationMethod', 'authenticationData', 'reasonString', 'userProperties'],
};

function propertyValueArb(key: keyof Properties, place: PropertyPlace, compatible: boolean): fc.Arbitrary<unknown> {
  switch (key) {
    case 'payloadFormatIndicator': case 'requestProblemInformation': case 'requestResponseInformation':
    case 'maximumQoS': case 'retainAvailable': case 'wildcardSubscriptionAvailable':
    case 'subscriptionIdentifierAvailable': case 'sharedSubscriptionAvailable':
      return flag;
    case 'messageExpiryInterval': case 'sessionExpiryInterval': case 'willDelayInterval':
      return u32;
    case 'maximumPacketSize':
      return fc.integer({ min: 1, max: 0xffff_ffff });
    case 'serverKeepAlive': case 'topicAliasMaximum':
      return u16;
    case 'receiveMaximum': case 'topicAlias':
      return fc.integer({ min: 1, max: 0xffff });
    case 'correlationData': case 'authenticationData':
      return bufferArb(12);
    case 'subscriptionIdentifiers':
      // Several only on a PUBLISH to a subscriber; at most one on SUBSCRIBE.
      return fc.array(subscriptionIdArb, { minLength: 1, maxLength: place === 'publish' ? 4 : 1 });
    case 'userProperties':
      return userPropertiesArb(compatible);
    default:
      return utf8StringArb(10);
  }
}

/**
 * Valid 5.0 properties for `place`; undefined or `{}` (or empty lists) when there are none,
 * which the decoder reports as no `properties` at all.
 */
export function propertiesArb(place: PropertyPlace, options: PacketArbOptions = {}): fc.Arbitrary<Properties | undefined> {
  const compatible = options.mqttPacketCompatible === true;
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const key of ALLOWED_PROPERTIES[place]) model[key] = propertyValueArb(key, place, compatible);
  const props = fc.record(model, { requiredKeys: [], noNullPrototype: true }).map((p) => p as Properties);
  const empties: fc.Arbitrary<Properties>[] = [fc.constant({}), fc.constant({ userProperties: [] })];
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.oneof(...empties) },
    { weight: 6, arbitrary: props },
  );
}

const qosArb: fc.Arbitrary<QoS> = fc.constantFrom(0, 1, 2);

function codeArb(type: number, version: ProtocolVersion): fc.Arbitrary<number> {
  return fc.constantFrom(...allowedReasonCodes(type, version));
}

/** Sets `properties` only when the version has them. */
function withProps<T extends { properties?: Properties }>(version: ProtocolVersion, packet: T, props: Properties | undefined): T {
  if (version === 5 && props !== undefined) packet.properties = props;
  return packet;
}

export function connectArb(version: ProtocolVersion, options: PacketArbOptions = {}): fc.Arbitrary<ConnectPacket> {
  const compatible = options.mqttPacketCompatible === true;
  const willArb: fc.Arbitrary<WillMessage> = fc
    .record({
      topic: utf8StringArb(12, compatible ? 1 : 0),
      payload: bufferArb(20),
      qos: qosArb,
      retain: fc.boolean(),
      properties: propertiesArb('will', options),
    })
    .map(({ properties, ...will }) => withProps<WillMessage>(version, will, properties));
  return fc
    .record({
      cleanStart: fc.boolean(),
      keepAlive: u16,
      clientId: utf8StringArb(23),
      will: fc.option(willArb, { nil: undefined }),
      username: fc.option(utf8StringArb(12), { nil: undefined }),
      password: fc.option(bufferArb(12), { nil: undefined }),
      properties: propertiesArb('connect', options),
    })
    .map((r) => {
      const packet: ConnectPacket = {
        type: PacketType.CONNECT,
        protocolName: version === 3 ? 'MQIsdp' : 'MQTT',
        protocolVersion: version,
        cleanStart: r.cleanStart,
        keepAlive: r.keepAlive,
        // mqtt-packet needs a client id in 3.1 and without clean session.
        clientId: compatible && r.clientId === '' && (version === 3 || !r.cleanStart) ? 'c' : r.clientId,
      };
      if (r.will !== undefined) packet.will = r.will;
      // Authentication Data needs an Authentication Method in CONNECT (3.1.2.11.10).
      let props = r.properties;
      if (props?.authenticationData !== undefined && props.authenticationMethod === undefined) {
        props = { ...props, authenticationMethod: 'SCRAM-SHA-1' };
      }
      if (r.username !== undefined) packet.username = r.username;
      // [MQTT-3.1.2-22]: no password without a user name before 5.0.
      if (r.password !== undefined && (r.username !== undefined || (version === 5 && !compatible))) {
        packet.password = r.password;
      }
      return withProps(version, packet, props);
    });
}

function ackArb(version: ProtocolVersion, options: PacketArbOptions): fc.Arbitrary<AckPacket> {
  const types: AckPacket['type'][] = [PacketType.PUBACK, PacketType.PUBREC, PacketType.PUBREL, PacketType.PUBCOMP];
  return fc.constantFrom(...types).chain((type) =>
    fc
      .record({ packetId: packetIdArb, reasonCode: codeArb(type, version), properties: propertiesArb('ack', options) })
      .map(({ properties, ...rest }) => withProps<AckPacket>(version, { type, ...rest }, properties)),
  );
}

function subscriptionArb(version: ProtocolVersion): fc.Arbitrary<Subscription> {
  return fc
    .record({
      topicFilter: utf8StringArb(12),
      qos: qosArb,
      noLocal: fc.boolean(),
      retainAsPublished: fc.boolean(),
      retainHandling: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
    })
    .map((s) => (version === 5 ? s : { ...s, noLocal: false, retainAsPublished: false, retainHandling: 0 }));
}

export function publishArb(version: ProtocolVersion, options: PacketArbOptions = {}): fc.Arbitrary<PublishPacket> {
  return fc
    .record({
      topic: utf8StringArb(16),
      payload: bufferArb(options.maxPayload ?? 300),
      qos: qosArb,
      retain: fc.boolean(),
      dup: fc.boolean(),
      packetId: packetIdArb,
      properties: propertiesArb('publish', options),
    })
    .map(({ properties, packetId, qos, dup, ...rest }) =>
      withProps<PublishPacket>(
        version,
        qos === 0 ? { type: PacketType.PUBLISH, ...rest, qos, dup: false } : { type: PacketType.PUBLISH, ...rest, qos, dup, packetId },
        properties,
      ),
    );
}

/** Every packet type except CONNECT, valid for `version`. */
export function nonConnectPacketArb(version: ProtocolVersion, options: PacketArbOptions = {}): fc.Arbitrary<Packet> {
  const compatible = options.mqttPacketCompatible === true;
  const list = (type: number): fc.Arbitrary<number[]> => fc.array(codeArb(type, version), { minLength: 1, maxLength: 5 });
  const arbs: fc.Arbitrary<Packet>[] = [
    fc
      .record({ sessionPresent: fc.boolean(), reasonCode: codeArb(PacketType.CONNACK, version), properties: propertiesArb('connack', options) })
      .map(({ properties, sessionPresent, reasonCode }) =>
        // 3.1 has no Session Present; a refusal must not claim a session [MQTT-3.2.2-4/6].
        withProps<ConnackPacket>(version, { type: PacketType.CONNACK, sessionPresent: sessionPresent && version !== 3 && reasonCode === 0, reasonCode }, properties),
      ),
    publishArb(version, options),
    ackArb(version, options),
    fc
      .record({ packetId: packetIdArb, subscriptions: fc.array(subscriptionArb(version), { minLength: 1, maxLength: 4 }), properties: propertiesArb('subscribe', options) })
      .map(({ properties, ...rest }) => withProps<SubscribePacket>(version, { type: PacketType.SUBSCRIBE, ...rest }, properties)),
    fc
      .record({ packetId: packetIdArb, reasonCodes: list(PacketType.SUBACK), properties: propertiesArb('suback', options) })
      .map(({ properties, ...rest }) => withProps<SubackPacket>(version, { type: PacketType.SUBACK, ...rest }, properties)),
    fc
      .record({ packetId: packetIdArb, topicFilters: fc.array(utf8StringArb(12), { minLength: 1, maxLength: 4 }), properties: propertiesArb('unsubscribe', options) })
      .map(({ properties, ...rest }) => withProps<UnsubscribePacket>(version, { type: PacketType.UNSUBSCRIBE, ...rest }, properties)),
    fc
      .record({ packetId: packetIdArb, reasonCodes: list(PacketType.UNSUBACK), properties: propertiesArb('unsuback', options) })
      .map(({ properties, packetId, reasonCodes }) =>
        withProps<UnsubackPacket>(version, { type: PacketType.UNSUBACK, packetId, reasonCodes: version === 5 ? reasonCodes : [] }, properties),
      ),
    fc.constant({ type: PacketType.PINGREQ }),
    fc.constant({ type: PacketType.PINGRESP }),
    fc
      .record({ reasonCode: codeArb(PacketType.DISCONNECT, version), properties: propertiesArb('disconnect', options) })
      .map(({ properties, reasonCode }) => withProps<DisconnectPacket>(version, { type: PacketType.DISCONNECT, reasonCode }, properties)),
  ];
  if (version === 5) {
    arbs.push(
      fc
        .record({ reasonCode: codeArb(PacketType.AUTH, 5), properties: propertiesArb('auth', options) })
        .map(({ properties, reasonCode }) => {
          const props = compatible && reasonCode === 0 ? { authenticationMethod: 'SCRAM-SHA-1', ...properties } : properties;
          return withProps<AuthPacket>(5, { type: PacketType.AUTH, reasonCode }, props);
        }),
    );
  }
  return fc.oneof(...arbs);
}

/** Any valid packet for `version`, CONNECT included. */
export function packetArb(version: ProtocolVersion, options: PacketArbOptions = {}): fc.Arbitrary<Packet> {
  return fc.oneof({ weight: 1, arbitrary: connectArb(version, options) }, { weight: 11, arbitrary: nonConnectPacketArb(version, options) });
}

/** A client's stream as a server sees it: one CONNECT, then anything else. */
export function serverStreamArb(version: ProtocolVersion, maxLength = 12): fc.Arbitrary<Packet[]> {
  return fc
    .tuple(connectArb(version), fc.array(nonConnectPacketArb(version, { maxPayload: 200 }), { maxLength }))
    .map(([connect, rest]) => [connect, ...rest]);
}

/** 5.0 properties as the decoder returns them: empty lists dropped, nothing → undefined. */
export function normalizeProperties(p: Properties | undefined): Properties | undefined {
  if (p === undefined) return undefined;
  const out: Properties = {};
  for (const [key, value] of Object.entries(p) as [keyof Properties, unknown][]) {
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    (out as Record<string, unknown>)[key] = value;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function setProps<T extends { properties?: Properties }>(target: T, props: Properties | undefined, version: ProtocolVersion): T {
  delete target.properties;
  const normalized = version === 5 ? normalizeProperties(props) : undefined;
  if (normalized !== undefined) target.properties = normalized;
  return target;
}

/**
 * What decode(encode(packet, version), version) must equal: drops what the version
 * cannot carry (properties before 5.0, 5.0 ack reason codes, subscription options,
 * UNSUBACK codes, 3.1 Session Present) and defaults (packet id on QoS 0).
 */
export function normalizePacket(packet: Packet, version: ProtocolVersion): Packet {
  switch (packet.type) {
    case PacketType.CONNECT: {
      const out: ConnectPacket = { ...packet };
      if (packet.will !== undefined) out.will = setProps({ ...packet.will }, packet.will.properties, version);
      return setProps(out, packet.properties, version);
    }
    case PacketType.CONNACK:
      return setProps({ ...packet, sessionPresent: version === 3 ? false : packet.sessionPresent }, packet.properties, version);
    case PacketType.PUBLISH: {
      const out = { ...packet };
      if (out.qos === 0) delete out.packetId;
      return setProps(out, packet.properties, version);
    }
    case PacketType.PUBACK: case PacketType.PUBREC: case PacketType.PUBREL: case PacketType.PUBCOMP:
      return setProps({ ...packet, reasonCode: version === 5 ? packet.reasonCode : 0 }, packet.properties, version);
    case PacketType.SUBSCRIBE: {
      const subscriptions = packet.subscriptions.map((s) =>
        version === 5 ? { ...s } : { ...s, noLocal: false, retainAsPublished: false, retainHandling: 0 as const },
      );
      return setProps({ ...packet, subscriptions }, packet.properties, version);
    }
    case PacketType.UNSUBACK:
      return setProps({ ...packet, reasonCodes: version === 5 ? [...packet.reasonCodes] : [] }, packet.properties, version);
    case PacketType.DISCONNECT:
      return setProps({ ...packet, reasonCode: version === 5 ? packet.reasonCode : 0 }, packet.properties, version);
    case PacketType.PINGREQ: case PacketType.PINGRESP:
      return { type: packet.type };
    default:
      return setProps({ ...packet }, packet.properties, version);
  }
}

/** Splits `bytes` into views whose sizes cycle through `sizes` (all of it if empty). */
export function chunk(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  for (let i = 0; off < bytes.length; i++) {
    const size = sizes.length === 0 ? bytes.length : Math.max(1, sizes[i % sizes.length]!);
    out.push(bytes.subarray(off, off + size));
    off += size;
  }
  return out;
}
