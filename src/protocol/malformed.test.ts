// Malformed and forbidden input: each fixture must raise MqttProtocolError with the
// expected code. Grouped by spec area, with spec ids in the names.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodePacket } from './decode.js';
import type { ProtocolErrorCode } from './errors.js';
import { bytes, expectProtocolError } from './fixtures.test-support.js';
import type { ProtocolVersion } from './types.js';

type Case = [name: string, version: ProtocolVersion, wire: Buffer, code: ProtocolErrorCode];

const M = 'MALFORMED_PACKET';
const P = 'PROTOCOL_ERROR';
const U = 'UNSUPPORTED_PROTOCOL_VERSION';

function run(cases: Case[]): void {
  for (const [name, version, wire, code] of cases) {
    it(`${name} (v${version}) -> ${code}`, () => {
      expectProtocolError(() => decodePacket(wire, version), code);
    });
  }
}

/** A v5 PUBACK (id 1, reason 0) carrying `props` as its property block. */
const puback5 = (...props: (number | string)[]): Buffer => {
  const body = bytes(...props);
  return Buffer.concat([bytes(0x40, 4 + body.length, 0, 1, 0, body.length), body]);
};
/** A v5 QoS 0 PUBLISH to "t" carrying `props`. */
const publish5 = (...props: (number | string)[]): Buffer => {
  const body = bytes(...props);
  return Buffer.concat([bytes(0x30, 4 + body.length, 0, 1, 't', body.length), body]);
};
/** A v5 CONNECT, client id "c", with CONNECT properties `props`. */
const connect5 = (...props: (number | string)[]): Buffer => {
  const body = bytes(...props);
  return Buffer.concat([bytes(0x10, 14 + body.length, 0, 4, 'MQTT', 5, 0x02, 0, 0, body.length), body, bytes(0, 1, 'c')]);
};
/** A CONNECT with `flags`, client id "c", then `rest`. */
const connect4 = (flags: number, ...rest: (number | string)[]): Buffer => {
  const tail = bytes(...rest);
  return Buffer.concat([bytes(0x10, 13 + tail.length, 0, 4, 'MQTT', 4, flags, 0, 0, 0, 1, 'c'), tail]);
};

describe('fixed header', () => {
  run([
    ['packet type 0 is reserved', 4, bytes(0x00, 0), M],
    ['AUTH does not exist before 5.0', 4, bytes(0xf0, 0), M],
    ['PUBREL flags must be 0010 [MQTT-2.2.2-1/2]', 4, bytes(0x60, 2, 0, 1), M],
    ['PUBREL with DUP is only 3.1 [MQTT-2.2.2-1/2]', 4, bytes(0x6a, 2, 0, 1), M],
    ['SUBSCRIBE flags must be 0010 [MQTT-2.2.2-1/2]', 4, bytes(0x80, 6, 0, 1, 0, 1, 'a', 0), M],
    ['UNSUBSCRIBE flags must be 0010 [MQTT-2.2.2-1/2]', 5, bytes(0xa0, 6, 0, 1, 0, 0, 1, 'a'), M],
    ['PUBACK flags must be 0 [MQTT-2.2.2-1/2]', 4, bytes(0x41, 2, 0, 1), M],
    ['PINGREQ flags must be 0 [MQTT-2.2.2-1/2]', 5, bytes(0xc8, 0), M],
    ['PUBLISH QoS 3 [MQTT-3.3.1-4]', 4, bytes(0x36, 5, 0, 1, 't', 0, 1), M],
    ['PUBLISH DUP with QoS 0 [MQTT-3.3.1-2]', 4, bytes(0x38, 3, 0, 1, 't'), M],
    ['Remaining Length with a 5th byte', 4, bytes(0x30, 0x80, 0x80, 0x80, 0x80, 0x01), M],
    ['Remaining Length not minimal [MQTT-1.5.5-1]', 4, bytes(0xc0, 0x80, 0x00), M],
    ['missing bytes', 4, bytes(0x40, 2, 0), M],
    ['extra bytes after the packet', 4, bytes(0xc0, 0, 0), M],
    ['empty input', 4, bytes(), M],
  ]);
});

describe('UTF-8 strings [MQTT-1.5.3-1/2]', () => {
  run([
    ['invalid sequence', 4, bytes(0x30, 4, 0, 2, 0xc3, 0x28), M],
    ['U+0000', 4, bytes(0x30, 3, 0, 1, 0x00), M],
    ['UTF-16 surrogate encoded in UTF-8', 5, bytes(0x30, 6, 0, 3, 0xed, 0xa0, 0x80, 0), M],
    ['overlong NUL', 4, bytes(0x30, 4, 0, 2, 0xc0, 0x80), M],
    ['string longer than its packet', 4, bytes(0x30, 3, 0, 5, 'a'), M],
    ['bad UTF-8 in a user property', 5, puback5(0x26, 0, 1, 0xff, 0, 0), M],
    ['bad UTF-8 in a SUBSCRIBE topic filter', 4, bytes(0x82, 6, 0, 1, 0, 1, 0xfe, 0), M],
    ['bad UTF-8 in the client id', 4, bytes(0x10, 13, 0, 4, 'MQTT', 4, 0x02, 0, 0, 0, 1, 0xc3), M],
  ]);
});

describe('packet identifiers [MQTT-2.3.1-1]', () => {
  run([
    ['PUBLISH QoS 1 with packet id 0', 4, bytes(0x32, 5, 0, 1, 't', 0, 0), P],
    ['PUBACK with packet id 0', 5, bytes(0x40, 2, 0, 0), P],
    ['PUBREL with packet id 0', 3, bytes(0x62, 2, 0, 0), P],
    ['SUBSCRIBE with packet id 0', 4, bytes(0x82, 6, 0, 0, 0, 1, 'a', 0), P],
    ['UNSUBSCRIBE with packet id 0', 4, bytes(0xa2, 5, 0, 0, 0, 1, 'a'), P],
    ['SUBACK with packet id 0', 4, bytes(0x90, 3, 0, 0, 0), P],
    ['UNSUBACK with packet id 0', 4, bytes(0xb0, 2, 0, 0), P],
    ['PUBLISH QoS 1 without a packet id', 4, bytes(0x32, 4, 0, 1, 't', 0), M],
  ]);
});

describe('CONNECT (3.1)', () => {
  run([
    ['reserved flag bit 0 [MQTT-3.1.2-3]', 4, connect4(0x03), M],
    ['Will QoS without Will Flag [MQTT-3.1.2-11/13]', 4, connect4(0x0a), M],
    ['Will Retain without Will Flag [MQTT-3.1.2-11/15]', 4, connect4(0x22), M],
    ['Will QoS 3 [MQTT-3.1.2-14]', 4, connect4(0x1e, 0, 1, 'w', 0, 0), M],
    ['password without user name [MQTT-3.1.2-22]', 4, connect4(0x42, 0, 1, 'p'), M],
    ['user name flag but no user name', 4, connect4(0x82), M],
    ['will flag but no will topic', 4, connect4(0x06), M],
    ['trailing bytes', 4, connect4(0x02, 0), M],
    ['"MQTT" with level 3', 3, bytes(0x10, 13, 0, 4, 'MQTT', 3, 0x02, 0, 0, 0, 1, 'c'), U],
    ['"MQIsdp" with level 4', 4, bytes(0x10, 15, 0, 6, 'MQIsdp', 4, 0x02, 0, 0, 0, 1, 'c'), U],
    ['level 6', 5, bytes(0x10, 13, 0, 4, 'MQTT', 6, 0x02, 0, 0, 0, 1, 'c'), U],
    ['unknown protocol name', 4, bytes(0x10, 13, 0, 4, 'HTTP', 4, 0x02, 0, 0, 0, 1, 'c'), U],
    ['truncated before the level', 4, bytes(0x10, 6, 0, 4, 'MQTT'), M],
  ]);

  it('UNSUPPORTED_PROTOCOL_VERSION carries the level the client sent', () => {
    const err = expectProtocolError(() => decodePacket(bytes(0x10, 13, 0, 4, 'MQTT', 6, 0x02, 0, 0, 0, 1, 'c'), 5), U);
    assert.equal(err.protocolLevel, 6);
    assert.equal(err.reasonCode, 0x84);
  });

  it('later CONNECT errors carry the level too, so the CONNACK can be answered in kind', () => {
    const err = expectProtocolError(() => decodePacket(connect5(0x24, 1), 5), M);
    assert.equal(err.protocolLevel, 5);
    assert.equal(expectProtocolError(() => decodePacket(connect4(0x03), 4), M).protocolLevel, 4);
  });

  it('5.0 allows a password without a user name', () => {
    const wire = bytes(0x10, 18, 0, 4, 'MQTT', 5, 0x42, 0, 0, 0, 0, 1, 'c', 0, 2, 'pw');
    assert.deepStrictEqual(decodePacket(wire, 5), {
      type: 1, protocolName: 'MQTT', protocolVersion: 5, cleanStart: true, keepAlive: 0, clientId: 'c', password: bytes('pw'),
    });
  });
});

describe('CONNACK (3.2)', () => {
  run([
    ['acknowledge flags bits 7-1 [MQTT-3.2.2-1]', 4, bytes(0x20, 2, 2, 0), M],
    ['return code 6 is reserved', 4, bytes(0x20, 2, 0, 6), P],
    ['5.0 reason code not defined for CONNACK', 5, bytes(0x20, 3, 0, 0x8e, 0), P],
    ['session present with a refusal [MQTT-3.2.2-4]', 4, bytes(0x20, 2, 1, 5), P],
    ['3.1.1 CONNACK of 3 bytes', 4, bytes(0x20, 3, 0, 0, 0), M],
    ['5.0 CONNACK without property length', 5, bytes(0x20, 2, 0, 0), M],
  ]);
});

describe('acks, PING, DISCONNECT, AUTH', () => {
  run([
    ['3.1.1 PUBACK with a reason code byte', 4, bytes(0x40, 3, 0, 1, 0), M],
    ['5.0 PUBACK reason code not defined for it', 5, bytes(0x40, 3, 0, 1, 0x05), P],
    ['5.0 PUBREL with a PUBACK-only reason code', 5, bytes(0x62, 3, 0, 1, 0x10), P],
    ['PINGREQ with a body', 4, bytes(0xc0, 1, 0), M],
    ['3.1.1 DISCONNECT with a body', 4, bytes(0xe0, 1, 0), M],
    ['5.0 DISCONNECT reason code not defined for it', 5, bytes(0xe0, 1, 0x18), P],
    ['5.0 AUTH reason code not defined for it', 5, bytes(0xf0, 1, 0x80), P],
  ]);
});

describe('SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK (3.8-3.11)', () => {
  run([
    ['SUBSCRIBE without topic filters [MQTT-3.8.3-3]', 4, bytes(0x82, 2, 0, 1), P],
    ['5.0 SUBSCRIBE without topic filters [MQTT-3.8.3-3]', 5, bytes(0x82, 3, 0, 1, 0), P],
    ['SUBSCRIBE requested QoS 3 [MQTT-3-8.3-4]', 4, bytes(0x82, 6, 0, 1, 0, 1, 'a', 3), M],
    ['SUBSCRIBE reserved option bits before 5.0 [MQTT-3-8.3-4]', 4, bytes(0x82, 6, 0, 1, 0, 1, 'a', 0x04), M],
    ['5.0 SUBSCRIBE reserved option bits 6-7 [MQTT-3.8.3-5]', 5, bytes(0x82, 7, 0, 1, 0, 0, 1, 'a', 0x40), M],
    ['5.0 SUBSCRIBE Maximum QoS 3 (3.8.3.1)', 5, bytes(0x82, 7, 0, 1, 0, 0, 1, 'a', 0x03), P],
    ['5.0 SUBSCRIBE Retain Handling 3 (3.8.3.1)', 5, bytes(0x82, 7, 0, 1, 0, 0, 1, 'a', 0x30), P],
    ['SUBSCRIBE topic filter without options byte', 4, bytes(0x82, 5, 0, 1, 0, 1, 'a'), M],
    ['SUBACK without return codes', 4, bytes(0x90, 2, 0, 1), P],
    ['3.1 SUBACK has no failure code', 3, bytes(0x90, 3, 0, 1, 0x80), P],
    ['3.1.1 SUBACK return code 3', 4, bytes(0x90, 3, 0, 1, 3), P],
    ['5.0 SUBACK reason code not defined for it', 5, bytes(0x90, 4, 0, 1, 0, 0x10), P],
    ['UNSUBSCRIBE without topic filters [MQTT-3.10.3-2]', 4, bytes(0xa2, 2, 0, 1), P],
    ['3.1.1 UNSUBACK with a payload', 4, bytes(0xb0, 3, 0, 1, 0), M],
    ['5.0 UNSUBACK without reason codes', 5, bytes(0xb0, 3, 0, 1, 0), P],
  ]);
});

describe('5.0 properties (2.2.2)', () => {
  run([
    ['unknown property identifier', 5, puback5(0x05, 0), M],
    ['identifier 0', 5, puback5(0x00), M],
    ['property not allowed on the packet type', 5, puback5(0x23, 0, 1), M],
    ['Will Delay Interval among CONNECT properties', 5, connect5(0x18, 0, 0, 0, 1), M],
    ['Session Expiry among will properties', 5,
      bytes(0x10, 25, 0, 4, 'MQTT', 5, 0x06, 0, 0, 0, 0, 1, 'c', 5, 0x11, 0, 0, 0, 1, 0, 1, 'w', 0, 0), M],
    ['Content Type twice', 5, publish5(0x03, 0, 1, 'a', 0x03, 0, 1, 'b'), P],
    ['Reason String twice', 5, puback5(0x1f, 0, 0, 0x1f, 0, 0), P],
    ['two Subscription Identifiers on SUBSCRIBE', 5, bytes(0x82, 11, 0, 1, 4, 0x0b, 1, 0x0b, 2, 0, 1, 'a', 0), P],
    ['Subscription Identifier 0', 5, publish5(0x0b, 0), P],
    ['Subscription Identifier of 5 bytes', 5, publish5(0x0b, 0x80, 0x80, 0x80, 0x80, 0x01), M],
    ['Payload Format Indicator 2', 5, publish5(0x01, 2), P],
    ['Receive Maximum 0', 5, connect5(0x21, 0, 0), P],
    ['Maximum Packet Size 0', 5, connect5(0x27, 0, 0, 0, 0), P],
    ['CONNECT Authentication Data without a Method (3.1.2.11.10)', 5, connect5(0x16, 0, 1, 0xaa), P],
    ['Property Length past the packet end', 5, bytes(0x40, 5, 0, 1, 0, 9, 0x1f), M],
    ['property value crossing the Property Length', 5, bytes(0x40, 9, 0, 1, 0, 2, 0x1f, 0, 2, 'a', 'b'), M],
  ]);

  it('repeated user properties and Subscription Identifiers on PUBLISH are allowed', () => {
    const packet = decodePacket(publish5(0x0b, 1, 0x0b, 2, 0x26, 0, 1, 'a', 0, 0, 0x26, 0, 1, 'a', 0, 0), 5);
    assert.deepStrictEqual(packet.type === 3 && packet.properties, {
      subscriptionIdentifiers: [1, 2],
      userProperties: [['a', ''], ['a', '']],
    });
  });
});
