// Property tests: encode/decode round trips and stream framing under any chunking.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  chunk,
  publishArb,
  normalizePacket,
  packetArb,
  serverStreamArb,
  VERSIONS,
} from './arbitraries.test-support.js';
import { decodePacket } from './decode.js';
import { encodePacket } from './encode.js';
import { encodePublish } from './encode-publish.js';
import { PacketParser } from './parser.js';
import type { Packet, ProtocolVersion } from './types.js';

function parseAll(chunks: Buffer[], version: ProtocolVersion | undefined): Packet[] {
  const packets: Packet[] = [];
  const parser = new PacketParser({ protocolVersion: version, onPacket: (p) => packets.push(p) });
  for (const c of chunks) parser.push(c);
  return packets;
}

const chunkSizesArb = fc.oneof(
  fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 10 }),
  fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 10 }),
);

for (const version of VERSIONS) {
  describe(`round trip, MQTT level ${version}`, () => {
    it('decode(encode(p)) equals p, and re-encoding gives the same bytes', () => {
      fc.assert(
        fc.property(packetArb(version), (packet) => {
          const bytes = encodePacket(packet, version);
          const decoded = decodePacket(bytes, version);
          assert.deepStrictEqual(decoded, normalizePacket(packet, version));
          assert.deepStrictEqual(encodePacket(decoded, version), bytes);
        }),
        { numRuns: 3000 },
      );
    });

    it('encodePublish gives the same bytes as encodePacket', () => {
      fc.assert(
        fc.property(publishArb(version), (packet) => {
          assert.deepStrictEqual(encodePublish(packet, version), encodePacket(packet, version));
        }),
        { numRuns: 500 },
      );
    });

    it('any chunking of a stream of packets yields the same packets (known version)', () => {
      fc.assert(
        fc.property(fc.array(packetArb(version, { maxPayload: 200 }), { maxLength: 15 }), chunkSizesArb, (packets, sizes) => {
          const stream = Buffer.concat(packets.map((p) => encodePacket(p, version)));
          const expected = packets.map((p) => normalizePacket(p, version));
          assert.deepStrictEqual(parseAll(chunk(stream, sizes), version), expected);
        }),
        { numRuns: 400 },
      );
    });

    it('server side: CONNECT sets the version for the packets after it, under any chunking', () => {
      fc.assert(
        fc.property(serverStreamArb(version), chunkSizesArb, (packets, sizes) => {
          const stream = Buffer.concat(packets.map((p) => encodePacket(p, version)));
          const got: Packet[] = [];
          const parser = new PacketParser({ onPacket: (p) => got.push(p) });
          assert.equal(parser.protocolVersion, undefined);
          for (const c of chunk(stream, sizes)) parser.push(c);
          assert.equal(parser.protocolVersion, version);
          assert.deepStrictEqual(got, packets.map((p) => normalizePacket(p, version)));
        }),
        { numRuns: 300 },
      );
    });

    it('one byte at a time', () => {
      fc.assert(
        fc.property(serverStreamArb(version, 6), (packets) => {
          const stream = Buffer.concat(packets.map((p) => encodePacket(p, version)));
          assert.deepStrictEqual(parseAll(chunk(stream, [1]), undefined), packets.map((p) => normalizePacket(p, version)));
        }),
        { numRuns: 100 },
      );
    });
  });
}
