// PROXY protocol v1 and v2 fixtures, each followed by the first bytes of the real stream:
// parsed whole, split at every byte boundary and fed byte by byte, the header and the
// bytes after it come out the same. Malformed headers raise a typed error however split.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProxyHeaderParser, ProxyProtocolError, ipv6, parseProxyHeader, type ProxyHeader, type ProxyProtocolErrorCode } from './proxy-protocol.js';

const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
/** A CONNECT's first bytes: must survive the header parsing untouched. */
const AFTER = Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02]);

function v2(verCmd: number, famProto: number, body: number[]): Buffer {
  return Buffer.from([...SIG, verCmd, famProto, body.length >> 8, body.length & 0xff, ...body]);
}

const ipv6Bytes = (groups: number[]): number[] => groups.flatMap((g) => [g >> 8, g & 0xff]);
const port = (p: number): number[] => [p >> 8, p & 0xff];

interface Valid {
  name: string;
  bytes: Buffer;
  header: ProxyHeader;
}

const VALID: Valid[] = [
  {
    name: 'v1 TCP4',
    bytes: Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 1883\r\n', 'latin1'),
    header: { version: 1, source: { address: '192.168.0.1', port: 56324 }, destination: { address: '192.168.0.11', port: 1883 } },
  },
  {
    name: 'v1 TCP6',
    bytes: Buffer.from('PROXY TCP6 2001:db8::1 ::1 65535 0\r\n', 'latin1'),
    header: { version: 1, source: { address: '2001:db8::1', port: 65535 }, destination: { address: '::1', port: 0 } },
  },
  {
    name: 'v1 UNKNOWN (the proxy could not tell)',
    bytes: Buffer.from('PROXY UNKNOWN\r\n', 'latin1'),
    header: { version: 1, source: undefined, destination: undefined },
  },
  {
    name: 'v1 UNKNOWN at the 107-byte maximum',
    bytes: Buffer.from(`PROXY UNKNOWN ${'ffff:'.repeat(7)}ffff ${'ffff:'.repeat(7)}ffff 65535 65535\r\n`, 'latin1'),
    header: { version: 1, source: undefined, destination: undefined },
  },
  {
    name: 'v2 PROXY INET/STREAM',
    bytes: v2(0x21, 0x11, [10, 1, 2, 3, 192, 168, 0, 11, ...port(40001), ...port(8883)]),
    header: { version: 2, source: { address: '10.1.2.3', port: 40001 }, destination: { address: '192.168.0.11', port: 8883 } },
  },
  {
    name: 'v2 PROXY INET with TLVs (ALPN, authority) that are skipped',
    bytes: v2(0x21, 0x11, [203, 0, 113, 7, 127, 0, 0, 1, ...port(5), ...port(6), 0x01, 0x00, 0x02, 0x68, 0x32, 0x02, 0x00, 0x03, 0x61, 0x2e, 0x62]),
    header: { version: 2, source: { address: '203.0.113.7', port: 5 }, destination: { address: '127.0.0.1', port: 6 } },
  },
  {
    name: 'v2 PROXY INET6/STREAM',
    bytes: v2(0x21, 0x21, [
      ...ipv6Bytes([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x42]),
      ...ipv6Bytes([0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001]),
      ...port(1234),
      ...port(443),
    ]),
    header: { version: 2, source: { address: '2001:db8::42', port: 1234 }, destination: { address: '::ffff:10.0.0.1', port: 443 } },
  },
  {
    name: 'v2 LOCAL (a health check: the real peer stands)',
    bytes: v2(0x20, 0x00, []),
    header: { version: 2, source: undefined, destination: undefined },
  },
  {
    name: 'v2 PROXY UNSPEC',
    bytes: v2(0x21, 0x00, []),
    header: { version: 2, source: undefined, destination: undefined },
  },
  {
    name: 'v2 PROXY UNIX (no IP address)',
    bytes: v2(0x21, 0x31, new Array<number>(216).fill(0x61)),
    header: { version: 2, source: undefined, destination: undefined },
  },
];

interface Malformed {
  name: string;
  bytes: Buffer;
  code: ProxyProtocolErrorCode;
}

const MALFORMED: Malformed[] = [
  { name: 'no header: an MQTT CONNECT', bytes: AFTER, code: 'PROXY_HEADER_INVALID' },
  { name: 'no header: an HTTP request', bytes: Buffer.from('GET /mqtt HTTP/1.1\r\n\r\n'), code: 'PROXY_HEADER_INVALID' },
  { name: 'v1 lower-case prefix', bytes: Buffer.from('proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n'), code: 'PROXY_HEADER_INVALID' },
  { name: 'v1 unknown protocol', bytes: Buffer.from('PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n'), code: 'PROXY_HEADER_INVALID' },
  { name: 'v1 missing field', bytes: Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'), code: 'PROXY_HEADER_INVALID' },
  { name: 'v1 IPv6 address under TCP4', bytes: Buffer.from('PROXY TCP4 ::1 5.6.7.8 1 2\r\n'), code: 'PROXY_HEADER_INVALID' },
  { name: 'v1 bad IPv4 address', bytes: Buffer.from('PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n'), code: 'PROXY_HEADER_INVALID' },
  { name: 'v1 port over 65535', bytes: Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'), code: 'PROXY_HEADER_INVALID' },
  { name: 'v1 port with a leading zero', bytes: Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n'), code: 'PROXY_HEADER_INVALID' },
  { name: 'v1 double space', bytes: Buffer.from('PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'), code: 'PROXY_HEADER_INVALID' },
  { name: 'v1 without CRLF in 107 bytes', bytes: Buffer.from(`PROXY UNKNOWN ${'x'.repeat(100)}\r\n`), code: 'PROXY_HEADER_TOO_LONG' },
  { name: 'v2 signature broken at byte 7', bytes: Buffer.from([...SIG.slice(0, 7), 0x00, ...SIG.slice(8), 0x21, 0x11, 0, 0]), code: 'PROXY_HEADER_INVALID' },
  { name: 'v2 version 1', bytes: v2(0x11, 0x11, new Array<number>(12).fill(1)), code: 'PROXY_HEADER_INVALID' },
  { name: 'v2 command 2', bytes: v2(0x22, 0x11, new Array<number>(12).fill(1)), code: 'PROXY_HEADER_INVALID' },
  { name: 'v2 INET shorter than its addresses', bytes: v2(0x21, 0x11, [1, 2, 3, 4]), code: 'PROXY_HEADER_INVALID' },
  { name: 'v2 INET6 shorter than its addresses', bytes: v2(0x21, 0x21, new Array<number>(12).fill(1)), code: 'PROXY_HEADER_INVALID' },
  { name: 'v2 unknown family', bytes: v2(0x21, 0x41, []), code: 'PROXY_HEADER_INVALID' },
  { name: 'v2 length over the bound', bytes: Buffer.from([...SIG, 0x21, 0x11, 0x10, 0x01]), code: 'PROXY_HEADER_TOO_LONG' },
];

/** Feeds `chunks` in order; the result, the concatenated rest (a result may come before the last chunk). */
function feed(chunks: Buffer[]): { header: ProxyHeader; rest: Buffer } | undefined {
  const parser = new ProxyHeaderParser();
  for (let i = 0; i < chunks.length; i++) {
    const result = parser.push(chunks[i] as Buffer);
    if (result !== undefined) return { header: result.header, rest: Buffer.concat([result.rest, ...chunks.slice(i + 1)]) };
  }
  return undefined;
}

function splits(bytes: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let i = 0; i <= bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  out.push([...bytes].map((b) => Buffer.from([b])));
  return out;
}

describe('PROXY protocol header parsing', () => {
  for (const fixture of VALID) {
    test(`${fixture.name}: whole, split at every byte, byte by byte`, () => {
      const stream = Buffer.concat([fixture.bytes, AFTER]);
      const whole = parseProxyHeader(stream);
      assert.deepEqual(whole?.header, fixture.header);
      assert.deepEqual(whole?.rest, AFTER);
      for (const chunks of splits(stream)) {
        const result = feed(chunks);
        assert.ok(result, `a complete header in ${chunks.map((c) => c.length).join('+')} bytes`);
        assert.deepEqual(result.header, fixture.header);
        assert.deepEqual(result.rest, AFTER, 'the bytes after the header are kept');
      }
    });

    test(`${fixture.name}: every strict prefix asks for more`, () => {
      for (let i = 0; i < fixture.bytes.length; i++) {
        assert.equal(parseProxyHeader(fixture.bytes.subarray(0, i)), undefined, `prefix of ${i} bytes`);
      }
    });
  }

  for (const fixture of MALFORMED) {
    test(`${fixture.name}: ${fixture.code} however split`, () => {
      const stream = Buffer.concat([fixture.bytes, AFTER]);
      for (const chunks of splits(stream)) {
        assert.throws(
          () => feed(chunks),
          (err: unknown) => err instanceof ProxyProtocolError && err.code === fixture.code,
          `split ${chunks.map((c) => c.length).join('+')}`,
        );
      }
    });
  }

  test('a v1 line that never ends is refused once 107 bytes arrived, not later', () => {
    const parser = new ProxyHeaderParser();
    const line = Buffer.from(`PROXY TCP4 ${'1'.repeat(200)}`);
    for (let i = 0; i < 106; i++) assert.equal(parser.push(line.subarray(i, i + 1)), undefined);
    assert.throws(() => parser.push(line.subarray(106, 107)), (err: unknown) => err instanceof ProxyProtocolError && err.code === 'PROXY_HEADER_TOO_LONG');
  });

  test('IPv6 addresses print as Node prints peer addresses (RFC 5952)', () => {
    const cases: [number[], string][] = [
      [[0, 0, 0, 0, 0, 0, 0, 1], '::1'],
      [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
      [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], '2001:db8::1:0:0:1'],
      [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], '2001:db8:0:1:1:1:1:1'],
      [[0x2001, 0, 0, 1, 0, 0, 0, 1], '2001:0:0:1::1'],
      [[0xfe80, 0, 0, 0, 0xabcd, 0, 0, 0], 'fe80::abcd:0:0:0'],
      [[0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201], '::ffff:192.0.2.1'],
    ];
    for (const [groups, text] of cases) assert.equal(ipv6(Buffer.from(ipv6Bytes(groups)), 0), text);
  });
});
