// PROXY protocol (HAProxy, https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt),
// versions 1 (text) and 2 (binary): a load balancer sends one header before the client's
// bytes, saying who the client really is. The parser is pure and incremental (bytes may
// arrive split anywhere); readProxyHeader() runs it on an accepted socket.
import { isIPv4, isIPv6, type Socket } from 'node:net';

export type ProxyProtocolErrorCode =
  /** The first bytes are not a PROXY header (v1 "PROXY " or the v2 signature). */
  | 'PROXY_HEADER_INVALID'
  /** The header is longer than this parser accepts (v1: 107 bytes; v2: see MAX_V2_PAYLOAD). */
  | 'PROXY_HEADER_TOO_LONG'
  /** No complete header within the listener's timeout. */
  | 'PROXY_HEADER_TIMEOUT'
  /** The connection ended before a complete header. */
  | 'PROXY_HEADER_INCOMPLETE';

export class ProxyProtocolError extends Error {
  readonly code: ProxyProtocolErrorCode;
  constructor(code: ProxyProtocolErrorCode, message: string) {
    super(message);
    this.name = 'ProxyProtocolError';
    this.code = code;
  }
}

export interface ProxyEndpoint {
  address: string;
  port: number;
}

export interface ProxyHeader {
  version: 1 | 2;
  /**
   * The original client, or undefined when the header does not name one (v1 UNKNOWN, v2
   * LOCAL such as a proxy's health check, or a non-IP family): then the connection's own
   * peer address stands, as the specification asks.
   */
  source: ProxyEndpoint | undefined;
  destination: ProxyEndpoint | undefined;
}

export interface ProxyParseResult {
  header: ProxyHeader;
  /** Bytes that followed the header in the same chunk: the start of the real stream. */
  rest: Buffer;
}

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** "PROXY UNKNOWN ffff:...:ffff ffff:...:ffff 65535 65535\r\n" is the longest, 107 bytes. */
const V1_MAX_LENGTH = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED_LENGTH = 16;
/**
 * Largest v2 address block + TLVs accepted. Addresses take at most 216 bytes (AF_UNIX);
 * TLVs (ALPN, authority, SSL details) rarely exceed a few hundred. Bounds the per-socket
 * buffer before the broker has seen a single MQTT byte.
 */
export const MAX_V2_PAYLOAD = 4096;

const PORT = /^(0|[1-9][0-9]{0,4})$/;

/** Incremental parser: push() chunks until it returns a result (or throws). */
export class ProxyHeaderParser {
  #buffered: Buffer = Buffer.alloc(0);

  /** Returns undefined while the header is incomplete; throws ProxyProtocolError on bad input. */
  push(chunk: Buffer): ProxyParseResult | undefined {
    const buf = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const result = parseProxyHeader(buf);
    // keep only what is needed: a header is at most V2_FIXED_LENGTH + MAX_V2_PAYLOAD bytes,
    // and parseProxyHeader throws before more than that is buffered
    this.#buffered = result === undefined ? buf : Buffer.alloc(0);
    return result;
  }
}

/** Parses a header at the start of `buf`; undefined when more bytes are needed. */
export function parseProxyHeader(buf: Buffer): ProxyParseResult | undefined {
  if (buf.length === 0) return undefined;
  if (buf[0] === V1_PREFIX[0]) return parseV1(buf);
  if (buf[0] === V2_SIGNATURE[0]) return parseV2(buf);
  throw new ProxyProtocolError('PROXY_HEADER_INVALID', 'the connection did not start with a PROXY protocol header');
}

function expectPrefix(buf: Buffer, prefix: Buffer, what: string): boolean {
  const n = Math.min(buf.length, prefix.length);
  if (buf.compare(prefix, 0, n, 0, n) !== 0) {
    throw new ProxyProtocolError('PROXY_HEADER_INVALID', `the connection did not start with a PROXY protocol ${what}`);
  }
  return buf.length >= prefix.length;
}

function parseV1(buf: Buffer): ProxyParseResult | undefined {
  if (!expectPrefix(buf, V1_PREFIX, 'v1 header')) return undefined;
  // the CRLF must come within the first 107 bytes
  const end = buf.subarray(0, V1_MAX_LENGTH).indexOf('\r\n', 0, 'latin1');
  if (end === -1) {
    if (buf.length >= V1_MAX_LENGTH) {
      throw new ProxyProtocolError('PROXY_HEADER_TOO_LONG', `PROXY v1 header without CRLF in its first ${V1_MAX_LENGTH} bytes`);
    }
    return undefined;
  }
  const line = buf.toString('latin1', 0, end);
  const parts = line.split(' ');
  const family = parts[1];
  const rest = buf.subarray(end + 2);
  // "PROXY UNKNOWN" may carry anything after it; the receiver ignores it
  if (family === 'UNKNOWN') return { header: { version: 1, source: undefined, destination: undefined }, rest };
  if (family !== 'TCP4' && family !== 'TCP6') throw invalid(`PROXY v1 header with unknown protocol "${family ?? ''}"`);
  if (parts.length !== 6) throw invalid('PROXY v1 header must have 6 fields');
  const isIp = family === 'TCP4' ? isIPv4 : isIPv6;
  const [, , srcAddr, dstAddr, srcPort, dstPort] = parts as [string, string, string, string, string, string];
  if (!isIp(srcAddr) || !isIp(dstAddr)) throw invalid(`PROXY v1 header with an address that is not ${family === 'TCP4' ? 'IPv4' : 'IPv6'}`);
  return {
    header: { version: 1, source: { address: srcAddr, port: v1Port(srcPort) }, destination: { address: dstAddr, port: v1Port(dstPort) } },
    rest,
  };
}

function v1Port(text: string): number {
  const port = PORT.test(text) ? Number(text) : NaN;
  if (!(port <= 65535)) throw invalid(`PROXY v1 header with an invalid port "${text}"`);
  return port;
}

function parseV2(buf: Buffer): ProxyParseResult | undefined {
  if (!expectPrefix(buf, V2_SIGNATURE, 'v2 signature')) return undefined;
  if (buf.length < V2_FIXED_LENGTH) return undefined;
  const versionCommand = buf[12] as number;
  if (versionCommand >> 4 !== 2) throw invalid(`PROXY v2 header with version ${versionCommand >> 4}`);
  const command = versionCommand & 0x0f;
  if (command > 1) throw invalid(`PROXY v2 header with unknown command ${command}`);
  const length = buf.readUInt16BE(14);
  if (length > MAX_V2_PAYLOAD) {
    throw new ProxyProtocolError('PROXY_HEADER_TOO_LONG', `PROXY v2 header of ${length} bytes (at most ${MAX_V2_PAYLOAD} accepted)`);
  }
  const total = V2_FIXED_LENGTH + length;
  if (buf.length < total) return undefined;
  const rest = buf.subarray(total);
  const none = { header: { version: 2 as const, source: undefined, destination: undefined }, rest };
  // LOCAL: the proxy speaks for itself (health checks); the real peer address stands
  if (command === 0) return none;
  const family = (buf[13] as number) >> 4;
  const p = V2_FIXED_LENGTH;
  if (family === 1) {
    if (length < 12) throw invalid('PROXY v2 INET header shorter than its addresses');
    return {
      header: {
        version: 2,
        source: { address: ipv4(buf, p), port: buf.readUInt16BE(p + 8) },
        destination: { address: ipv4(buf, p + 4), port: buf.readUInt16BE(p + 10) },
      },
      rest,
    };
  }
  if (family === 2) {
    if (length < 36) throw invalid('PROXY v2 INET6 header shorter than its addresses');
    return {
      header: {
        version: 2,
        source: { address: ipv6(buf, p), port: buf.readUInt16BE(p + 32) },
        destination: { address: ipv6(buf, p + 16), port: buf.readUInt16BE(p + 34) },
      },
      rest,
    };
  }
  // UNSPEC and UNIX carry no IP address: keep the connection's own
  if (family === 0 || family === 3) return none;
  throw invalid(`PROXY v2 header with unknown address family ${family}`);
}

function invalid(message: string): ProxyProtocolError {
  return new ProxyProtocolError('PROXY_HEADER_INVALID', message);
}

function ipv4(buf: Buffer, at: number): string {
  return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
}

/** RFC 5952 text, as Node prints peer addresses (IPv4-mapped as ::ffff:a.b.c.d). */
export function ipv6(buf: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(at + i * 2));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${ipv4(buf, at + 12)}`;
  // the longest run of two or more zero groups becomes "::" (the first one on a tie)
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/**
 * Reads a PROXY header from a freshly accepted socket. On success the socket is paused with
 * the bytes after the header pushed back (unshift), so the next consumer (the broker, a TLS
 * or HTTP server) sees the stream exactly as the client sent it. On failure the promise
 * rejects with a ProxyProtocolError; the caller destroys the socket.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<ProxyHeader> {
  return new Promise((resolve, reject) => {
    const parser = new ProxyHeaderParser();
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
    const fail = (err: ProxyProtocolError): void => {
      cleanup();
      socket.pause();
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      let result: ProxyParseResult | undefined;
      try {
        result = parser.push(chunk);
      } catch (err) {
        fail(err as ProxyProtocolError);
        return;
      }
      if (result === undefined) return;
      cleanup();
      socket.pause();
      if (result.rest.length > 0) socket.unshift(result.rest);
      resolve(result.header);
    };
    const onEnd = (): void => fail(new ProxyProtocolError('PROXY_HEADER_INCOMPLETE', 'the connection ended before a complete PROXY header'));
    const timer = setTimeout(() => {
      fail(new ProxyProtocolError('PROXY_HEADER_TIMEOUT', `no complete PROXY header within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}
