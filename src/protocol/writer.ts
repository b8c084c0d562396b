// Encoder primitives. Encoders size a packet first (validating as they go), allocate one
// Buffer, then write fields with these helpers, which take and return a position so no
// cursor object or closure is needed.
import { malformed, MqttProtocolError } from './errors.js';
import { VARINT_MAX, varintSize, writeVarint } from './varint.js';

/** String#isWellFormed (ES2024, in Node 20) is not in the ES2023 lib the project compiles against. */
interface WellFormedCheck {
  isWellFormed(): boolean;
}

/**
 * UTF-8 byte length of a string the encoder is about to write, after checking it can be
 * a UTF-8 Encoded String: no lone surrogates (they would silently become U+FFFD), no
 * U+0000 [MQTT-1.5.3-1/2], at most 65,535 bytes (spec 1.5.4).
 */
export function utf8Length(s: string, what: string): number {
  if (s.includes('\u0000')) throw malformed(`${what} contains U+0000 [MQTT-1.5.3-2]`);
  if (!(s as unknown as WellFormedCheck).isWellFormed()) {
    throw malformed(`${what} contains a lone surrogate [MQTT-1.5.3-1]`);
  }
  const n = s.length <= 0x5555 && isAscii(s) ? s.length : Buffer.byteLength(s, 'utf8');
  if (n > 0xffff) throw malformed(`${what} is ${n} bytes; a UTF-8 string holds at most 65535`);
  return n;
}

// Short ASCII strings (most topics) have byte length = string length; checking that is
// cheaper than Buffer.byteLength's native call.
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

export function binaryLength(b: Buffer, what: string): number {
  if (b.length > 0xffff) throw malformed(`${what} is ${b.length} bytes; binary data holds at most 65535`);
  return b.length;
}

export function checkPacketId(id: number | undefined, what: string): number {
  if (id === undefined || !Number.isInteger(id) || id < 1 || id > 0xffff) {
    throw malformed(`${what} needs a packet identifier 1..65535, got ${String(id)} [MQTT-2.3.1-1]`);
  }
  return id;
}

export function checkInt(v: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw malformed(`${what} must be an integer 0..${max}, got ${v}`);
  return v;
}

/**
 * Allocates a packet of `remaining` bytes after the fixed header and writes the header.
 * The caller fills every remaining byte (allocUnsafe: no zero-fill on the hot path).
 */
export function allocPacket(first: number, remaining: number): Buffer {
  if (remaining > VARINT_MAX) {
    throw new MqttProtocolError('PACKET_TOO_LARGE', `packet needs ${remaining} bytes; MQTT allows ${VARINT_MAX}`);
  }
  const buf = Buffer.allocUnsafe(1 + varintSize(remaining) + remaining);
  buf[0] = first;
  writeVarint(buf, 1, remaining);
  return buf;
}

/** Bytes from the start of `buf` to its first variable-header byte. */
export function headerSize(buf: Buffer, remaining: number): number {
  return buf.length - remaining;
}

/** Guards against an encoder bug leaving unwritten (uninitialised) bytes. */
export function finish(buf: Buffer, pos: number): Buffer {
  if (pos !== buf.length) throw new Error(`internal encoder error: wrote ${pos} of ${buf.length} bytes`);
  return buf;
}

export function writeU16(buf: Buffer, pos: number, v: number): number {
  buf[pos] = v >>> 8;
  buf[pos + 1] = v & 0xff;
  return pos + 2;
}

export function writeU32(buf: Buffer, pos: number, v: number): number {
  buf.writeUInt32BE(v, pos);
  return pos + 4;
}

/** Writes a length-prefixed string whose byte length `n` came from utf8Length. */
export function writeUtf8(buf: Buffer, pos: number, s: string, n: number): number {
  writeU16(buf, pos, n);
  // n === s.length only for ASCII, where the latin1 writer is exact and cheaper.
  buf.write(s, pos + 2, n, n === s.length ? 'latin1' : 'utf8');
  return pos + 2 + n;
}

export function writeBinary(buf: Buffer, pos: number, b: Buffer): number {
  writeU16(buf, pos, b.length);
  b.copy(buf, pos + 2);
  return pos + 2 + b.length;
}
