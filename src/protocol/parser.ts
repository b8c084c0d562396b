// Resumable framer + decoder for a byte stream (TCP, TLS, WebSocket frames alike).
import { malformed, MqttProtocolError, protocolError } from './errors.js';
import { decodeConnect } from './decode-connect.js';
import { decodeBody } from './decode.js';
import { checkFirstByte } from './fixed-header.js';
import { Reader } from './reader.js';
import { PacketType, type Packet, type ProtocolVersion } from './types.js';
import { VARINT_MAX } from './varint.js';

/** The largest packet MQTT can express: 1 type byte + 4 length bytes + 268,435,455. */
export const MAX_PACKET_SIZE = 1 + 4 + VARINT_MAX;

export interface PacketParserOptions {
  /**
   * Largest packet accepted, fixed header included (the 5.0 Maximum Packet Size
   * definition). Default: MAX_PACKET_SIZE. A bigger packet throws PACKET_TOO_LARGE as
   * soon as its fixed header is complete, before any of its body is buffered.
   */
  maxPacketSize?: number;
  /**
   * The version of the stream. Leave undefined on the server side: the first packet must
   * then be CONNECT [MQTT-3.1.0-1], its protocol level sets `protocolVersion`, and a
   * second CONNECT is a Protocol Error [MQTT-3.1.0-2].
   */
  protocolVersion?: ProtocolVersion;
  /** Called synchronously, in order, once per complete packet. */
  onPacket: (packet: Packet) => void;
}

const EMPTY = Buffer.alloc(0);

/**
 * Splits a byte stream into packets and decodes them.
 *
 * - `push` accepts any chunking: a byte at a time, or many packets per chunk.
 * - A packet wholly inside one chunk is decoded in place: its payload and binary fields
 *   are views into that chunk (zero-copy), so do not reuse a chunk after pushing it, and
 *   copy a payload you keep for long if it is much smaller than its chunk. Only a packet
 *   that spans chunks is copied, once, into a Buffer of its own.
 * - On bad input `push` throws MqttProtocolError. If `onPacket` throws, that error
 *   propagates out of `push` and the rest of the chunk is not parsed. Either way the
 *   parser is then unusable: every later `push` rethrows the same error. Close the
 *   connection.
 * - Errors from a server-side CONNECT carry `protocolLevel` (see MqttProtocolError), so
 *   the CONNACK can be sent in the client's format even when `protocolVersion` is unset.
 */
export class PacketParser {
  readonly #maxPacketSize: number;
  readonly #onPacket: (packet: Packet) => void;
  /** Server side: the stream must open with exactly one CONNECT. */
  readonly #serverSide: boolean;
  #version: ProtocolVersion | undefined;
  readonly #reader = new Reader(EMPTY, 0, 0);
  /** Bytes of a fixed header split across chunks (at most 4 of its 5 bytes); made when first needed (an idle connection should cost little). */
  #head: Buffer | undefined;
  #headLength = 0;
  /** Fixed header of the packet being framed. */
  #first = 0;
  #remaining = 0;
  /** Body of a packet that spans chunks: views of the chunks, joined once when complete. */
  #parts: Buffer[] = [];
  #partsLength = 0;
  #collecting = false;
  #failure: unknown = undefined;
  #failed = false;

  constructor(options: PacketParserOptions) {
    const max = options.maxPacketSize ?? MAX_PACKET_SIZE;
    if (!Number.isInteger(max) || max < 2) throw new RangeError(`maxPacketSize must be an integer >= 2, got ${max}`);
    this.#maxPacketSize = max;
    this.#onPacket = options.onPacket;
    this.#version = options.protocolVersion;
    this.#serverSide = options.protocolVersion === undefined;
  }

  /** The stream's protocol version; undefined on the server side until CONNECT is decoded. */
  get protocolVersion(): ProtocolVersion | undefined {
    return this.#version;
  }

  push(chunk: Buffer): void {
    if (this.#failed) throw this.#failure;
    try {
      this.#push(chunk);
    } catch (err) {
      this.#failed = true;
      this.#failure = err;
      throw err;
    }
  }

  #push(chunk: Buffer): void {
    const len = chunk.length;
    let off = 0;
    if (this.#headLength > 0) {
      // Finish a fixed header that was split: feed it bytes until it parses.
      let complete = false;
      while (off < len && !complete) {
        const head = this.#head as Buffer;
        head[this.#headLength++] = chunk[off++]!;
        complete = this.#header(head, 0, this.#headLength) > 0;
      }
      if (!complete) return;
      this.#headLength = 0;
      if (!this.#body(chunk, off)) return;
      off += this.#remaining;
    } else if (this.#collecting) {
      const need = this.#remaining - this.#partsLength;
      if (len < need) {
        this.#parts.push(chunk);
        this.#partsLength += len;
        return;
      }
      this.#parts.push(need === len ? chunk : chunk.subarray(0, need));
      const body = Buffer.concat(this.#parts, this.#remaining);
      this.#parts = [];
      this.#partsLength = 0;
      this.#collecting = false;
      off = need;
      this.#emit(body, 0, body.length);
    }
    while (off < len) {
      const headerLength = this.#header(chunk, off, len);
      if (headerLength === 0) {
        // At most 4 bytes: a 5-byte header either completes or throws in #header.
        this.#headLength = chunk.copy((this.#head ??= Buffer.alloc(5)), 0, off, len);
        return;
      }
      off += headerLength;
      if (!this.#body(chunk, off)) return;
      off += this.#remaining;
    }
  }

  /**
   * The body of the current packet starts at chunk[off]. Decodes it in place and returns
   * true if it is all there; otherwise starts collecting it and returns false.
   */
  #body(chunk: Buffer, off: number): boolean {
    const end = off + this.#remaining;
    if (end <= chunk.length) {
      this.#emit(chunk, off, end);
      return true;
    }
    this.#parts.push(chunk.subarray(off));
    this.#partsLength = chunk.length - off;
    this.#collecting = true;
    return false;
  }

  /**
   * Parses the fixed header at buf[off..end). Returns its length and sets #first and
   * #remaining, or returns 0 if more bytes are needed. Validates each byte as soon as it
   * is present, so a bad type, bad flags or an oversized packet fail before the body is
   * buffered.
   */
  #header(buf: Buffer, off: number, end: number): number {
    const first = buf[off]!;
    this.#checkFirst(first);
    let value = 0;
    let mul = 1;
    let i = off + 1;
    for (let n = 0; n < 4; n++) {
      if (i >= end) return 0;
      const b = buf[i++]!;
      value += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (b === 0 && n > 0) throw malformed('Remaining Length not minimally encoded [MQTT-1.5.5-1]');
        const size = i - off + value;
        if (size > this.#maxPacketSize) {
          throw new MqttProtocolError(
            'PACKET_TOO_LARGE',
            `packet of ${size} bytes exceeds the maximum packet size ${this.#maxPacketSize}`,
          );
        }
        this.#first = first;
        this.#remaining = value;
        return i - off;
      }
      mul *= 128;
    }
    throw malformed('Remaining Length longer than 4 bytes (spec 2.1.4)');
  }

  #checkFirst(first: number): void {
    const version = this.#version;
    if (version === undefined) {
      if (first >> 4 !== PacketType.CONNECT) {
        throw protocolError('the first packet on a connection must be CONNECT [MQTT-3.1.0-1]');
      }
      if (first !== PacketType.CONNECT << 4) throw malformed('CONNECT flags must be 0 [MQTT-2.2.2-1/2]');
      return;
    }
    if (this.#serverSide && first >> 4 === PacketType.CONNECT) {
      throw protocolError('a second CONNECT is a Protocol Error [MQTT-3.1.0-2]');
    }
    checkFirstByte(first, version);
  }

  #emit(buf: Buffer, start: number, end: number): void {
    const r = this.#reader;
    r.reset(buf, start, end);
    let packet: Packet;
    if (this.#version === undefined) {
      const connect = decodeConnect(r);
      this.#version = connect.protocolVersion;
      packet = connect;
    } else {
      packet = decodeBody(r, this.#first, this.#version);
    }
    // Drop the reference so an idle connection does not pin its last chunk.
    r.reset(EMPTY, 0, 0);
    this.#onPacket(packet);
  }
}
