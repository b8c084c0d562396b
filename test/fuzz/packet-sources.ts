// Where the socket fuzzer's packets come from: fast-check's packet arbitraries (the codec's
// property-test generators) and the golden fixtures (valid and malformed), for MQTT 3.1,
// 3.1.1 and 5.0. Generated packets are steered towards what gets a client deep into the
// broker: mostly client-to-server types, topics from a small shared vocabulary (so fuzz
// clients subscribe to each other and the broker has something to route and queue), and
// few of the 5.0 properties that end a connection at once (topic aliases, auth methods).
import fc from 'fast-check';
import { connectArb, nonConnectPacketArb, publishArb } from '../../src/protocol/arbitraries.test-support.js';
import { encodePacket } from '../../src/protocol/encode.js';
import { PacketType, type ConnectPacket, type Packet, type ProtocolVersion } from '../../src/protocol/types.js';
import type { MalformedFixture, ValidFixture } from '../fixtures/codec/fixture-types.js';
import { malformedFixtures } from '../fixtures/codec/malformed.js';
import { v3Fixtures } from '../fixtures/codec/v3.js';
import { v4Fixtures } from '../fixtures/codec/v4.js';
import { v5Fixtures } from '../fixtures/codec/v5.js';
import type { Prng } from './prng.js';

export const FUZZ_VERSIONS: readonly ProtocolVersion[] = [3, 4, 5];

/** Topics fuzz clients publish to (some of the time): shared, so messages meet subscribers. */
const TOPICS = ['fz/a', 'fz/b', 'fz/c/d', 'fz/a/b/c', 'fz', '$fz/x', 'fz/ü/€', 'fz/retained'];
/** Filters fuzz clients subscribe to: wildcards, `#` (which also sees the good clients' messages), shared groups. */
const FILTERS = ['fz/#', 'fz/+', 'fz/a', '#', '+/+', '+', 'fz/+/d', '$share/g/fz/#', '$share/h/#', '$fz/#', 'fz/a/b/c'];

/** Types only a server sends: a client sending one is closed at once, so they stay rare. */
const SERVER_ONLY = new Set<number>([PacketType.CONNACK, PacketType.SUBACK, PacketType.UNSUBACK, PacketType.PINGRESP]);

const bodyArbs = new Map<ProtocolVersion, fc.Arbitrary<Packet>>();
const connectArbs = new Map<ProtocolVersion, fc.Arbitrary<ConnectPacket>>();

function bodyArb(version: ProtocolVersion): fc.Arbitrary<Packet> {
  let arb = bodyArbs.get(version);
  if (arb === undefined) {
    // PUBLISH carries most of the broker's work (routing, retained, QoS flows): weight it up
    arb = fc.oneof({ weight: 4, arbitrary: publishArb(version) }, { weight: 3, arbitrary: nonConnectPacketArb(version) });
    bodyArbs.set(version, arb);
  }
  return arb;
}

function connectArbFor(version: ProtocolVersion): fc.Arbitrary<ConnectPacket> {
  let arb = connectArbs.get(version);
  if (arb === undefined) {
    arb = connectArb(version);
    connectArbs.set(version, arb);
  }
  return arb;
}

/** Encodes, or undefined for the rare generated value the encoder refuses. */
export function tryEncode(packet: Packet, version: ProtocolVersion): Buffer | undefined {
  try {
    return encodePacket(packet, version);
  } catch {
    return undefined;
  }
}

/** A generated CONNECT for `version`, steered to be accepted most of the time. */
export function generateConnect(version: ProtocolVersion, rng: Prng): ConnectPacket {
  const [connect] = fc.sample(connectArbFor(version), { seed: rng.seed(), numRuns: 1 }) as [ConnectPacket];
  const out: ConnectPacket = { ...connect };
  if (out.properties !== undefined && rng.chance(0.9)) {
    // an Authentication Method we do not offer is refused (CONNACK 0x8C): keep that path rare
    const { authenticationMethod: _m, authenticationData: _d, ...rest } = out.properties;
    out.properties = rest;
  }
  // a small id space, so concurrent fuzz connections take each other's sessions over; and
  // fewer empty ids where they are refused (3.1, or without clean session)
  const refusedEmpty = out.clientId === '' && (version === 3 || !out.cleanStart);
  if (rng.chance(0.3) || (refusedEmpty && rng.chance(0.8))) out.clientId = `fz-${rng.int(0, 150)}`;
  // generated will topics are often empty or hold wildcards (refused): mostly use real ones
  if (out.will !== undefined && rng.chance(0.8)) out.will = { ...out.will, topic: rng.pick(TOPICS) };
  return out;
}

/** `count` generated packets (any type but CONNECT) for `version`, steered as described above. */
export function generateBody(version: ProtocolVersion, count: number, rng: Prng): Packet[] {
  if (count <= 0) return [];
  const raw = fc.sample(bodyArb(version), { seed: rng.seed(), numRuns: Math.ceil(count * 1.4) + 2 });
  const out: Packet[] = [];
  for (const packet of raw) {
    if (out.length >= count) break;
    const steered = steer(packet, version, rng);
    if (steered !== undefined) out.push(steered);
  }
  return out;
}

function steer(packet: Packet, version: ProtocolVersion, rng: Prng): Packet | undefined {
  if (SERVER_ONLY.has(packet.type)) return rng.chance(0.02) ? packet : undefined;
  switch (packet.type) {
    case PacketType.PUBLISH: {
      const out = { ...packet };
      // an empty topic (without an alias) is refused: keep some of them, not most
      if (rng.chance(0.6) || (out.topic === '' && rng.chance(0.9))) out.topic = rng.pick(TOPICS);
      if (version === 5 && out.properties !== undefined) {
        const { topicAlias, subscriptionIdentifiers, payloadFormatIndicator, ...rest } = out.properties;
        const props: typeof out.properties = rest;
        // aliases above max_topic_alias (10), subscription ids from a client and a "UTF-8"
        // indicator on a random payload are all errors that end the connection
        if (topicAlias !== undefined && rng.chance(0.15)) props.topicAlias = rng.int(1, 11);
        if (subscriptionIdentifiers !== undefined && rng.chance(0.05)) props.subscriptionIdentifiers = subscriptionIdentifiers;
        if (payloadFormatIndicator !== undefined && rng.chance(0.2)) props.payloadFormatIndicator = payloadFormatIndicator;
        out.properties = props;
      }
      return out;
    }
    case PacketType.SUBSCRIBE:
      return {
        ...packet,
        subscriptions: packet.subscriptions.map((s) => (rng.chance(0.6) || (s.topicFilter === '' && rng.chance(0.9)) ? { ...s, topicFilter: rng.pick(FILTERS) } : s)),
      };
    case PacketType.UNSUBSCRIBE:
      return { ...packet, topicFilters: packet.topicFilters.map((f) => (rng.chance(0.6) ? rng.pick(FILTERS) : f)) };
    case PacketType.DISCONNECT:
      return rng.chance(0.1) ? packet : undefined; // it ends the stream
    case PacketType.AUTH:
      return rng.chance(0.05) ? packet : undefined; // no exchange in progress: a protocol error
    default:
      return packet;
  }
}

const VALID: Record<ProtocolVersion, readonly ValidFixture[]> = { 3: v3Fixtures, 4: v4Fixtures, 5: v5Fixtures };

function isServerSide(f: MalformedFixture): boolean {
  return f.serverSide ?? (f.bytes[0] ?? 0) >> 4 === PacketType.CONNECT;
}

/** The golden fixtures of one version, sorted by where they can go in a stream. */
export interface FixtureSet {
  connects: readonly Buffer[];
  /** Valid packets a client may send, other than CONNECT. */
  others: readonly Buffer[];
  /** Valid packets only a server sends (CONNACK, SUBACK, ...): refused from a client. */
  serverOnly: readonly Buffer[];
  /** Malformed bytes that must be the first thing on a connection (CONNECT errors). */
  malformedFirst: readonly Buffer[];
  /** Malformed bytes for after a CONNECT of this version. */
  malformedLater: readonly Buffer[];
}

const fixtureSets = new Map<ProtocolVersion, FixtureSet>();

export function fixtures(version: ProtocolVersion): FixtureSet {
  let set = fixtureSets.get(version);
  if (set === undefined) {
    const valid = VALID[version];
    // 3.1 has one malformed fixture of its own; its packets share 3.1.1's formats (but CONNECT's name)
    const malformed = malformedFixtures.filter((f) => f.version === version || (version === 3 && f.version === 4));
    set = {
      connects: valid.filter((f) => f.packet.type === PacketType.CONNECT).map((f) => f.bytes),
      others: valid.filter((f) => f.packet.type !== PacketType.CONNECT && !SERVER_ONLY.has(f.packet.type)).map((f) => f.bytes),
      serverOnly: valid.filter((f) => SERVER_ONLY.has(f.packet.type)).map((f) => f.bytes),
      malformedFirst: malformed.filter(isServerSide).map((f) => f.bytes),
      malformedLater: malformed.filter((f) => !isServerSide(f)).map((f) => f.bytes),
    };
    // every version has all four kinds; an empty one would silently narrow the fuzz
    for (const [kind, list] of Object.entries(set)) {
      if ((list as Buffer[]).length === 0) throw new Error(`no v${version} ${kind} fixtures`);
    }
    fixtureSets.set(version, set);
  }
  return set;
}
