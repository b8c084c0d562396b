// Encodes an MQTT 5.0 property block (spec 2.2.2). Two passes over the same fields in
// the same order (ascending identifier, user properties in their own order): the first
// validates and sizes, the second writes into the packet's single Buffer.
import { malformed, protocolError } from './errors.js';
import { contextName, propertyAllowed, propertyName, PropertyId, type PropertyContext } from './property-table.js';
import { PacketType, type Properties } from './types.js';
import { VARINT_MAX, varintSize, writeVarint } from './varint.js';
import { binaryLength, checkInt, utf8Length, writeU16, writeU32 } from './writer.js';

function allow(id: number, context: PropertyContext): void {
  if (propertyAllowed(id, context) !== true) {
    // an identifier not valid for the packet type is a Malformed Packet (spec 2.2.2.2)
      throw malformed(`${propertyName(id)} is not allowed in ${contextName(context)} (spec 2.2.2.2)`);
  }
}

function flagSize(v: number | undefined, id: number, context: PropertyContext): number {
  if (v === undefined) return 0;
  allow(id, context);
  if (v !== 0 && v !== 1) throw protocolError(`${propertyName(id)} must be 0 or 1, got ${v}`);
  return 2;
}

function intSize(v: number | undefined, id: number, context: PropertyContext, bytes: 2 | 4, min = 0): number {
  if (v === undefined) return 0;
  allow(id, context);
  checkInt(v, bytes === 2 ? 0xffff : 0xffff_ffff, propertyName(id));
  if (v < min) throw protocolError(`${propertyName(id)} must not be 0`);
  return 1 + bytes;
}

function stringSize(v: string | undefined, id: number, context: PropertyContext): number {
  if (v === undefined) return 0;
  allow(id, context);
  return 3 + utf8Length(v, propertyName(id));
}

function binarySize(v: Buffer | undefined, id: number, context: PropertyContext): number {
  if (v === undefined) return 0;
  allow(id, context);
  return 3 + binaryLength(v, propertyName(id));
}

/**
 * Validates `p` for `context` and returns the length of the property data (without the
 * Property Length prefix). Empty arrays count as absent.
 */
export function propertiesLength(p: Properties | undefined, context: PropertyContext): number {
  if (p === undefined) return 0;
  let n = 0;
  n += flagSize(p.payloadFormatIndicator, PropertyId.PAYLOAD_FORMAT_INDICATOR, context);
  n += intSize(p.messageExpiryInterval, PropertyId.MESSAGE_EXPIRY_INTERVAL, context, 4);
  n += stringSize(p.contentType, PropertyId.CONTENT_TYPE, context);
  n += stringSize(p.responseTopic, PropertyId.RESPONSE_TOPIC, context);
  n += binarySize(p.correlationData, PropertyId.CORRELATION_DATA, context);
  const subIds = p.subscriptionIdentifiers;
  if (subIds !== undefined && subIds.length > 0) {
    allow(PropertyId.SUBSCRIPTION_IDENTIFIER, context);
    if (subIds.length > 1 && context !== PacketType.PUBLISH) {
      throw protocolError(`only one Subscription Identifier is allowed in ${contextName(context)} (3.8.2.1.2)`);
    }
    for (const id of subIds) {
      if (!Number.isInteger(id) || id < 1 || id > VARINT_MAX) {
        throw protocolError(`Subscription Identifier must be 1..${VARINT_MAX}, got ${id} (3.8.2.1.2)`);
      }
      n += 1 + varintSize(id);
    }
  }
  n += intSize(p.sessionExpiryInterval, PropertyId.SESSION_EXPIRY_INTERVAL, context, 4);
  n += stringSize(p.assignedClientIdentifier, PropertyId.ASSIGNED_CLIENT_IDENTIFIER, context);
  n += intSize(p.serverKeepAlive, PropertyId.SERVER_KEEP_ALIVE, context, 2);
  n += stringSize(p.authenticationMethod, PropertyId.AUTHENTICATION_METHOD, context);
  n += binarySize(p.authenticationData, PropertyId.AUTHENTICATION_DATA, context);
  n += flagSize(p.requestProblemInformation, PropertyId.REQUEST_PROBLEM_INFORMATION, context);
  n += intSize(p.willDelayInterval, PropertyId.WILL_DELAY_INTERVAL, context, 4);
  n += flagSize(p.requestResponseInformation, PropertyId.REQUEST_RESPONSE_INFORMATION, context);
  n += stringSize(p.responseInformation, PropertyId.RESPONSE_INFORMATION, context);
  n += stringSize(p.serverReference, PropertyId.SERVER_REFERENCE, context);
  n += stringSize(p.reasonString, PropertyId.REASON_STRING, context);
  n += intSize(p.receiveMaximum, PropertyId.RECEIVE_MAXIMUM, context, 2, 1);
  n += intSize(p.topicAliasMaximum, PropertyId.TOPIC_ALIAS_MAXIMUM, context, 2);
  n += intSize(p.topicAlias, PropertyId.TOPIC_ALIAS, context, 2);
  n += flagSize(p.maximumQoS, PropertyId.MAXIMUM_QOS, context);
  n += flagSize(p.retainAvailable, PropertyId.RETAIN_AVAILABLE, context);
  const user = p.userProperties;
  if (user !== undefined && user.length > 0) {
    allow(PropertyId.USER_PROPERTY, context);
    for (const [key, value] of user) {
      n += 5 + utf8Length(key, 'User Property name') + utf8Length(value, 'User Property value');
    }
  }
  n += intSize(p.maximumPacketSize, PropertyId.MAXIMUM_PACKET_SIZE, context, 4, 1);
  n += flagSize(p.wildcardSubscriptionAvailable, PropertyId.WILDCARD_SUBSCRIPTION_AVAILABLE, context);
  n += flagSize(p.subscriptionIdentifierAvailable, PropertyId.SUBSCRIPTION_IDENTIFIER_AVAILABLE, context);
  n += flagSize(p.sharedSubscriptionAvailable, PropertyId.SHARED_SUBSCRIPTION_AVAILABLE, context);
  if (n > VARINT_MAX) throw malformed(`properties of ${contextName(context)} are too long`);
  return n;
}

function byteProp(buf: Buffer, pos: number, id: number, v: number | undefined): number {
  if (v === undefined) return pos;
  buf[pos] = id;
  buf[pos + 1] = v;
  return pos + 2;
}

function u16Prop(buf: Buffer, pos: number, id: number, v: number | undefined): number {
  if (v === undefined) return pos;
  buf[pos] = id;
  return writeU16(buf, pos + 1, v);
}

function u32Prop(buf: Buffer, pos: number, id: number, v: number | undefined): number {
  if (v === undefined) return pos;
  buf[pos] = id;
  return writeU32(buf, pos + 1, v);
}

/** A string already validated by propertiesLength: write it, then its length prefix. */
function str(buf: Buffer, pos: number, s: string): number {
  const n = buf.write(s, pos + 2, 'utf8');
  writeU16(buf, pos, n);
  return pos + 2 + n;
}

function stringProp(buf: Buffer, pos: number, id: number, v: string | undefined): number {
  if (v === undefined) return pos;
  buf[pos] = id;
  return str(buf, pos + 1, v);
}

function binaryProp(buf: Buffer, pos: number, id: number, v: Buffer | undefined): number {
  if (v === undefined) return pos;
  buf[pos] = id;
  writeU16(buf, pos + 1, v.length);
  v.copy(buf, pos + 3);
  return pos + 3 + v.length;
}

/** Writes Property Length `length` (from propertiesLength) and the properties. */
export function writeProperties(buf: Buffer, pos: number, p: Properties | undefined, length: number): number {
  pos = writeVarint(buf, pos, length);
  if (p === undefined || length === 0) return pos;
  pos = byteProp(buf, pos, PropertyId.PAYLOAD_FORMAT_INDICATOR, p.payloadFormatIndicator);
  pos = u32Prop(buf, pos, PropertyId.MESSAGE_EXPIRY_INTERVAL, p.messageExpiryInterval);
  pos = stringProp(buf, pos, PropertyId.CONTENT_TYPE, p.contentType);
  pos = stringProp(buf, pos, PropertyId.RESPONSE_TOPIC, p.responseTopic);
  pos = binaryProp(buf, pos, PropertyId.CORRELATION_DATA, p.correlationData);
  if (p.subscriptionIdentifiers !== undefined) {
    for (const id of p.subscriptionIdentifiers) {
      buf[pos] = PropertyId.SUBSCRIPTION_IDENTIFIER;
      pos = writeVarint(buf, pos + 1, id);
    }
  }
  pos = u32Prop(buf, pos, PropertyId.SESSION_EXPIRY_INTERVAL, p.sessionExpiryInterval);
  pos = stringProp(buf, pos, PropertyId.ASSIGNED_CLIENT_IDENTIFIER, p.assignedClientIdentifier);
  pos = u16Prop(buf, pos, PropertyId.SERVER_KEEP_ALIVE, p.serverKeepAlive);
  pos = stringProp(buf, pos, PropertyId.AUTHENTICATION_METHOD, p.authenticationMethod);
  pos = binaryProp(buf, pos, PropertyId.AUTHENTICATION_DATA, p.authenticationData);
  pos = byteProp(buf, pos, PropertyId.REQUEST_PROBLEM_INFORMATION, p.requestProblemInformation);
  pos = u32Prop(buf, pos, PropertyId.WILL_DELAY_INTERVAL, p.willDelayInterval);
  pos = byteProp(buf, pos, PropertyId.REQUEST_RESPONSE_INFORMATION, p.requestResponseInformation);
  pos = stringProp(buf, pos, PropertyId.RESPONSE_INFORMATION, p.responseInformation);
  pos = stringProp(buf, pos, PropertyId.SERVER_REFERENCE, p.serverReference);
  pos = stringProp(buf, pos, PropertyId.REASON_STRING, p.reasonString);
  pos = u16Prop(buf, pos, PropertyId.RECEIVE_MAXIMUM, p.receiveMaximum);
  pos = u16Prop(buf, pos, PropertyId.TOPIC_ALIAS_MAXIMUM, p.topicAliasMaximum);
  pos = u16Prop(buf, pos, PropertyId.TOPIC_ALIAS, p.topicAlias);
  pos = byteProp(buf, pos, PropertyId.MAXIMUM_QOS, p.maximumQoS);
  pos = byteProp(buf, pos, PropertyId.RETAIN_AVAILABLE, p.retainAvailable);
  if (p.userProperties !== undefined) {
    for (const [key, value] of p.userProperties) {
      buf[pos] = PropertyId.USER_PROPERTY;
      pos = str(buf, str(buf, pos + 1, key), value);
    }
  }
  pos = u32Prop(buf, pos, PropertyId.MAXIMUM_PACKET_SIZE, p.maximumPacketSize);
  pos = byteProp(buf, pos, PropertyId.WILDCARD_SUBSCRIPTION_AVAILABLE, p.wildcardSubscriptionAvailable);
  pos = byteProp(buf, pos, PropertyId.SUBSCRIPTION_IDENTIFIER_AVAILABLE, p.subscriptionIdentifierAvailable);
  pos = byteProp(buf, pos, PropertyId.SHARED_SUBSCRIPTION_AVAILABLE, p.sharedSubscriptionAvailable);
  return pos;
}
