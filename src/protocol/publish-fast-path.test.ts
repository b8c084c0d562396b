// The PUBLISH fast path: encode once, derive per-subscriber copies without re-encoding.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { normalizePacket, publishArb } from './arbitraries.test-support.js';
import { decodePacket } from './decode.js';
import { encodePacket } from './encode.js';
import {
  encodePublish,
  patchPublishHeader,
  publishPacketIdOffset,
  withPublishHeader,
  type PublishHeader,
} from './encode-publish.js';
import { bytes, expectProtocolError } from './fixtures.test-support.js';
import type { ProtocolVersion, PublishPacket } from './types.js';

const headerArb: fc.Arbitrary<PublishHeader> = fc
  .record({ qos: fc.constantFrom<0 | 1 | 2>(0, 1, 2), packetId: fc.integer({ min: 1, max: 0xffff }), dup: fc.boolean(), retain: fc.boolean() })
  .map((h) => (h.qos === 0 ? { qos: 0, retain: h.retain } : h));

function applyHeader(p: PublishPacket, h: PublishHeader): PublishPacket {
  const out: PublishPacket = { ...p, qos: h.qos, dup: h.dup ?? false, retain: h.retain ?? false };
  if (h.qos === 0) delete out.packetId;
  else out.packetId = h.packetId;
  return out;
}

const base: PublishPacket = { type: 3, topic: 'a/b', payload: Buffer.from('hello'), qos: 1, retain: false, dup: false, packetId: 10 };

describe('encodePublish fast path', () => {
  for (const version of [3, 4, 5] as const) {
    it(`v${version}: withPublishHeader(encodePublish(p), h) is byte-identical to encoding p with h`, () => {
      fc.assert(
        fc.property(publishArb(version), headerArb, (packet, header) => {
          const encoded = encodePublish(packet, version);
          const copy = Buffer.from(encoded);
          const derived = withPublishHeader(encoded, header);
          const expected = applyHeader(packet, header);
          assert.deepStrictEqual(derived, encodePublish(expected, version));
          assert.deepStrictEqual(decodePacket(derived, version), normalizePacket(expected, version));
          assert.deepStrictEqual(encoded, copy, 'the shared encoding must not change');
        }),
        { numRuns: 800 },
      );
    });
  }

  it('publishPacketIdOffset points at the identifier, or is -1 for QoS 0', () => {
    const wire = encodePublish(base, 4);
    const offset = publishPacketIdOffset(wire);
    assert.equal(offset, 1 + 1 + 2 + 3);
    assert.equal(wire.readUInt16BE(offset), 10);
    assert.equal(publishPacketIdOffset(encodePublish({ ...base, qos: 0 }, 5)), -1);
    const long = encodePublish({ ...base, payload: Buffer.alloc(20_000) }, 5); // 3-byte Remaining Length
    assert.equal(long.readUInt16BE(publishPacketIdOffset(long)), 10);
  });

  it('crossing a Remaining Length size boundary when the identifier is added or removed', () => {
    // QoS 0 with Remaining Length 127 (1 byte); adding the identifier makes it 129 (2 bytes).
    const p0: PublishPacket = { ...base, qos: 0, payload: Buffer.alloc(127 - 5, 1) };
    delete p0.packetId;
    const wire0 = encodePublish(p0, 4);
    assert.equal(wire0[1], 127);
    const up = withPublishHeader(wire0, { qos: 1, packetId: 5 });
    assert.deepStrictEqual(up.subarray(0, 3), bytes(0x32, 0x81, 0x01));
    assert.deepStrictEqual(decodePacket(up, 4), { ...p0, qos: 1, packetId: 5 });
    assert.deepStrictEqual(withPublishHeader(up, { qos: 0 }), wire0);
  });

  it('patchPublishHeader rewrites in place while the layout stays', () => {
    const wire = withPublishHeader(encodePublish(base, 5), { qos: 2, packetId: 99 });
    patchPublishHeader(wire, { qos: 1, packetId: 100, dup: true, retain: true });
    assert.deepStrictEqual(decodePacket(wire, 5), { ...base, qos: 1, packetId: 100, dup: true, retain: true });
    expectProtocolError(() => patchPublishHeader(wire, { qos: 0 }), 'MALFORMED_PACKET');
    const wire0 = encodePublish({ ...base, qos: 0 }, 5);
    expectProtocolError(() => patchPublishHeader(wire0, { qos: 1, packetId: 1 }), 'MALFORMED_PACKET');
    patchPublishHeader(wire0, { qos: 0, retain: true });
    assert.equal(wire0[0], 0x31);
  });

  it('rejects invalid headers and non-PUBLISH buffers', () => {
    const wire = encodePublish(base, 4);
    expectProtocolError(() => withPublishHeader(wire, { qos: 1 }), 'MALFORMED_PACKET', /packet identifier/);
    expectProtocolError(() => withPublishHeader(wire, { qos: 0, dup: true }), 'MALFORMED_PACKET', /MQTT-3.3.1-2/);
    expectProtocolError(() => withPublishHeader(wire, { qos: 1, packetId: 0 }), 'MALFORMED_PACKET');
    expectProtocolError(() => publishPacketIdOffset(encodePacket({ type: 4, packetId: 1, reasonCode: 0 }, 4)), 'MALFORMED_PACKET');
  });

  it('ignores packetId on QoS 0 (it is present iff QoS > 0)', () => {
    const version: ProtocolVersion = 4;
    assert.deepStrictEqual(encodePublish({ ...base, qos: 0 }, version), bytes(0x30, 10, 0, 3, 'a/b', 'hello'));
  });
});
