// Cross-check against mqtt-packet v9 (the MQTT.js codec), both directions, 3.1/3.1.1/5.0.
// Generation is restricted where mqtt-packet cannot represent a valid packet faithfully
// (see PacketArbOptions.mqttPacketCompatible for each quirk and why).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { normalizePacket, packetArb, VERSIONS } from './arbitraries.test-support.js';
import { decodePacket } from './decode.js';
import { encodePacket } from './encode.js';
import { fromMp, mpGenerate, mpParse } from './mqtt-packet-convert.test-support.js';
import type { Packet, ProtocolVersion } from './types.js';

/** Per version and direction; 3 versions x 4,000 = 12,000 packets each way. */
const RUNS = 4000;
const compatible = { mqttPacketCompatible: true } as const;

function countTypes(seen: Map<number, number>, packet: Packet): void {
  seen.set(packet.type, (seen.get(packet.type) ?? 0) + 1);
}

function assertAllTypesSeen(seen: Map<number, number>, version: ProtocolVersion): void {
  const expected = version === 5 ? 15 : 14;
  assert.equal(seen.size, expected, `packet types generated: ${[...seen.keys()].sort((a, b) => a - b).join(',')}`);
}

describe('cross-check with mqtt-packet', () => {
  for (const version of VERSIONS) {
    it(`v${version}: mqtt-packet parses our bytes into the same packet (${RUNS} packets)`, () => {
      const seen = new Map<number, number>();
      fc.assert(
        fc.property(packetArb(version, compatible), (packet) => {
          countTypes(seen, packet);
          const bytes = encodePacket(packet, version);
          const theirs = fromMp(mpParse(bytes, version), version);
          assert.deepStrictEqual(theirs, normalizePacket(packet, version));
        }),
        { numRuns: RUNS },
      );
      assertAllTypesSeen(seen, version);
    });

    it(`v${version}: we decode mqtt-packet's bytes into the same packet (${RUNS} packets)`, () => {
      const seen = new Map<number, number>();
      fc.assert(
        fc.property(packetArb(version, compatible), (packet) => {
          countTypes(seen, packet);
          const bytes = mpGenerate(packet, version);
          assert.deepStrictEqual(decodePacket(bytes, version), normalizePacket(packet, version));
        }),
        { numRuns: RUNS },
      );
      assertAllTypesSeen(seen, version);
    });
  }

  // 3.1/3.1.1 have a single canonical encoding, so the bytes must match exactly. 5.0 does
  // not (property order is free; we use the short ack forms where mqtt-packet does not).
  for (const version of [3, 4] as const) {
    it(`v${version}: our bytes equal mqtt-packet's bytes`, () => {
      fc.assert(
        fc.property(packetArb(version, compatible), (packet) => {
          assert.deepStrictEqual(encodePacket(packet, version), mpGenerate(packet, version));
        }),
        { numRuns: 2000 },
      );
    });
  }
});
