// The encoder refuses input it cannot put on the wire, with MqttProtocolError.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodePacket } from './decode.js';
import { encodePacket } from './encode.js';
import { expectProtocolError } from './fixtures.test-support.js';
import type { ConnectPacket, Packet, ProtocolVersion, PublishPacket } from './types.js';
import { VARINT_MAX } from './varint.js';
import { allocPacket } from './writer.js';

const pub = (extra: Partial<PublishPacket> = {}): PublishPacket => ({
  type: 3, topic: 't', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false, ...extra,
});
const conn = (extra: Partial<ConnectPacket> = {}): ConnectPacket => ({
  type: 1, protocolName: 'MQTT', protocolVersion: 4, cleanStart: true, keepAlive: 0, clientId: 'c', ...extra,
});

function rejects(name: string, packet: Packet, version: ProtocolVersion, code: Parameters<typeof expectProtocolError>[1], re?: RegExp): void {
  it(name, () => {
    expectProtocolError(() => encodePacket(packet, version), code, re);
  });
}

describe('encoder: strings and binary data', () => {
  rejects('topic of 65,536 bytes', pub({ topic: 'a'.repeat(65_536) }), 4, 'MALFORMED_PACKET', /65535/);
  rejects('multi-byte topic over 65,535 bytes', pub({ topic: 'é'.repeat(32_768) }), 5, 'MALFORMED_PACKET', /65535/);
  rejects('U+0000 in a topic', pub({ topic: 'a\u0000b' }), 4, 'MALFORMED_PACKET', /U\+0000/);
  rejects('lone surrogate in a client id', conn({ clientId: '\ud800' }), 4, 'MALFORMED_PACKET', /surrogate/);
  rejects('U+0000 in a user property', { type: 4, packetId: 1, reasonCode: 0, properties: { userProperties: [['k', '\u0000']] } }, 5, 'MALFORMED_PACKET');
  rejects('will payload over 65,535 bytes', conn({ will: { topic: 'w', payload: Buffer.alloc(65_536), qos: 0, retain: false } }), 4, 'MALFORMED_PACKET');
  rejects('correlation data over 65,535 bytes', pub({ properties: { correlationData: Buffer.alloc(65_536) } }), 5, 'MALFORMED_PACKET');

  it('a topic of exactly 65,535 bytes round-trips', () => {
    const packet = pub({ topic: 'a'.repeat(65_535) });
    assert.deepStrictEqual(decodePacket(encodePacket(packet, 4), 4), packet);
  });

  it('a packet over 256 MB is PACKET_TOO_LARGE (checked before allocating)', () => {
    expectProtocolError(() => allocPacket(0x30, VARINT_MAX + 1), 'PACKET_TOO_LARGE');
  });
});

describe('encoder: packet identifiers and QoS', () => {
  rejects('QoS 1 without a packet id [MQTT-2.3.1-1]', pub({ qos: 1 }), 4, 'MALFORMED_PACKET');
  rejects('packet id 0', pub({ qos: 2, packetId: 0 }), 4, 'MALFORMED_PACKET');
  rejects('packet id 65,536', { type: 4, packetId: 65_536, reasonCode: 0 }, 4, 'MALFORMED_PACKET');
  rejects('packet id 1.5', { type: 10, packetId: 1.5, topicFilters: ['a'] }, 4, 'MALFORMED_PACKET');
  rejects('DUP on QoS 0 [MQTT-3.3.1-2]', pub({ dup: true }), 4, 'MALFORMED_PACKET');
  rejects('QoS 3', pub({ qos: 3 as 0 }), 4, 'MALFORMED_PACKET');
  rejects('subscription QoS 3', { type: 8, packetId: 1, subscriptions: [{ topicFilter: 'a', qos: 3 as 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }] }, 4, 'MALFORMED_PACKET');
  rejects('5.0 retain handling 3', { type: 8, packetId: 1, subscriptions: [{ topicFilter: 'a', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 3 as 0 }] }, 5, 'MALFORMED_PACKET');
});

describe('encoder: packet rules', () => {
  rejects('SUBSCRIBE without filters [MQTT-3.8.3-3]', { type: 8, packetId: 1, subscriptions: [] }, 4, 'PROTOCOL_ERROR');
  rejects('UNSUBSCRIBE without filters [MQTT-3.10.3-2]', { type: 10, packetId: 1, topicFilters: [] }, 5, 'PROTOCOL_ERROR');
  rejects('SUBACK without codes', { type: 9, packetId: 1, reasonCodes: [] }, 4, 'PROTOCOL_ERROR');
  rejects('3.1 SUBACK failure code', { type: 9, packetId: 1, reasonCodes: [0x80] }, 3, 'PROTOCOL_ERROR');
  rejects('3.1.1 CONNACK with a 5.0 reason code', { type: 2, sessionPresent: false, reasonCode: 0x86 }, 4, 'PROTOCOL_ERROR');
  rejects('CONNACK refusal with session present [MQTT-3.2.2-4]', { type: 2, sessionPresent: true, reasonCode: 0x80 }, 5, 'PROTOCOL_ERROR');
  rejects('5.0 PUBREL with a PUBACK reason code', { type: 6, packetId: 1, reasonCode: 0x10 }, 5, 'PROTOCOL_ERROR');
  rejects('AUTH before 5.0', { type: 15, reasonCode: 0 }, 4, 'PROTOCOL_ERROR');
  rejects('3.1.1 CONNECT password without user name [MQTT-3.1.2-22]', conn({ password: Buffer.from('p') }), 4, 'MALFORMED_PACKET');
  rejects('CONNECT level differing from the encode version', conn({ protocolVersion: 5 }), 4, 'UNSUPPORTED_PROTOCOL_VERSION');
  rejects('CONNECT name not matching its level', conn({ protocolName: 'MQIsdp' }), 4, 'UNSUPPORTED_PROTOCOL_VERSION');
  rejects('keep alive over 65,535', conn({ keepAlive: 65_536 }), 4, 'MALFORMED_PACKET');
  rejects('unknown packet type', { type: 0 } as unknown as Packet, 4, 'MALFORMED_PACKET');
});

describe('encoder: 5.0 properties', () => {
  rejects('property not allowed on the packet type', { type: 4, packetId: 1, reasonCode: 0, properties: { topicAlias: 1 } }, 5, 'MALFORMED_PACKET');
  rejects('will-only property on CONNECT', conn({ protocolVersion: 5, properties: { willDelayInterval: 1 } }), 5, 'MALFORMED_PACKET');
  rejects('two Subscription Identifiers on SUBSCRIBE', {
    type: 8, packetId: 1, properties: { subscriptionIdentifiers: [1, 2] },
    subscriptions: [{ topicFilter: 'a', qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 }],
  }, 5, 'PROTOCOL_ERROR');
  rejects('Subscription Identifier 0', pub({ properties: { subscriptionIdentifiers: [0] } }), 5, 'PROTOCOL_ERROR');
  rejects('Subscription Identifier over 268,435,455', pub({ properties: { subscriptionIdentifiers: [VARINT_MAX + 1] } }), 5, 'PROTOCOL_ERROR');
  rejects('byte property other than 0/1', pub({ properties: { payloadFormatIndicator: 2 } }), 5, 'PROTOCOL_ERROR');
  rejects('two byte property over 65,535', { type: 2, sessionPresent: false, reasonCode: 0, properties: { serverKeepAlive: 70_000 } }, 5, 'MALFORMED_PACKET');
  rejects('four byte property negative', pub({ properties: { messageExpiryInterval: -1 } }), 5, 'MALFORMED_PACKET');
  rejects('CONNECT Authentication Data without a Method', conn({ protocolVersion: 5, properties: { authenticationData: Buffer.from('x') } }), 5, 'PROTOCOL_ERROR');
  rejects('Receive Maximum 0', conn({ protocolVersion: 5, properties: { receiveMaximum: 0 } }), 5, 'PROTOCOL_ERROR');

  it('properties are not validated (nor written) for 3.1.1', () => {
    assert.equal(encodePacket(pub({ properties: { topicAlias: 70_000 } }), 4).length, 5);
  });
});
