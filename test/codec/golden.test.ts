// Golden-byte suite for the packet codec (DESIGN.md habit 1).
//
// Every valid fixture (test/fixtures/codec/v3.ts, v4.ts, v5.ts) is decoded, encoded and
// round-tripped, and fed to a PacketParser all at once and one byte at a time. Every
// malformed fixture (malformed.ts) must make decodePacket and the PacketParser throw an
// MqttProtocolError with the expected code. Test names carry the spec id they check.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodePacket,
  encodePacket,
  MqttProtocolError,
  PacketParser,
  type Packet,
  type ProtocolVersion,
} from '../../src/protocol/index.js';
import type { MalformedFixture, ValidFixture } from '../fixtures/codec/fixture-types.js';
import { v3Fixtures } from '../fixtures/codec/v3.js';
import { v4Fixtures } from '../fixtures/codec/v4.js';
import { v5Fixtures } from '../fixtures/codec/v5.js';
import { malformedFixtures } from '../fixtures/codec/malformed.js';
import { hex } from '../fixtures/codec/hex.js';

const validFixtures: readonly ValidFixture[] = [...v3Fixtures, ...v4Fixtures, ...v5Fixtures];

// ---------------------------------------------------------------------------------------
// helpers

type Loose = Record<string, unknown>;

function isEmptyProperties(value: unknown): boolean {
  return value === undefined || (typeof value === 'object' && value !== null && Object.keys(value).length === 0);
}

/**
 * The one normalization the suite applies: a v5 packet (or will) without properties on
 * the wire may decode to `properties: {}` or to no `properties` field; both are accepted.
 * Everything else (absent optional fields, Buffer types, array order) is compared exactly.
 */
function normalize(packet: Packet): Loose {
  const out: Loose = { ...packet };
  if ('properties' in out && isEmptyProperties(out.properties)) delete out.properties;
  const will = out.will;
  if (typeof will === 'object' && will !== null) {
    const w: Loose = { ...(will as Loose) };
    if ('properties' in w && isEmptyProperties(w.properties)) delete w.properties;
    out.will = w;
  }
  return out;
}

function assertSamePacket(actual: Packet, expected: Packet, what: string): void {
  assert.deepStrictEqual(normalize(actual), normalize(expected), what);
}

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex').replace(/(..)(?!$)/g, '$1 ');

/** Byte equality with a readable message (first differing offset) even for 20 kB packets. */
function assertSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.ok(Buffer.isBuffer(actual), `${what}: expected a Buffer, got ${Object.prototype.toString.call(actual)}`);
  if (Buffer.compare(Buffer.from(actual), Buffer.from(expected)) === 0) return;
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  const from = Math.max(0, i - 8);
  assert.fail(
    `${what}: bytes differ at offset ${i} (length ${actual.length}, expected ${expected.length})\n` +
      `  actual   [${from}..]: ${toHex(actual.subarray(from, i + 16))}\n` +
      `  expected [${from}..]: ${toHex(expected.subarray(from, i + 16))}` +
      (expected.length <= 96 ? `\n  actual   full: ${toHex(actual)}\n  expected full: ${toHex(expected)}` : ''),
  );
}

interface ParserRun {
  packets: Packet[];
  error: unknown;
}

/** Feeds `bytes` to a fresh PacketParser in chunks of `chunkSize` bytes (Infinity = one push). */
function runParser(
  bytes: Buffer,
  opts: { protocolVersion?: ProtocolVersion; maxPacketSize?: number },
  chunkSize: number,
): ParserRun {
  const packets: Packet[] = [];
  // `opts` never holds undefined values, so an absent protocolVersion means server side.
  const parser = new PacketParser({ ...opts, onPacket: (p: Packet) => packets.push(p) });
  try {
    if (!Number.isFinite(chunkSize)) parser.push(bytes);
    else for (let i = 0; i < bytes.length; i += chunkSize) parser.push(bytes.subarray(i, i + chunkSize));
  } catch (error) {
    return { packets, error };
  }
  return { packets, error: undefined };
}

function packetTypeOf(bytes: Buffer): number {
  return (bytes[0] ?? 0) >> 4;
}

const describeFixture = (f: ValidFixture): string => `v${f.version} ${f.name}`;

// ---------------------------------------------------------------------------------------
// valid fixtures

describe('golden bytes: valid packets', () => {
  for (const f of validFixtures) {
    const isConnect = f.packet.type === 1;
    describe(describeFixture(f), () => {
      test('decodePacket(bytes) equals the fixture packet', () => {
        assertSamePacket(decodePacket(f.bytes, f.version), f.packet, 'decoded packet');
      });

      if (!f.decodeOnly) {
        test('encodePacket(packet) equals the fixture bytes exactly', () => {
          assertSameBytes(encodePacket(f.packet, f.version), f.bytes, 'encoded bytes');
        });
      }

      test('decodePacket(encodePacket(packet)) round-trips', () => {
        const encoded = encodePacket(f.packet, f.version);
        assertSamePacket(decodePacket(encoded, f.version), f.packet, 'round trip');
      });

      // CONNECT is what a server-side parser sees first: it learns the version from it.
      // Every other packet is parsed by a parser told the version.
      const parserOpts = isConnect ? {} : { protocolVersion: f.version };
      const mode = isConnect ? 'server-side parser (no version)' : `parser (protocolVersion ${f.version})`;

      test(`${mode} yields the packet from one push`, () => {
        const run = runParser(f.bytes, parserOpts, Infinity);
        assert.equal(run.error, undefined, `parser threw: ${String(run.error)}`);
        assert.equal(run.packets.length, 1, 'exactly one packet');
        assertSamePacket(run.packets[0] as Packet, f.packet, 'parsed packet');
      });

      test(`${mode} yields the packet when fed one byte at a time`, () => {
        const run = runParser(f.bytes, parserOpts, 1);
        assert.equal(run.error, undefined, `parser threw: ${String(run.error)}`);
        assert.equal(run.packets.length, 1, 'exactly one packet');
        assertSamePacket(run.packets[0] as Packet, f.packet, 'parsed packet');
      });
    });
  }
});

// ---------------------------------------------------------------------------------------
// streams of packets

const CLIENT_TO_SERVER = new Set([3, 4, 5, 6, 7, 8, 10, 12, 15]);

describe('golden bytes: packet streams', () => {
  for (const [version, fixtures] of [
    [3, v3Fixtures],
    [4, v4Fixtures],
    [5, v5Fixtures],
  ] as const) {
    const connect = fixtures.find((f) => f.packet.type === 1 && !f.decodeOnly);
    // A realistic client stream: CONNECT, then every client-to-server packet, DISCONNECT last.
    // (Subscription identifiers on PUBLISH only flow server to client [MQTT-3.3.4-6].)
    const rest = fixtures.filter(
      (f) =>
        CLIENT_TO_SERVER.has(f.packet.type) &&
        !(f.packet.type === 3 && f.packet.properties?.subscriptionIdentifiers !== undefined),
    );
    const disconnect = fixtures.find((f) => f.packet.type === 14);
    const sequence = [connect, ...rest, disconnect].filter((f): f is ValidFixture => f !== undefined);
    const stream = Buffer.concat(sequence.map((f) => f.bytes));

    for (const chunkSize of [1, 2, 3, 7, 64, 1000, Infinity]) {
      test(`v${version} server-side parser adopts the CONNECT's version and splits a ${sequence.length}-packet stream (chunks of ${chunkSize})`, () => {
        assert.ok(connect, 'fixture set has a CONNECT');
        const run = runParser(stream, {}, chunkSize);
        assert.equal(run.error, undefined, `parser threw: ${String(run.error)}`);
        assert.equal(run.packets.length, sequence.length, 'packet count');
        sequence.forEach((f, i) => assertSamePacket(run.packets[i] as Packet, f.packet, `packet ${i}: ${f.name}`));
      });
    }

    const nonConnect = fixtures.filter((f) => f.packet.type !== 1);
    const all = Buffer.concat(nonConnect.map((f) => f.bytes));
    for (const chunkSize of [1, 5, Infinity]) {
      test(`v${version} parser with protocolVersion splits all ${nonConnect.length} non-CONNECT fixtures back to back (chunks of ${chunkSize})`, () => {
        const run = runParser(all, { protocolVersion: version }, chunkSize);
        assert.equal(run.error, undefined, `parser threw: ${String(run.error)}`);
        assert.equal(run.packets.length, nonConnect.length, 'packet count');
        nonConnect.forEach((f, i) => assertSamePacket(run.packets[i] as Packet, f.packet, `packet ${i}: ${f.name}`));
      });
    }
  }
});

// ---------------------------------------------------------------------------------------
// malformed fixtures

function assertProtocolError(error: unknown, f: MalformedFixture, what: string): void {
  assert.notEqual(error, undefined, `${what}: expected MqttProtocolError ${f.code}, nothing was thrown`);
  assert.ok(
    error instanceof MqttProtocolError,
    `${what}: expected MqttProtocolError ${f.code}, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
  );
  const accepted = [f.code, ...(f.alsoAccept ?? [])];
  assert.ok(
    accepted.includes(error.code),
    `${what}: expected code ${accepted.join(' or ')}, got ${error.code} ("${error.message}")`,
  );
}

describe('golden bytes: malformed packets', () => {
  for (const f of malformedFixtures) {
    const serverSide = f.serverSide ?? packetTypeOf(f.bytes) === 1;
    const opts: { protocolVersion?: ProtocolVersion; maxPacketSize?: number } = {};
    if (!serverSide) opts.protocolVersion = f.version;
    if (f.maxPacketSize !== undefined) opts.maxPacketSize = f.maxPacketSize;
    const mode = serverSide ? 'server-side parser' : `parser (protocolVersion ${f.version})`;

    describe(`[${f.specId}] ${f.name} (v${f.version}) -> ${f.code}`, () => {
      if (!f.parserOnly) {
        test('decodePacket throws MqttProtocolError', () => {
          let error: unknown;
          try {
            decodePacket(f.bytes, f.version);
          } catch (e) {
            error = e;
          }
          assertProtocolError(error, f, 'decodePacket');
        });
      }

      test(`${mode} throws MqttProtocolError from one push`, () => {
        const run = runParser(f.bytes, opts, Infinity);
        assertProtocolError(run.error, f, 'PacketParser.push');
        assert.equal(run.packets.length, 0, 'no packet may be emitted');
      });

      test(`${mode} throws MqttProtocolError when fed one byte at a time`, () => {
        const run = runParser(f.bytes, opts, 1);
        assertProtocolError(run.error, f, 'PacketParser.push');
        assert.equal(run.packets.length, 0, 'no packet may be emitted');
      });
    });
  }
});

// ---------------------------------------------------------------------------------------
// maxPacketSize boundary: the limit counts the whole packet, fixed header included
// (5.0 section 3.1.2.11.4 "Packet Size": the total number of bytes in a Control Packet).

describe('[3.1.2.11.4] maxPacketSize counts the whole packet', () => {
  /** A QoS 0 PUBLISH to "t" of exactly `total` bytes (total <= 129: 1-byte remaining length). */
  const publishOfTotalSize = (total: number, version: 4 | 5): Buffer => {
    const remaining = total - 2; // minus the type byte and the 1-byte remaining length
    const props = version === 5 ? '00' : ''; // v5: property length 0
    const payload = remaining - 3 - props.length / 2;
    return hex('30', remaining.toString(16).padStart(2, '0'), '00 01 74', props, Buffer.alloc(payload, 0x61));
  };
  for (const version of [4, 5] as const) {
    test(`v${version}: a packet of exactly maxPacketSize bytes is accepted`, () => {
      const bytes = publishOfTotalSize(100, version);
      assert.equal(bytes.length, 100);
      const run = runParser(bytes, { protocolVersion: version, maxPacketSize: 100 }, Infinity);
      assert.equal(run.error, undefined, `parser threw: ${String(run.error)}`);
      assert.equal(run.packets.length, 1);
    });
    test(`v${version}: a packet of maxPacketSize + 1 bytes is PACKET_TOO_LARGE`, () => {
      const bytes = publishOfTotalSize(101, version);
      assert.equal(bytes.length, 101);
      const run = runParser(bytes, { protocolVersion: version, maxPacketSize: 100 }, Infinity);
      assert.ok(run.error instanceof MqttProtocolError, `expected MqttProtocolError, got ${String(run.error)}`);
      assert.equal(run.error.code, 'PACKET_TOO_LARGE');
      assert.equal(run.packets.length, 0);
    });
  }
});

// ---------------------------------------------------------------------------------------
// coverage of the fixture set itself

describe('golden bytes: fixture coverage', () => {
  const typesOf = (fixtures: readonly ValidFixture[]): Set<number> => new Set(fixtures.map((f) => f.packet.type));

  test('v4 fixtures cover every 3.1.1 packet type (1..14)', () => {
    const have = typesOf(v4Fixtures);
    for (let t = 1; t <= 14; t++) assert.ok(have.has(t), `v4 missing packet type ${t}`);
  });

  test('v5 fixtures cover every 5.0 packet type (1..15)', () => {
    const have = typesOf(v5Fixtures);
    for (let t = 1; t <= 15; t++) assert.ok(have.has(t), `v5 missing packet type ${t}`);
  });

  test('v3 fixtures cover CONNECT, CONNACK and SUBACK', () => {
    const have = typesOf(v3Fixtures);
    for (const t of [1, 2, 9]) assert.ok(have.has(t), `v3 missing packet type ${t}`);
  });

  test('v4 CONNACK fixtures cover every 3.1.1 return code (0..5)', () => {
    const codes = new Set(v4Fixtures.flatMap((f) => (f.packet.type === 2 ? [f.packet.reasonCode] : [])));
    for (let c = 0; c <= 5; c++) assert.ok(codes.has(c), `missing CONNACK return code ${c}`);
  });

  test('every one of the 27 v5 property identifiers appears in a canonical v5 fixture', () => {
    const all = [
      'payloadFormatIndicator', 'messageExpiryInterval', 'contentType', 'responseTopic', 'correlationData',
      'subscriptionIdentifiers', 'sessionExpiryInterval', 'assignedClientIdentifier', 'serverKeepAlive',
      'authenticationMethod', 'authenticationData', 'requestProblemInformation', 'willDelayInterval',
      'requestResponseInformation', 'responseInformation', 'serverReference', 'reasonString', 'receiveMaximum',
      'topicAliasMaximum', 'topicAlias', 'maximumQoS', 'retainAvailable', 'userProperties', 'maximumPacketSize',
      'wildcardSubscriptionAvailable', 'subscriptionIdentifierAvailable', 'sharedSubscriptionAvailable',
    ];
    assert.equal(all.length, 27);
    const seen = new Set<string>();
    for (const f of v5Fixtures) {
      if (f.decodeOnly) continue;
      const p = f.packet as { properties?: object; will?: { properties?: object } };
      for (const key of Object.keys(p.properties ?? {})) seen.add(key);
      for (const key of Object.keys(p.will?.properties ?? {})) seen.add(key);
    }
    assert.deepEqual(all.filter((k) => !seen.has(k)), [], 'property names never used in a fixture');
  });

  test('every valid fixture is one whole packet (its remaining length matches its byte count)', () => {
    for (const f of validFixtures) {
      let value = 0;
      let multiplier = 1;
      let i = 1;
      for (;;) {
        const digit = f.bytes[i++];
        assert.ok(digit !== undefined && i <= 5, `${describeFixture(f)}: bad remaining length`);
        value += (digit & 0x7f) * multiplier;
        multiplier *= 128;
        if ((digit & 0x80) === 0) break;
      }
      assert.equal(i + value, f.bytes.length, `${describeFixture(f)}: remaining length ${value}, body ${f.bytes.length - i}`);
    }
  });

  test('at least 30 malformed fixtures, each with a spec id', () => {
    assert.ok(malformedFixtures.length >= 30, `only ${malformedFixtures.length}`);
    for (const f of malformedFixtures) assert.match(f.specId, /^(MQTT-)?\d/, f.name);
  });

  test('fixture names are unique', () => {
    const names = [...validFixtures.map(describeFixture), ...malformedFixtures.map((f) => `${f.version} ${f.name}`)];
    assert.deepEqual(names.filter((n, i) => names.indexOf(n) !== i), []);
  });
});
