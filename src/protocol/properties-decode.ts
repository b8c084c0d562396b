// Decodes an MQTT 5.0 property block (spec 2.2.2): Property Length, then properties.
import { malformed, protocolError } from './errors.js';
import { contextName, propertyAllowed, propertyName, PropertyId, type PropertyContext } from './property-table.js';
import type { Reader } from './reader.js';
import { PacketType, type Properties } from './types.js';

function duplicate(id: number, context: PropertyContext): never {
  // "It is a Protocol Error to include <property> more than once" (each property's section).
  throw protocolError(`${propertyName(id)} included more than once in ${contextName(context)}`);
}

/** Byte properties are all 0 or 1; anything else is a Protocol Error (each one's section). */
function flag(r: Reader, id: number): number {
  const v = r.u8();
  if (v > 1) throw protocolError(`${propertyName(id)} must be 0 or 1, got ${v}`);
  return v;
}

function nonZeroU16(r: Reader, id: number): number {
  const v = r.u16();
  // Receive Maximum 0 is a Protocol Error (3.1.2.11.3, 3.2.2.3.3).
  if (v === 0) throw protocolError(`${propertyName(id)} must not be 0`);
  return v;
}

function nonZeroU32(r: Reader, id: number): number {
  const v = r.u32();
  // Maximum Packet Size 0 is a Protocol Error (3.1.2.11.4, 3.2.2.3.6).
  if (v === 0) throw protocolError(`${propertyName(id)} must not be 0`);
  return v;
}

/**
 * Reads a property block at the reader's position. Returns undefined for an empty block,
 * so packets without properties carry no `properties` object (no allocation on the hot
 * path). While it runs, the reader's `end` is narrowed to the block, so a property value
 * that crosses the declared Property Length is MALFORMED like any truncation.
 */
export function decodeProperties(r: Reader, context: PropertyContext): Properties | undefined {
  const length = r.varint();
  if (length === 0) return undefined;
  const end = r.pos + length;
  if (end > r.end) throw malformed(`property length ${length} overruns the ${contextName(context)} packet`);
  const outerEnd = r.end;
  r.end = end;
  const p: Properties = {};
  while (r.pos < end) {
    // Identifiers are Variable Byte Integers, but every defined one fits in one byte, so a
    // byte >= 0x80 can only start an unknown identifier.
    const id = r.u8();
    const allowed = propertyAllowed(id, context);
    if (allowed === 'unknown') throw malformed(`unknown property identifier 0x${id.toString(16)}`);
    if (!allowed) {
      // an identifier not valid for the packet type is a Malformed Packet (spec 2.2.2.2)
      throw malformed(`${propertyName(id)} is not allowed in ${contextName(context)} (spec 2.2.2.2)`);
    }
    switch (id) {
      case PropertyId.PAYLOAD_FORMAT_INDICATOR:
        if (p.payloadFormatIndicator !== undefined) duplicate(id, context);
        p.payloadFormatIndicator = flag(r, id);
        break;
      case PropertyId.MESSAGE_EXPIRY_INTERVAL:
        if (p.messageExpiryInterval !== undefined) duplicate(id, context);
        p.messageExpiryInterval = r.u32();
        break;
      case PropertyId.CONTENT_TYPE:
        if (p.contentType !== undefined) duplicate(id, context);
        p.contentType = r.utf8();
        break;
      case PropertyId.RESPONSE_TOPIC:
        if (p.responseTopic !== undefined) duplicate(id, context);
        p.responseTopic = r.utf8();
        break;
      case PropertyId.CORRELATION_DATA:
        if (p.correlationData !== undefined) duplicate(id, context);
        p.correlationData = r.binary();
        break;
      case PropertyId.SUBSCRIPTION_IDENTIFIER: {
        const v = r.varint();
        if (v === 0) throw protocolError('Subscription Identifier 0 is a Protocol Error (3.8.2.1.2)');
        if (p.subscriptionIdentifiers === undefined) p.subscriptionIdentifiers = [v];
        // A PUBLISH to a subscriber carries one per matching subscription [MQTT-3.3.4-4];
        // a SUBSCRIBE may carry only one (3.8.2.1.2).
        else if (context === PacketType.PUBLISH) p.subscriptionIdentifiers.push(v);
        else duplicate(id, context);
        break;
      }
      case PropertyId.SESSION_EXPIRY_INTERVAL:
        if (p.sessionExpiryInterval !== undefined) duplicate(id, context);
        p.sessionExpiryInterval = r.u32();
        break;
      case PropertyId.ASSIGNED_CLIENT_IDENTIFIER:
        if (p.assignedClientIdentifier !== undefined) duplicate(id, context);
        p.assignedClientIdentifier = r.utf8();
        break;
      case PropertyId.SERVER_KEEP_ALIVE:
        if (p.serverKeepAlive !== undefined) duplicate(id, context);
        p.serverKeepAlive = r.u16();
        break;
      case PropertyId.AUTHENTICATION_METHOD:
        if (p.authenticationMethod !== undefined) duplicate(id, context);
        p.authenticationMethod = r.utf8();
        break;
      case PropertyId.AUTHENTICATION_DATA:
        if (p.authenticationData !== undefined) duplicate(id, context);
        p.authenticationData = r.binary();
        break;
      case PropertyId.REQUEST_PROBLEM_INFORMATION:
        if (p.requestProblemInformation !== undefined) duplicate(id, context);
        p.requestProblemInformation = flag(r, id);
        break;
      case PropertyId.WILL_DELAY_INTERVAL:
        if (p.willDelayInterval !== undefined) duplicate(id, context);
        p.willDelayInterval = r.u32();
        break;
      case PropertyId.REQUEST_RESPONSE_INFORMATION:
        if (p.requestResponseInformation !== undefined) duplicate(id, context);
        p.requestResponseInformation = flag(r, id);
        break;
      case PropertyId.RESPONSE_INFORMATION:
        if (p.responseInformation !== undefined) duplicate(id, context);
        p.responseInformation = r.utf8();
        break;
      case PropertyId.SERVER_REFERENCE:
        if (p.serverReference !== undefined) duplicate(id, context);
        p.serverReference = r.utf8();
        break;
      case PropertyId.REASON_STRING:
        if (p.reasonString !== undefined) duplicate(id, context);
        p.reasonString = r.utf8();
        break;
      case PropertyId.RECEIVE_MAXIMUM:
        if (p.receiveMaximum !== undefined) duplicate(id, context);
        p.receiveMaximum = nonZeroU16(r, id);
        break;
      case PropertyId.TOPIC_ALIAS_MAXIMUM:
        if (p.topicAliasMaximum !== undefined) duplicate(id, context);
        p.topicAliasMaximum = r.u16();
        break;
      case PropertyId.TOPIC_ALIAS:
        // 0 and values above the negotiated maximum are "Topic Alias invalid" (0x94), a
        // session-level decision [MQTT-3.3.2-8..10]; the core checks them, not the codec.
        if (p.topicAlias !== undefined) duplicate(id, context);
        p.topicAlias = r.u16();
        break;
      case PropertyId.MAXIMUM_QOS:
        if (p.maximumQoS !== undefined) duplicate(id, context);
        p.maximumQoS = flag(r, id);
        break;
      case PropertyId.RETAIN_AVAILABLE:
        if (p.retainAvailable !== undefined) duplicate(id, context);
        p.retainAvailable = flag(r, id);
        break;
      case PropertyId.USER_PROPERTY: {
        // Order is kept and repeats are allowed [MQTT-3.3.2-18].
        const key = r.utf8();
        const value = r.utf8();
        if (p.userProperties === undefined) p.userProperties = [[key, value]];
        else p.userProperties.push([key, value]);
        break;
      }
      case PropertyId.MAXIMUM_PACKET_SIZE:
        if (p.maximumPacketSize !== undefined) duplicate(id, context);
        p.maximumPacketSize = nonZeroU32(r, id);
        break;
      case PropertyId.WILDCARD_SUBSCRIPTION_AVAILABLE:
        if (p.wildcardSubscriptionAvailable !== undefined) duplicate(id, context);
        p.wildcardSubscriptionAvailable = flag(r, id);
        break;
      case PropertyId.SUBSCRIPTION_IDENTIFIER_AVAILABLE:
        if (p.subscriptionIdentifierAvailable !== undefined) duplicate(id, context);
        p.subscriptionIdentifierAvailable = flag(r, id);
        break;
      case PropertyId.SHARED_SUBSCRIPTION_AVAILABLE:
        if (p.sharedSubscriptionAvailable !== undefined) duplicate(id, context);
        p.sharedSubscriptionAvailable = flag(r, id);
        break;
    }
  }
  r.end = outerEnd;
  return p;
}
