// Byte-level mutations of one encoded packet, for the socket fuzzer. Each keeps most of
// the packet intact, so the broker's parser gets past the first byte and fails (or not)
// somewhere deeper; several break the framing, so what follows is read out of step.
import type { Prng } from './prng.js';

export const PACKET_MUTATIONS = [
  'bit-flip',
  'byte-set',
  'truncate',
  'extend',
  'wrong-length',
  'huge-length',
  'append-random',
  'type-swap',
  'flags',
] as const;
export type PacketMutation = (typeof PACKET_MUTATIONS)[number];

/** Remaining Length as a Variable Byte Integer (1 to 4 bytes; larger values still get 4). */
export function encodeLength(n: number): Buffer {
  const out: number[] = [];
  let x = Math.max(0, n);
  do {
    let byte = x % 128;
    x = Math.floor(x / 128);
    if (x > 0 && out.length < 3) byte |= 0x80;
    out.push(byte);
  } while (x > 0 && out.length < 4);
  return Buffer.from(out);
}

/** The first byte and body of a well-framed packet; undefined when its header is broken. */
function splitFrame(bytes: Buffer): { first: number; body: Buffer } | undefined {
  let length = 0;
  let multiplier = 1;
  for (let i = 1; i < Math.min(bytes.length, 5); i++) {
    const b = bytes[i]!;
    length += (b & 0x7f) * multiplier;
    multiplier *= 128;
    if ((b & 0x80) === 0) return { first: bytes[0]!, body: bytes.subarray(i + 1, i + 1 + length) };
  }
  return undefined;
}

function frame(first: number, length: Buffer, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first & 0xff]), length, body]);
}

/** Remaining Length headers that announce far more than follows, or are invalid themselves. */
const HUGE_LENGTHS: readonly number[][] = [
  [0xff, 0xff, 0xff, 0x7f], // 268,435,455: the maximum, far over max_packet_size
  [0xff, 0xff, 0xff, 0xff, 0x01], // a fifth length byte: malformed
  [0x80, 0x80, 0x20], // 524,288: allowed size, body never sent
  [0x80, 0x80, 0x80, 0x00], // zero in four bytes (not the shortest form)
  [0xc0, 0x84, 0x3d], // 1,000,000: just under the default max_packet_size
];

export function mutatePacket(bytes: Buffer, op: PacketMutation, rng: Prng): Buffer {
  if (bytes.length === 0) return rng.bytes(rng.int(1, 8));
  const framed = splitFrame(bytes);
  switch (op) {
    case 'bit-flip': {
      const out = Buffer.from(bytes);
      for (let n = rng.int(1, 3); n > 0; n--) {
        const i = rng.int(0, out.length - 1);
        out[i] = out[i]! ^ (1 << rng.int(0, 7));
      }
      return out;
    }
    case 'byte-set': {
      const out = Buffer.from(bytes);
      for (let n = rng.int(1, 2); n > 0; n--) out[rng.int(0, out.length - 1)] = rng.pick([0x00, 0xff, 0x7f, 0x80, rng.int(0, 255)]);
      return out;
    }
    case 'truncate':
      return bytes.subarray(0, rng.int(1, Math.max(1, bytes.length - 1)));
    case 'extend':
      // still well framed: the body just carries bytes its type has no room for
      if (framed === undefined) return Buffer.concat([bytes, rng.bytes(rng.int(1, 32))]);
      {
        const body = Buffer.concat([framed.body, rng.bytes(rng.int(1, 64))]);
        return frame(framed.first, encodeLength(body.length), body);
      }
    case 'wrong-length': {
      if (framed === undefined) return bytes;
      const delta = rng.chance(0.8) ? rng.pick([-4, -3, -2, -1, 1, 2, 3, 4]) : rng.int(-framed.body.length, 300);
      return frame(framed.first, encodeLength(framed.body.length + delta), framed.body);
    }
    case 'huge-length': {
      const body = framed?.body ?? bytes.subarray(1);
      const keep = rng.chance(0.5) ? body : body.subarray(0, rng.int(0, body.length));
      return frame(bytes[0]!, Buffer.from(rng.pick(HUGE_LENGTHS)), keep);
    }
    case 'append-random':
      return Buffer.concat([bytes, rng.bytes(rng.int(1, 48))]);
    case 'type-swap': {
      const out = Buffer.from(bytes);
      out[0] = (rng.int(0, 15) << 4) | (out[0]! & 0x0f);
      return out;
    }
    case 'flags': {
      const out = Buffer.from(bytes);
      out[0] = (out[0]! & 0xf0) | rng.int(0, 15);
      return out;
    }
  }
}
