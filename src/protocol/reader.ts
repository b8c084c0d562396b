// Bounds-checked cursor over one packet's bytes. Every read that would pass `end`
// throws MALFORMED_PACKET, so decoders never check lengths by hand and a truncated
// field can never read into the next packet.
import { isUtf8 } from 'node:buffer';
import { malformed } from './errors.js';

/**
 * Checks the bytes of a UTF-8 Encoded String: well-formed UTF-8 with no surrogate code
 * points [MQTT-1.5.3-1] and no U+0000 [MQTT-1.5.3-2], then decodes it. Topics are mostly
 * ASCII, so one scan both finds NUL bytes and proves the fast latin1 decode is exact;
 * `isUtf8` (simdutf) runs only when a byte >= 0x80 shows up. A 0x00 byte can only be
 * U+0000 in valid UTF-8 (the overlong C0 80 form is rejected by isUtf8).
 * Buffer#toString('utf8') keeps a leading BOM, as [MQTT-1.5.3-3] requires.
 */
export function decodeUtf8(buf: Buffer, start: number, end: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b === 0) throw malformed('UTF-8 string contains U+0000 [MQTT-1.5.3-2]');
    if (b >= 0x80) ascii = false;
  }
  if (ascii) return buf.toString('latin1', start, end);
  if (!isUtf8(buf.subarray(start, end))) {
    throw malformed('UTF-8 string is not well-formed [MQTT-1.5.3-1]');
  }
  return buf.toString('utf8', start, end);
}

/**
 * A read cursor. `pos` and `end` are plain fields on purpose: the property decoder
 * narrows `end` to the property block while it runs, and the hot PUBLISH path reads
 * them without accessor calls.
 */
export class Reader {
  buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  reset(buf: Buffer, pos: number, end: number): void {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  u8(): number {
    if (this.pos >= this.end) throw malformed('packet truncated: expected a byte');
    return this.buf[this.pos++]!;
  }

  u16(): number {
    const p = this.pos;
    if (p + 2 > this.end) throw malformed('packet truncated: expected a two byte integer');
    this.pos = p + 2;
    return (this.buf[p]! << 8) | this.buf[p + 1]!;
  }

  u32(): number {
    const p = this.pos;
    if (p + 4 > this.end) throw malformed('packet truncated: expected a four byte integer');
    this.pos = p + 4;
    return this.buf.readUInt32BE(p);
  }

  /** Variable Byte Integer: at most 4 bytes, minimal encoding [MQTT-1.5.5-1]. */
  varint(): number {
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 4; i++) {
      const b = this.u8();
      value += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw malformed('variable byte integer not minimally encoded [MQTT-1.5.5-1]');
        return value;
      }
      mul *= 128;
    }
    throw malformed('variable byte integer longer than 4 bytes');
  }

  /** A length-prefixed UTF-8 Encoded String (spec 1.5.4). */
  utf8(): string {
    const len = this.u16();
    const start = this.pos;
    const end = start + len;
    if (end > this.end) throw malformed('packet truncated: string overruns its packet');
    this.pos = end;
    return decodeUtf8(this.buf, start, end);
  }

  /** Length-prefixed Binary Data (spec 1.5.6); a view into the packet bytes, not a copy. */
  binary(): Buffer {
    const len = this.u16();
    const start = this.pos;
    const end = start + len;
    if (end > this.end) throw malformed('packet truncated: binary data overruns its packet');
    this.pos = end;
    return this.buf.subarray(start, end);
  }

  /** Everything up to `end` (a PUBLISH payload); a view, not a copy. */
  rest(): Buffer {
    const start = this.pos;
    this.pos = this.end;
    return this.buf.subarray(start, this.end);
  }

  /** Trailing bytes after the last field are a malformed packet. */
  expectEnd(what: string): void {
    if (this.pos !== this.end) throw malformed(`${what}: ${this.end - this.pos} unexpected trailing byte(s)`);
  }
}
