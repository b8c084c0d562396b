// Variable Byte Integer (spec 1.5.5 / 3.1.1 section 2.2.3): 7 bits per byte, least
// significant group first, high bit = "more bytes follow", at most 4 bytes.

/** Largest value a Variable Byte Integer can hold (4 bytes): 268,435,455. */
export const VARINT_MAX = 268_435_455;

/** Number of bytes `value` takes as a Variable Byte Integer (caller guarantees 0..VARINT_MAX). */
export function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x20_0000 ? 3 : 4;
}

/** Writes `value` at `pos` and returns the position after it. */
export function writeVarint(buf: Buffer, pos: number, value: number): number {
  let v = value;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v > 0) byte |= 0x80;
    buf[pos++] = byte;
  } while (v > 0);
  return pos;
}
