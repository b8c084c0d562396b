// Golden bytes: each fixture is an annotated byte array that must decode to the packet,
// and the packet must encode to exactly those bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodePacket } from './decode.js';
import { encodePacket } from './encode.js';
import { bytes } from './fixtures.test-support.js';
import type { Packet, ProtocolVersion } from './types.js';

interface Fixture {
  name: string;
  version: ProtocolVersion;
  packet: Packet;
  wire: Buffer;
}

const B = (s: string): Buffer => Buffer.from(s);

const FIXTURES: Fixture[] = [
  {
    name: 'v4 CONNECT with user name and password',
    version: 4,
    packet: { type: 1, protocolName: 'MQTT', protocolVersion: 4, cleanStart: true, keepAlive: 60, clientId: 'c1', username: 'u', password: B('p') },
    // type 1, remaining 20 | "MQTT" | level 4 | flags user+password+clean | keep alive 60 | "c1" | "u" | "p"
    wire: bytes(0x10, 20, 0, 4, 'MQTT', 4, 0xc2, 0, 60, 0, 2, 'c1', 0, 1, 'u', 0, 1, 'p'),
  },
  {
    name: 'v3 CONNECT (MQIsdp) with a retained QoS 1 will',
    version: 3,
    packet: {
      type: 1, protocolName: 'MQIsdp', protocolVersion: 3, cleanStart: true, keepAlive: 10, clientId: 'abc',
      will: { topic: 'w', payload: B('x'), qos: 1, retain: true },
    },
    // flags: will retain 0x20 | will QoS 1 0x08 | will 0x04 | clean 0x02 = 0x2e
    wire: bytes(0x10, 23, 0, 6, 'MQIsdp', 3, 0x2e, 0, 10, 0, 3, 'abc', 0, 1, 'w', 0, 1, 'x'),
  },
  {
    name: 'v5 CONNECT with properties, empty client id',
    version: 5,
    packet: {
      type: 1, protocolName: 'MQTT', protocolVersion: 5, cleanStart: true, keepAlive: 0, clientId: '',
      properties: { sessionExpiryInterval: 120, receiveMaximum: 10, userProperties: [['k', 'v']] },
    },
    // ... | property length 15: 0x11 u32 120 | 0x21 u16 10 | 0x26 "k" "v" | client id ""
    wire: bytes(0x10, 28, 0, 4, 'MQTT', 5, 0x02, 0, 0, 15, 0x11, 0, 0, 0, 120, 0x21, 0, 10, 0x26, 0, 1, 'k', 0, 1, 'v', 0, 0),
  },
  {
    name: 'v5 CONNECT with will properties and a password but no user name',
    version: 5,
    packet: {
      type: 1, protocolName: 'MQTT', protocolVersion: 5, cleanStart: false, keepAlive: 30, clientId: 'id',
      will: { topic: 't', payload: B(''), qos: 2, retain: false, properties: { willDelayInterval: 5 } },
      password: B('pw'),
    },
    // flags: password 0x40 | will QoS 2 0x10 | will 0x04 = 0x54 | no CONNECT properties | will properties 0x18 u32 5
    wire: bytes(0x10, 30, 0, 4, 'MQTT', 5, 0x54, 0, 30, 0, 0, 2, 'id', 5, 0x18, 0, 0, 0, 5, 0, 1, 't', 0, 0, 0, 2, 'pw'),
  },
  { name: 'v4 CONNACK session present', version: 4, packet: { type: 2, sessionPresent: true, reasonCode: 0 }, wire: bytes(0x20, 2, 1, 0) },
  { name: 'v3 CONNACK refused', version: 3, packet: { type: 2, sessionPresent: false, reasonCode: 5 }, wire: bytes(0x20, 2, 0, 5) },
  { name: 'v5 CONNACK bare', version: 5, packet: { type: 2, sessionPresent: false, reasonCode: 0 }, wire: bytes(0x20, 3, 0, 0, 0) },
  {
    name: 'v5 CONNACK with properties',
    version: 5,
    packet: { type: 2, sessionPresent: false, reasonCode: 0x87, properties: { topicAliasMaximum: 10, maximumQoS: 1 } },
    wire: bytes(0x20, 8, 0, 0x87, 5, 0x22, 0, 10, 0x24, 1),
  },
  {
    name: 'v4 PUBLISH QoS 1',
    version: 4,
    packet: { type: 3, topic: 'a/b', payload: B('hi'), qos: 1, retain: false, dup: false, packetId: 7 },
    wire: bytes(0x32, 9, 0, 3, 'a/b', 0, 7, 'hi'),
  },
  {
    name: 'v4 PUBLISH QoS 2 DUP retained',
    version: 4,
    packet: { type: 3, topic: 't', payload: B(''), qos: 2, retain: true, dup: true, packetId: 0xffff },
    wire: bytes(0x3d, 5, 0, 1, 't', 0xff, 0xff),
  },
  {
    name: 'v3 PUBLISH QoS 0 retained, non-ASCII topic',
    version: 3,
    packet: { type: 3, topic: 'é', payload: B('xy'), qos: 0, retain: true, dup: false },
    wire: bytes(0x31, 6, 0, 2, 0xc3, 0xa9, 'xy'),
  },
  {
    name: 'v5 PUBLISH with two subscription identifiers',
    version: 5,
    packet: {
      type: 3, topic: 'a', payload: B('z'), qos: 1, retain: false, dup: false, packetId: 1,
      properties: { payloadFormatIndicator: 1, subscriptionIdentifiers: [1, 128] },
    },
    // properties (7): 0x01 1 | 0x0b 1 | 0x0b 0x80 0x01 (varint 128)
    wire: bytes(0x32, 14, 0, 1, 'a', 0, 1, 7, 0x01, 1, 0x0b, 1, 0x0b, 0x80, 0x01, 'z'),
  },
  {
    name: 'v5 PUBLISH QoS 0 with no properties',
    version: 5,
    packet: { type: 3, topic: 'a', payload: B('z'), qos: 0, retain: false, dup: false },
    wire: bytes(0x30, 5, 0, 1, 'a', 0, 'z'),
  },
  { name: 'v4 PUBACK', version: 4, packet: { type: 4, packetId: 7, reasonCode: 0 }, wire: bytes(0x40, 2, 0, 7) },
  { name: 'v4 PUBREC', version: 4, packet: { type: 5, packetId: 7, reasonCode: 0 }, wire: bytes(0x50, 2, 0, 7) },
  { name: 'v4 PUBREL (flags 0010)', version: 4, packet: { type: 6, packetId: 7, reasonCode: 0 }, wire: bytes(0x62, 2, 0, 7) },
  { name: 'v4 PUBCOMP', version: 4, packet: { type: 7, packetId: 7, reasonCode: 0 }, wire: bytes(0x70, 2, 0, 7) },
  { name: 'v5 PUBACK short form (3.4.2.1)', version: 5, packet: { type: 4, packetId: 1, reasonCode: 0 }, wire: bytes(0x40, 2, 0, 1) },
  { name: 'v5 PUBREC reason code, no properties', version: 5, packet: { type: 5, packetId: 1, reasonCode: 0x10 }, wire: bytes(0x50, 3, 0, 1, 0x10) },
  {
    name: 'v5 PUBCOMP with a reason string',
    version: 5,
    packet: { type: 7, packetId: 1, reasonCode: 0, properties: { reasonString: 'r' } },
    wire: bytes(0x70, 8, 0, 1, 0, 4, 0x1f, 0, 1, 'r'),
  },
  {
    name: 'v4 SUBSCRIBE two filters',
    version: 4,
    packet: {
      type: 8, packetId: 1, subscriptions: [
        { topicFilter: 'a/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        { topicFilter: '+', qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0 },
      ],
    },
    wire: bytes(0x82, 12, 0, 1, 0, 3, 'a/#', 1, 0, 1, '+', 2),
  },
  {
    name: 'v5 SUBSCRIBE with options and a subscription identifier',
    version: 5,
    packet: {
      type: 8, packetId: 5, properties: { subscriptionIdentifiers: [7] },
      subscriptions: [{ topicFilter: 'x', qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 }],
    },
    // options: retain handling 2 << 4 | RAP 0x08 | NL 0x04 | QoS 1 = 0x2d
    wire: bytes(0x82, 9, 0, 5, 2, 0x0b, 7, 0, 1, 'x', 0x2d),
  },
  { name: 'v4 SUBACK with a failure', version: 4, packet: { type: 9, packetId: 1, reasonCodes: [0, 1, 0x80] }, wire: bytes(0x90, 5, 0, 1, 0, 1, 0x80) },
  { name: 'v5 SUBACK', version: 5, packet: { type: 9, packetId: 5, reasonCodes: [0, 0xa2] }, wire: bytes(0x90, 5, 0, 5, 0, 0, 0xa2) },
  { name: 'v4 UNSUBSCRIBE', version: 4, packet: { type: 10, packetId: 2, topicFilters: ['x'] }, wire: bytes(0xa2, 5, 0, 2, 0, 1, 'x') },
  { name: 'v4 UNSUBACK has no payload', version: 4, packet: { type: 11, packetId: 2, reasonCodes: [] }, wire: bytes(0xb0, 2, 0, 2) },
  { name: 'v5 UNSUBACK', version: 5, packet: { type: 11, packetId: 5, reasonCodes: [0, 0x11] }, wire: bytes(0xb0, 5, 0, 5, 0, 0, 0x11) },
  { name: 'PINGREQ', version: 4, packet: { type: 12 }, wire: bytes(0xc0, 0) },
  { name: 'PINGRESP', version: 5, packet: { type: 13 }, wire: bytes(0xd0, 0) },
  { name: 'v4 DISCONNECT', version: 4, packet: { type: 14, reasonCode: 0 }, wire: bytes(0xe0, 0) },
  { name: 'v5 DISCONNECT short form (3.14.2.1)', version: 5, packet: { type: 14, reasonCode: 0 }, wire: bytes(0xe0, 0) },
  { name: 'v5 DISCONNECT reason code only', version: 5, packet: { type: 14, reasonCode: 0x8e }, wire: bytes(0xe0, 1, 0x8e) },
  {
    name: 'v5 DISCONNECT with session expiry',
    version: 5,
    packet: { type: 14, reasonCode: 0, properties: { sessionExpiryInterval: 60 } },
    wire: bytes(0xe0, 7, 0, 5, 0x11, 0, 0, 0, 60),
  },
  { name: 'v5 AUTH short form (3.15.2.1)', version: 5, packet: { type: 15, reasonCode: 0 }, wire: bytes(0xf0, 0) },
  {
    name: 'v5 AUTH continue with a method',
    version: 5,
    packet: { type: 15, reasonCode: 0x18, properties: { authenticationMethod: 'm' } },
    wire: bytes(0xf0, 6, 0x18, 4, 0x15, 0, 1, 'm'),
  },
  { name: 'v5 AUTH re-authenticate, no properties', version: 5, packet: { type: 15, reasonCode: 0x19 }, wire: bytes(0xf0, 2, 0x19, 0) },
];

describe('golden bytes', () => {
  for (const f of FIXTURES) {
    it(`${f.name}: encodes to the fixture`, () => {
      assert.deepStrictEqual(encodePacket(f.packet, f.version), f.wire);
    });
    it(`${f.name}: decodes from the fixture`, () => {
      assert.deepStrictEqual(decodePacket(f.wire, f.version), f.packet);
    });
  }
});

describe('alternative encodings the decoder accepts', () => {
  const cases: [string, ProtocolVersion, Buffer, Packet][] = [
    ['v5 PUBACK with explicit Success and empty properties', 5, bytes(0x40, 4, 0, 1, 0, 0), { type: 4, packetId: 1, reasonCode: 0 }],
    ['v5 DISCONNECT with explicit code and empty properties', 5, bytes(0xe0, 2, 0, 0), { type: 14, reasonCode: 0 }],
    ['v5 AUTH with reason code only', 5, bytes(0xf0, 1, 0x18), { type: 15, reasonCode: 0x18 }],
    ['v3 PUBREL with DUP (3.1 retransmission)', 3, bytes(0x6a, 2, 0, 1), { type: 6, packetId: 1, reasonCode: 0 }],
    ['v3 CONNACK ignores the reserved first byte', 3, bytes(0x20, 2, 1, 0), { type: 2, sessionPresent: false, reasonCode: 0 }],
    ['user properties keep order and duplicates', 5, bytes(0x40, 18, 0, 1, 0, 14, 0x26, 0, 1, 'k', 0, 1, '2', 0x26, 0, 1, 'k', 0, 1, '1'),
      { type: 4, packetId: 1, reasonCode: 0, properties: { userProperties: [['k', '2'], ['k', '1']] } }],
    ['a leading BOM in a string is kept [MQTT-1.5.3-3]', 4, bytes(0x30, 6, 0, 3, 0xef, 0xbb, 0xbf, 'x'),
      { type: 3, topic: '\ufeff', payload: bytes('x'), qos: 0, retain: false, dup: false }],
  ];
  for (const [name, version, wire, packet] of cases) {
    it(name, () => assert.deepStrictEqual(decodePacket(wire, version), packet));
  }
});

describe('5.0-only fields are ignored for 3.1/3.1.1', () => {
  it('properties, ack reason codes, subscription options and UNSUBACK codes are not written', () => {
    const props = { reasonString: 'x' };
    assert.deepStrictEqual(encodePacket({ type: 4, packetId: 1, reasonCode: 0x80, properties: props }, 4), bytes(0x40, 2, 0, 1));
    assert.deepStrictEqual(encodePacket({ type: 11, packetId: 1, reasonCodes: [0x11], properties: props }, 4), bytes(0xb0, 2, 0, 1));
    assert.deepStrictEqual(encodePacket({ type: 14, reasonCode: 0x8e, properties: props }, 3), bytes(0xe0, 0));
    assert.deepStrictEqual(
      encodePacket({ type: 8, packetId: 1, subscriptions: [{ topicFilter: 'a', qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 2 }] }, 4),
      bytes(0x82, 6, 0, 1, 0, 1, 'a', 1),
    );
    assert.deepStrictEqual(
      encodePacket({ type: 3, topic: 'a', payload: bytes(), qos: 0, retain: false, dup: false, properties: { contentType: 'x' } }, 4),
      bytes(0x30, 3, 0, 1, 'a'),
    );
  });

  it('MQTT 3.1 CONNACK never sets Session Present', () => {
    assert.deepStrictEqual(encodePacket({ type: 2, sessionPresent: true, reasonCode: 0 }, 3), bytes(0x20, 2, 0, 0));
  });
});
