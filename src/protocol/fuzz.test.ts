// Hostile input: random bytes and mutated valid streams must never make the codec throw
// anything but MqttProtocolError with one of its four codes. Whatever it does accept
// must survive a re-encode round trip (the encoder accepts all the decoder produces).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { chunk, packetArb, serverStreamArb, VERSIONS } from './arbitraries.test-support.js';
import { decodePacket } from './decode.js';
import { encodePacket } from './encode.js';
import { MqttProtocolError, type ProtocolErrorCode } from './errors.js';
import { PacketParser } from './parser.js';
import { ReasonCode } from './reason-codes.js';
import type { Packet, ProtocolVersion } from './types.js';

const REASON: Record<ProtocolErrorCode, number> = {
  MALFORMED_PACKET: ReasonCode.MALFORMED_PACKET,
  PROTOCOL_ERROR: ReasonCode.PROTOCOL_ERROR,
  PACKET_TOO_LARGE: ReasonCode.PACKET_TOO_LARGE,
  UNSUPPORTED_PROTOCOL_VERSION: ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
};

/** Runs `fn`; an exception must be a MqttProtocolError with a known code. Returns it. */
function onlyProtocolErrors(fn: () => void): MqttProtocolError | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof MqttProtocolError, `threw a non-protocol error: ${String(err)}`);
    assert.ok(err.code in REASON, `unknown code ${err.code}`);
    assert.equal(err.reasonCode, REASON[err.code]);
    return err;
  }
}

/** Every accepted packet re-encodes, and decodes back to itself. */
function assertReencodes(packet: Packet, streamVersion: ProtocolVersion): void {
  // A CONNECT names its own level, whatever the stream's version.
  const version = packet.type === 1 ? packet.protocolVersion : streamVersion;
  const bytes = encodePacket(packet, version);
  assert.deepStrictEqual(decodePacket(bytes, version), packet);
}

function feed(chunks: Buffer[], version: ProtocolVersion | undefined, maxPacketSize?: number): void {
  const packets: Packet[] = [];
  const parser = new PacketParser({ protocolVersion: version, maxPacketSize, onPacket: (p) => packets.push(p) });
  const err = onlyProtocolErrors(() => {
    for (const c of chunks) parser.push(c);
  });
  const streamVersion = parser.protocolVersion;
  if (streamVersion !== undefined) for (const p of packets) assertReencodes(p, streamVersion);
  if (err !== undefined) {
    // Unusable after a throw: the same error again.
    assert.throws(() => parser.push(Buffer.from([0xc0, 0x00])), (e) => e === err);
  }
}

const streamWithVersionArb = fc
  .constantFrom<ProtocolVersion>(3, 4, 5)
  .chain((v) => serverStreamArb(v, 2).map((packets) => [v, packets] as const));
const sizesArb = fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 6 });
const versionArb = fc.constantFrom<ProtocolVersion | undefined>(undefined, 3, 4, 5);

/** A fixed header that frames `body` exactly, with any first byte: reaches every body decoder. */
const VALID_FIRST_BYTES = [
  0x10, 0x20, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x3a, 0x3b, 0x3c, 0x3d, 0x40, 0x50, 0x62, 0x70, 0x82, 0x90,
  0xa2, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0,
];
const firstByteArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...VALID_FIRST_BYTES) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);
const framedGarbageArb = fc.tuple(firstByteArb, fc.uint8Array({ maxLength: 80 })).map(([first, body]) => {
  const len = body.length;
  const header = len < 128 ? [first, len] : [first, (len & 0x7f) | 0x80, len >> 7];
  return Buffer.concat([Buffer.from(header), body]);
});

type Mutation = { at: number; op: 'set' | 'flip' | 'insert' | 'delete' | 'truncate'; value: number };
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('set', 'flip', 'insert', 'delete', 'truncate'),
  value: fc.integer({ min: 0, max: 255 }),
});

function mutate(bytes: Buffer, mutations: Mutation[]): Buffer {
  let b = Buffer.from(bytes);
  for (const m of mutations) {
    if (b.length === 0) break;
    const i = m.at % b.length;
    if (m.op === 'set') b[i] = m.value;
    else if (m.op === 'flip') b[i] = b[i]! ^ (1 << (m.value & 7));
    else if (m.op === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from([m.value]), b.subarray(i)]);
    else if (m.op === 'delete') b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
    else b = b.subarray(0, i);
  }
  return b;
}

describe('fuzzing: only MqttProtocolError escapes', () => {
  it('random bytes, any chunking, server and client side', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), sizesArb, versionArb, (bytes, sizes, version) => {
        feed(chunk(Buffer.from(bytes), sizes), version);
      }),
      { numRuns: 3000 },
    );
  });

  it('random bodies behind a valid fixed header, decodePacket and parser', () => {
    fc.assert(
      fc.property(framedGarbageArb, fc.constantFrom<ProtocolVersion>(3, 4, 5), (bytes, version) => {
        let packet: Packet | undefined;
        const err = onlyProtocolErrors(() => {
          packet = decodePacket(bytes, version);
        });
        // A CONNECT names its own level; anything else decodes as `version`.
        if (err === undefined && packet !== undefined) assertReencodes(packet, version);
        feed([bytes], version);
      }),
      { numRuns: 5000 },
    );
  });

  it('a valid CONNECT followed by random bytes (server side)', () => {
    fc.assert(
      fc.property(streamWithVersionArb, fc.uint8Array({ maxLength: 120 }), sizesArb, ([version, packets], tail, sizes) => {
        const stream = Buffer.concat([...packets.map((p) => encodePacket(p, version)), Buffer.from(tail)]);
        feed(chunk(stream, sizes), undefined);
      }),
      { numRuns: 1500 },
    );
  });

  for (const version of VERSIONS) {
    it(`mutated valid v${version} streams, server and client side`, () => {
      fc.assert(
        fc.property(
          serverStreamArb(version, 5),
          fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
          sizesArb,
          fc.boolean(),
          (packets, mutations, sizes, serverSide) => {
            const stream = Buffer.concat(packets.map((p) => encodePacket(p, version)));
            const bytes = mutate(serverSide ? stream : stream.subarray(encodePacket(packets[0]!, version).length), mutations);
            feed(chunk(bytes, sizes), serverSide ? undefined : version);
          },
        ),
        { numRuns: 1500 },
      );
    });

    it(`mutated single v${version} packets through decodePacket`, () => {
      fc.assert(
        fc.property(packetArb(version), fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (packet, mutations) => {
          const bytes = mutate(encodePacket(packet, version), mutations);
          let decoded: Packet | undefined;
          const err = onlyProtocolErrors(() => {
            decoded = decodePacket(bytes, version);
          });
          if (err === undefined && decoded !== undefined) assertReencodes(decoded, version);
        }),
        { numRuns: 2000 },
      );
    });
  }

  it('a small maxPacketSize only ever adds PACKET_TOO_LARGE', () => {
    fc.assert(
      fc.property(serverStreamArb(4, 4), fc.integer({ min: 2, max: 64 }), sizesArb, (packets, max, sizes) => {
        const stream = Buffer.concat(packets.map((p) => encodePacket(p, 4)));
        feed(chunk(stream, sizes), undefined, max);
      }),
      { numRuns: 500 },
    );
  });
});
