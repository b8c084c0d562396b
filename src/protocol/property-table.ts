// MQTT 5.0 property identifiers and where each may appear (spec 2.2.2.2, table 2-4).
// Shared by the property encoder and decoder so both sides reject the same things.
import { PacketType } from './types.js';

/** Property identifiers (spec 2.2.2.2). */
export const PropertyId = {
  PAYLOAD_FORMAT_INDICATOR: 0x01,
  MESSAGE_EXPIRY_INTERVAL: 0x02,
  CONTENT_TYPE: 0x03,
  RESPONSE_TOPIC: 0x08,
  CORRELATION_DATA: 0x09,
  SUBSCRIPTION_IDENTIFIER: 0x0b,
  SESSION_EXPIRY_INTERVAL: 0x11,
  ASSIGNED_CLIENT_IDENTIFIER: 0x12,
  SERVER_KEEP_ALIVE: 0x13,
  AUTHENTICATION_METHOD: 0x15,
  AUTHENTICATION_DATA: 0x16,
  REQUEST_PROBLEM_INFORMATION: 0x17,
  WILL_DELAY_INTERVAL: 0x18,
  REQUEST_RESPONSE_INFORMATION: 0x19,
  RESPONSE_INFORMATION: 0x1a,
  SERVER_REFERENCE: 0x1c,
  REASON_STRING: 0x1f,
  RECEIVE_MAXIMUM: 0x21,
  TOPIC_ALIAS_MAXIMUM: 0x22,
  TOPIC_ALIAS: 0x23,
  MAXIMUM_QOS: 0x24,
  RETAIN_AVAILABLE: 0x25,
  USER_PROPERTY: 0x26,
  MAXIMUM_PACKET_SIZE: 0x27,
  WILDCARD_SUBSCRIPTION_AVAILABLE: 0x28,
  SUBSCRIPTION_IDENTIFIER_AVAILABLE: 0x29,
  SHARED_SUBSCRIPTION_AVAILABLE: 0x2a,
} as const;

/**
 * Where a property block sits: a packet type (1..15), or WILL_CONTEXT for the will
 * properties inside CONNECT. Packet type 0 is reserved, so 0 is free for the will.
 */
export type PropertyContext = number;
export const WILL_CONTEXT: PropertyContext = 0;

const WILL = 1 << WILL_CONTEXT;
const CONNECT = 1 << PacketType.CONNECT;
const CONNACK = 1 << PacketType.CONNACK;
const PUBLISH = 1 << PacketType.PUBLISH;
const PUBACK = 1 << PacketType.PUBACK;
const PUBREC = 1 << PacketType.PUBREC;
const PUBREL = 1 << PacketType.PUBREL;
const PUBCOMP = 1 << PacketType.PUBCOMP;
const SUBSCRIBE = 1 << PacketType.SUBSCRIBE;
const SUBACK = 1 << PacketType.SUBACK;
const UNSUBSCRIBE = 1 << PacketType.UNSUBSCRIBE;
const UNSUBACK = 1 << PacketType.UNSUBACK;
const DISCONNECT = 1 << PacketType.DISCONNECT;
const AUTH = 1 << PacketType.AUTH;
const MESSAGE = PUBLISH | WILL;
const REASON_STRING_OK = CONNACK | PUBACK | PUBREC | PUBREL | PUBCOMP | SUBACK | UNSUBACK | DISCONNECT | AUTH;
const EVERYWHERE = REASON_STRING_OK | CONNECT | PUBLISH | WILL | SUBSCRIBE | UNSUBSCRIBE;

interface PropertyInfo {
  readonly name: string;
  /** Bit set of contexts (1 << context) the property may appear in. */
  readonly allowed: number;
}

const info = (name: string, allowed: number): PropertyInfo => ({ name, allowed });

const TABLE: ReadonlyMap<number, PropertyInfo> = new Map([
  [PropertyId.PAYLOAD_FORMAT_INDICATOR, info('Payload Format Indicator', MESSAGE)],
  [PropertyId.MESSAGE_EXPIRY_INTERVAL, info('Message Expiry Interval', MESSAGE)],
  [PropertyId.CONTENT_TYPE, info('Content Type', MESSAGE)],
  [PropertyId.RESPONSE_TOPIC, info('Response Topic', MESSAGE)],
  [PropertyId.CORRELATION_DATA, info('Correlation Data', MESSAGE)],
  [PropertyId.SUBSCRIPTION_IDENTIFIER, info('Subscription Identifier', PUBLISH | SUBSCRIBE)],
  [PropertyId.SESSION_EXPIRY_INTERVAL, info('Session Expiry Interval', CONNECT | CONNACK | DISCONNECT)],
  [PropertyId.ASSIGNED_CLIENT_IDENTIFIER, info('Assigned Client Identifier', CONNACK)],
  [PropertyId.SERVER_KEEP_ALIVE, info('Server Keep Alive', CONNACK)],
  [PropertyId.AUTHENTICATION_METHOD, info('Authentication Method', CONNECT | CONNACK | AUTH)],
  [PropertyId.AUTHENTICATION_DATA, info('Authentication Data', CONNECT | CONNACK | AUTH)],
  [PropertyId.REQUEST_PROBLEM_INFORMATION, info('Request Problem Information', CONNECT)],
  [PropertyId.WILL_DELAY_INTERVAL, info('Will Delay Interval', WILL)],
  [PropertyId.REQUEST_RESPONSE_INFORMATION, info('Request Response Information', CONNECT)],
  [PropertyId.RESPONSE_INFORMATION, info('Response Information', CONNACK)],
  [PropertyId.SERVER_REFERENCE, info('Server Reference', CONNACK | DISCONNECT)],
  [PropertyId.REASON_STRING, info('Reason String', REASON_STRING_OK)],
  [PropertyId.RECEIVE_MAXIMUM, info('Receive Maximum', CONNECT | CONNACK)],
  [PropertyId.TOPIC_ALIAS_MAXIMUM, info('Topic Alias Maximum', CONNECT | CONNACK)],
  [PropertyId.TOPIC_ALIAS, info('Topic Alias', PUBLISH)],
  [PropertyId.MAXIMUM_QOS, info('Maximum QoS', CONNACK)],
  [PropertyId.RETAIN_AVAILABLE, info('Retain Available', CONNACK)],
  [PropertyId.USER_PROPERTY, info('User Property', EVERYWHERE)],
  [PropertyId.MAXIMUM_PACKET_SIZE, info('Maximum Packet Size', CONNECT | CONNACK)],
  [PropertyId.WILDCARD_SUBSCRIPTION_AVAILABLE, info('Wildcard Subscription Available', CONNACK)],
  [PropertyId.SUBSCRIPTION_IDENTIFIER_AVAILABLE, info('Subscription Identifier Available', CONNACK)],
  [PropertyId.SHARED_SUBSCRIPTION_AVAILABLE, info('Shared Subscription Available', CONNACK)],
]);

const CONTEXT_NAMES = [
  'Will Properties', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP',
  'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH',
];

// Indexed by identifier: the decoder looks a property up for every property it reads.
const BY_ID: ReadonlyArray<PropertyInfo | undefined> = Array.from({ length: 0x2b }, (_, id) => TABLE.get(id));

export function propertyName(id: number): string {
  return BY_ID[id]?.name ?? `0x${id.toString(16)}`;
}

export function contextName(context: PropertyContext): string {
  return CONTEXT_NAMES[context] ?? `packet type ${context}`;
}

/** 'unknown' for an identifier the spec does not define, else whether `context` allows it. */
export function propertyAllowed(id: number, context: PropertyContext): 'unknown' | boolean {
  const entry = BY_ID[id];
  if (entry === undefined) return 'unknown';
  return (entry.allowed & (1 << context)) !== 0;
}
