// PacketParser: framing, zero-copy, limits, server-side CONNECT rules, failure mode.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePacket } from './encode.js';
import { MqttProtocolError } from './errors.js';
import { bytes, expectProtocolError } from './fixtures.test-support.js';
import { PacketParser } from './parser.js';
import type { ConnectPacket, Packet, ProtocolVersion, PublishPacket } from './types.js';

function collect(version?: ProtocolVersion, maxPacketSize?: number): { parser: PacketParser; packets: Packet[] } {
  const packets: Packet[] = [];
  const parser = new PacketParser({ protocolVersion: version, maxPacketSize, onPacket: (p) => packets.push(p) });
  return { parser, packets };
}

const connect = (version: ProtocolVersion): ConnectPacket => ({
  type: 1, protocolName: version === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: version, cleanStart: true, keepAlive: 0, clientId: 'c',
});
const publish = (payload: string, extra: Partial<PublishPacket> = {}): PublishPacket => ({
  type: 3, topic: 't', payload: Buffer.from(payload), qos: 0, retain: false, dup: false, ...extra,
});

describe('PacketParser framing', () => {
  it('decodes a packet wholly inside a chunk in place (payload is a view of the chunk)', () => {
    const { parser, packets } = collect(4);
    const chunk = Buffer.concat([encodePacket(publish('one'), 4), encodePacket(publish('two'), 4)]);
    parser.push(chunk);
    assert.equal(packets.length, 2);
    const second = packets[1] as PublishPacket;
    assert.equal(second.payload.toString(), 'two');
    assert.equal(second.payload.buffer, chunk.buffer);
    assert.equal(second.payload.byteOffset, chunk.byteOffset + chunk.length - 3);
  });

  it('copies a packet that spans chunks, once, and the result is right', () => {
    const { parser, packets } = collect(4);
    const wire = encodePacket(publish('x'.repeat(300)), 4);
    const a = Buffer.from(wire.subarray(0, 100));
    const b = Buffer.from(wire.subarray(100, 200));
    const c = Buffer.from(wire.subarray(200));
    parser.push(a);
    parser.push(b);
    assert.equal(packets.length, 0);
    parser.push(c);
    const p = packets[0] as PublishPacket;
    assert.equal(p.payload.toString(), 'x'.repeat(300));
    // The payload owns its bytes: wiping the chunks leaves it intact.
    for (const part of [a, b, c]) part.fill(0);
    assert.equal(p.payload.toString(), 'x'.repeat(300));
  });

  it('handles a fixed header split inside its Remaining Length', () => {
    const { parser, packets } = collect(5);
    const wire = encodePacket(publish('y'.repeat(200)), 5); // Remaining Length takes 2 bytes
    parser.push(wire.subarray(0, 2));
    parser.push(wire.subarray(2, 3));
    parser.push(wire.subarray(3));
    assert.equal((packets[0] as PublishPacket).payload.length, 200);
  });

  it('ignores empty chunks and emits packets with empty bodies as soon as their header is complete', () => {
    const { parser, packets } = collect(4);
    parser.push(Buffer.alloc(0));
    parser.push(bytes(0xc0));
    assert.equal(packets.length, 0);
    parser.push(bytes(0x00));
    assert.deepStrictEqual(packets, [{ type: 12 }]);
  });

  it('handles 4-byte Remaining Lengths (2 MB payload)', () => {
    const { parser, packets } = collect(4);
    const payload = Buffer.alloc(2_097_152, 7);
    const wire = encodePacket({ ...publish(''), payload }, 4);
    assert.equal(wire.length, 1 + 4 + 2 + 1 + payload.length);
    for (let off = 0; off < wire.length; off += 65_536) parser.push(wire.subarray(off, off + 65_536));
    assert.deepStrictEqual((packets[0] as PublishPacket).payload, payload);
  });
});

describe('PacketParser limits', () => {
  it('rejects an oversized packet from its fixed header, before any body arrives', () => {
    const { parser } = collect(4, 100);
    // PUBLISH with Remaining Length 1000 (0xe8 0x07): 1003 bytes in all.
    expectProtocolError(() => parser.push(bytes(0x30, 0xe8, 0x07)), 'PACKET_TOO_LARGE');
  });

  it('rejects it even when the header arrives a byte at a time', () => {
    const { parser } = collect(4, 100);
    parser.push(bytes(0x30));
    parser.push(bytes(0xe8));
    const err = expectProtocolError(() => parser.push(bytes(0x07)), 'PACKET_TOO_LARGE');
    assert.equal(err.reasonCode, 0x95);
  });

  it('accepts a packet of exactly maxPacketSize bytes (fixed header included)', () => {
    const wire = encodePacket(publish('abc'), 4);
    const { parser, packets } = collect(4, wire.length);
    parser.push(wire);
    assert.equal(packets.length, 1);
    const tight = collect(4, wire.length - 1);
    expectProtocolError(() => tight.parser.push(wire), 'PACKET_TOO_LARGE');
  });

  it('rejects a 5th Remaining Length byte as soon as it is seen', () => {
    const { parser } = collect(4);
    for (const b of [0x30, 0xff, 0xff, 0xff]) parser.push(bytes(b));
    expectProtocolError(() => parser.push(bytes(0xff)), 'MALFORMED_PACKET');
  });

  it('rejects a bad first byte before its length arrives', () => {
    expectProtocolError(() => collect(4).parser.push(bytes(0x36)), 'MALFORMED_PACKET');
    expectProtocolError(() => collect(4).parser.push(bytes(0x00)), 'MALFORMED_PACKET');
  });

  it('refuses a nonsensical maxPacketSize', () => {
    assert.throws(() => new PacketParser({ maxPacketSize: 0, onPacket: () => undefined }), RangeError);
  });
});

describe('PacketParser on the server side (no protocolVersion given)', () => {
  for (const version of [3, 4, 5] as const) {
    it(`v${version}: CONNECT sets protocolVersion for the packets in the same chunk`, () => {
      const { parser, packets } = collect();
      const extra = version === 5 ? { properties: { contentType: 'text/plain' } } : {};
      parser.push(Buffer.concat([encodePacket(connect(version), version), encodePacket(publish('p', extra), version)]));
      assert.equal(parser.protocolVersion, version);
      assert.deepStrictEqual(packets[1], publish('p', extra));
    });
  }

  it('the first packet must be CONNECT [MQTT-3.1.0-1], checked on its first byte', () => {
    const err = expectProtocolError(() => collect().parser.push(bytes(0x30)), 'PROTOCOL_ERROR');
    assert.match(err.message, /MQTT-3.1.0-1/);
  });

  it('a second CONNECT is a Protocol Error [MQTT-3.1.0-2]', () => {
    const { parser } = collect();
    parser.push(encodePacket(connect(4), 4));
    expectProtocolError(() => parser.push(encodePacket(connect(4), 4)), 'PROTOCOL_ERROR', /MQTT-3.1.0-2/);
  });

  it('an unsupported level is reported with the level, and leaves protocolVersion unset', () => {
    const { parser } = collect();
    const err = expectProtocolError(
      () => parser.push(bytes(0x10, 13, 0, 4, 'MQTT', 7, 0x02, 0, 0, 0, 1, 'c')),
      'UNSUPPORTED_PROTOCOL_VERSION',
    );
    assert.equal(err.protocolLevel, 7);
    assert.equal(parser.protocolVersion, undefined);
  });

  it('a malformed v5 CONNECT still tells which version the client spoke', () => {
    const { parser } = collect();
    // CONNECT properties contain Topic Alias, which CONNECT does not allow.
    const err = expectProtocolError(
      () => parser.push(bytes(0x10, 17, 0, 4, 'MQTT', 5, 0x02, 0, 0, 3, 0x23, 0, 1, 0, 1, 'c')),
      'MALFORMED_PACKET',
    );
    assert.equal(err.protocolLevel, 5);
  });
});

describe('PacketParser after a failure', () => {
  it('is unusable: every later push rethrows the same error', () => {
    const { parser, packets } = collect(4);
    const err = expectProtocolError(() => parser.push(bytes(0xc0, 0x00, 0x00, 0x00)), 'MALFORMED_PACKET');
    assert.equal(packets.length, 1); // the PINGREQ before the bad byte was delivered
    assert.throws(() => parser.push(bytes(0xc0, 0x00)), (e) => e === err);
    assert.equal(packets.length, 1);
  });

  it('an exception from onPacket propagates and also ends the parser', () => {
    const boom = new Error('handler failed');
    const parser = new PacketParser({
      protocolVersion: 4,
      onPacket: () => {
        throw boom;
      },
    });
    assert.throws(() => parser.push(bytes(0xc0, 0x00)), (e) => e === boom);
    assert.throws(() => parser.push(bytes(0xc0, 0x00)), (e) => e === boom);
  });

  it('throws only MqttProtocolError for bad bytes', () => {
    const { parser } = collect(5);
    assert.throws(() => parser.push(bytes(0x40, 3, 0, 1, 0x05)), MqttProtocolError);
  });
});
