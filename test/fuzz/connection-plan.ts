// What one fuzz connection sends, and how: built from (seed, connection index) alone, so
// the same seed always gives connection N the same bytes (FUZZ_DUMP prints them).
//
// Most connections open with a valid CONNECT so the rest of the stream reaches the broker's
// post-CONNECT paths (routing, QoS flows, sessions, takeovers); the rest open with garbage,
// a mutated or malformed CONNECT, a huge Remaining Length or another packet type. The body
// is mostly valid generated packets, with fixtures, mutated packets, malformed fixtures,
// random bytes, the odd near-limit PUBLISH, and duplicated, reordered or repeated packets.
import { encodePacket } from '../../src/protocol/encode.js';
import { PacketType, type ProtocolVersion } from '../../src/protocol/types.js';
import { mutatePacket, PACKET_MUTATIONS } from './mutations.js';
import { FUZZ_VERSIONS, fixtures, generateBody, generateConnect, tryEncode } from './packet-sources.js';
import { deriveSeed, Prng } from './prng.js';

export type Opening = 'connect' | 'fixture-connect' | 'mutated-connect' | 'malformed-connect' | 'huge-header' | 'garbage' | 'no-connect';
export type WriteMode = 'whole' | 'per-packet' | 'fragments';
export type Ending = 'end' | 'reset' | 'linger';

/** One unit the fuzzer counts as a packet sent: a packet, valid or mutated, or a blob of random bytes. */
export interface PlannedPacket {
  bytes: Buffer;
  /** What it is (generated, fixture, mutated:<op>, ...), for the statistics and FUZZ_DUMP. */
  kind: string;
}

export interface ConnectionPlan {
  index: number;
  version: ProtocolVersion;
  opening: Opening;
  packets: PlannedPacket[];
  write: WriteMode;
  /** Byte sizes the stream is cut into, in turn, for write mode `fragments`. */
  chunkSizes: number[];
  ending: Ending;
  /** For `linger`: how long to wait for the broker to close first. */
  lingerMs: number;
  /** False: never read, so what the broker sends piles up (a slow consumer). */
  read: boolean;
}

const OPENINGS: Record<Opening, number> = {
  connect: 72,
  'fixture-connect': 8,
  'mutated-connect': 5,
  'malformed-connect': 4,
  'huge-header': 3,
  garbage: 4,
  'no-connect': 4,
};
/** What replaces a valid packet where a stream is damaged. */
const DAMAGE = { mutated: 72, 'malformed-fixture': 12, garbage: 8, 'server-fixture': 8 } as const;
const FRAGMENTS_MAX_BYTES = 16 * 1024;

function bodyLength(rng: Prng): number {
  const bucket = rng.next();
  if (bucket < 0.6) return rng.int(0, 20);
  if (bucket < 0.9) return rng.int(20, 60);
  return rng.int(60, 150);
}

/** A PUBLISH of 64 kB to 1.2 MB: under and over the default max_packet_size (1 MB). */
function bigPublish(version: ProtocolVersion, rng: Prng): Buffer {
  const payload = Buffer.alloc(rng.int(64 * 1024, 1200 * 1024), rng.int(0, 255));
  const qos = rng.pick([0, 1] as const);
  const topic = rng.pick(['fz/a', 'fz/big']);
  return encodePacket(qos === 0 ? { type: PacketType.PUBLISH, topic, payload, qos, retain: false, dup: false } : { type: PacketType.PUBLISH, topic, payload, qos, retain: false, dup: false, packetId: rng.int(1, 0xffff) }, version);
}

function openingPacket(opening: Opening, version: ProtocolVersion, rng: Prng): PlannedPacket | undefined {
  const set = fixtures(version);
  const connect = (): Buffer => tryEncode(generateConnect(version, rng), version) ?? rng.pick(set.connects);
  switch (opening) {
    case 'connect':
      return { bytes: connect(), kind: 'connect' };
    case 'fixture-connect':
      return { bytes: rng.pick(set.connects), kind: 'fixture-connect' };
    case 'mutated-connect': {
      const op = rng.pick(PACKET_MUTATIONS);
      return { bytes: mutatePacket(connect(), op, rng), kind: `mutated-connect:${op}` };
    }
    case 'malformed-connect':
      return { bytes: rng.pick(set.malformedFirst), kind: 'malformed-fixture' };
    case 'huge-header':
      return { bytes: mutatePacket(connect(), 'huge-length', rng), kind: 'huge-header' };
    case 'garbage':
      return { bytes: rng.bytes(rng.int(1, 300)), kind: 'garbage' };
    case 'no-connect':
      return undefined;
  }
}

/**
 * Valid packets (generated, some fixtures), then damage in about half of the streams: one to
 * three packets replaced by a mutated one, a malformed fixture, random bytes or a packet only
 * a server may send. The broker stops reading at the first, so damage goes mostly near the
 * end, leaving it a long valid prefix to work through first.
 */
function bodyPackets(version: ProtocolVersion, count: number, rng: Prng): PlannedPacket[] {
  const set = fixtures(version);
  const packets = generateBody(version, count, rng)
    .map((p) => tryEncode(p, version))
    .filter((b): b is Buffer => b !== undefined)
    .map((bytes): PlannedPacket => (rng.chance(0.95) ? { bytes, kind: 'generated' } : { bytes: rng.pick(set.others), kind: 'fixture' }));
  if (packets.length === 0) return packets;
  const damages = rng.chance(0.55) ? rng.int(1, 3) : 0;
  for (let n = 0; n < damages; n++) {
    const at = Math.min(packets.length - 1, Math.floor(packets.length * Math.sqrt(rng.next())));
    const kind = rng.weighted(DAMAGE);
    if (kind === 'mutated') {
      const op = rng.pick(PACKET_MUTATIONS);
      packets[at] = { bytes: mutatePacket(packets[at]!.bytes, op, rng), kind: `mutated:${op}` };
    } else if (kind === 'malformed-fixture') packets[at] = { bytes: rng.pick(set.malformedLater), kind };
    else if (kind === 'server-fixture') packets[at] = { bytes: rng.pick(set.serverOnly), kind };
    else packets[at] = { bytes: rng.bytes(rng.int(1, 200)), kind };
  }
  // now and then a PUBLISH near or over max_packet_size, anywhere
  if (rng.chance(0.005)) packets.splice(rng.int(0, packets.length), 0, { bytes: bigPublish(version, rng), kind: 'big' });
  return packets;
}

/** Duplicates, reorders, and a second CONNECT: each packet fine alone, wrong in sequence. */
function reshape(packets: PlannedPacket[], first: number, version: ProtocolVersion, rng: Prng): void {
  const span = packets.length - first;
  if (span <= 0) return;
  if (rng.chance(0.12)) {
    for (let n = rng.int(1, 3); n > 0; n--) {
      const from = first + rng.int(0, span - 1);
      const to = rng.int(from + 1, packets.length);
      packets.splice(to, 0, { bytes: packets[from]!.bytes, kind: 'duplicate' });
    }
  }
  if (rng.chance(0.1) && span >= 2) {
    const a = first + rng.int(0, span - 1);
    const b = first + rng.int(0, span - 1);
    [packets[a], packets[b]] = [packets[b]!, packets[a]!];
  }
  if (rng.chance(0.03)) {
    const again = tryEncode(generateConnect(version, rng), version);
    if (again !== undefined) packets.splice(rng.int(first, packets.length), 0, { bytes: again, kind: 'second-connect' });
  }
}

export function planConnection(seed: number, index: number): ConnectionPlan {
  const rng = new Prng(deriveSeed(seed, index));
  const version = rng.pick(FUZZ_VERSIONS);
  const opening = rng.weighted(OPENINGS);
  const head = openingPacket(opening, version, rng);
  // after a bad opening the broker reads nothing more: a short tail is enough
  const count = opening === 'connect' || opening === 'fixture-connect' || opening === 'no-connect' ? bodyLength(rng) : rng.int(0, 3);
  const packets = [...(head === undefined ? [] : [head]), ...bodyPackets(version, Math.max(count, head === undefined ? 1 : 0), rng)];
  reshape(packets, head === undefined ? 0 : 1, version, rng);
  const total = packets.reduce((n, p) => n + p.bytes.length, 0);
  let write = rng.weighted<WriteMode>({ whole: 60, 'per-packet': 25, fragments: 15 });
  if (write === 'fragments' && total > FRAGMENTS_MAX_BYTES) write = 'whole';
  const chunkSizes = Array.from({ length: rng.int(1, 6) }, () => rng.int(1, 64));
  const ending = rng.weighted<Ending>({ end: 55, reset: 15, linger: 30 });
  return { index, version, opening, packets, write, chunkSizes, ending, lingerMs: rng.int(20, 400), read: rng.chance(0.95) };
}

/** A readable dump of one connection's plan, for reproducing a failure. */
export function describePlan(plan: ConnectionPlan): string {
  const lines = [
    `connection ${plan.index}: MQTT v${plan.version}, opening ${plan.opening}, write ${plan.write} [${plan.chunkSizes.join(',')}], ending ${plan.ending} (${plan.lingerMs} ms), read ${plan.read}`,
  ];
  plan.packets.forEach((p, i) => {
    const hex = p.bytes.length > 256 ? `${p.bytes.subarray(0, 256).toString('hex')}... (${p.bytes.length} bytes)` : p.bytes.toString('hex');
    lines.push(`  ${String(i).padStart(3)} ${p.kind.padEnd(28)} ${hex}`);
  });
  return lines.join('\n');
}
