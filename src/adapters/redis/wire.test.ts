import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createMessage } from '../../core/message.js';
import type { TransferredSession } from '../../core/ports.js';
import {
  FrameKind,
  WireError,
  decodeBatch,
  decodeJsonFrame,
  decodeMessageFrame,
  encodeBatch,
  encodeJsonFrame,
  encodeMessageFrame,
  sessionFromJson,
  sessionToJson,
} from './wire.js';

test('a message frame round-trips every field: topic, payload, QoS, retain, origin, expiry, v5 properties, groups', () => {
  const m = createMessage('a/b/ü', Buffer.from([0, 1, 255]), 2, true, { contentType: 'x', correlationData: Buffer.from([9]), userProperties: [['k', 'v']] }, 'origin-1', 1_700_000_123_456);
  const f = decodeMessageFrame(encodeMessageFrame(FrameKind.Message, 'node-a', m, true, ['$share/g/a/#', '$share/h/a/+/ü']));
  assert.equal(f.kind, FrameKind.Message);
  assert.equal(f.node, 'node-a');
  assert.equal(f.plain, true);
  assert.deepEqual(f.groups, ['$share/g/a/#', '$share/h/a/+/ü']);
  assert.equal(f.message.topic, 'a/b/ü');
  assert.deepEqual(f.message.payload, Buffer.from([0, 1, 255]));
  assert.equal(f.message.qos, 2);
  assert.equal(f.message.retain, true);
  assert.equal(f.message.origin, 'origin-1');
  assert.equal(f.message.expiresAt, 1_700_000_123_456);
  assert.deepEqual(f.message.properties, { contentType: 'x', correlationData: Buffer.from([9]), userProperties: [['k', 'v']] });
});

test('a minimal frame (QoS 0, no origin, expiry, properties or groups) round-trips', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.uint8Array({ maxLength: 300 }), fc.constantFrom(0, 1, 2), fc.boolean(), (topic, payload, qos, plain) => {
      const m = createMessage(topic, Buffer.from(payload), qos as 0 | 1 | 2, false, undefined, undefined);
      const f = decodeMessageFrame(encodeMessageFrame(FrameKind.Message, 'n', m, plain, []));
      assert.equal(f.message.topic, topic);
      assert.deepEqual(f.message.payload, Buffer.from(payload));
      assert.equal(f.message.qos, qos);
      assert.equal(f.plain, plain);
      assert.equal(f.message.origin, undefined);
      assert.equal(f.message.expiresAt, undefined);
      assert.equal(f.message.properties, undefined);
    }),
  );
});

test('a batch carries its frames in order', () => {
  const frames = [Buffer.from([1, 2]), Buffer.alloc(0), Buffer.from('xyz')];
  assert.deepEqual(decodeBatch(encodeBatch(frames)), frames);
});

test('truncated or garbled frames raise WireError, never anything else', () => {
  const good = encodeMessageFrame(FrameKind.Message, 'node', createMessage('t/x', Buffer.from('p'), 1, false, { contentType: 'c' }, 'o', 5), true, ['$share/g/t/#']);
  for (let n = 0; n < good.length - 1; n++) {
    const cut = good.subarray(0, n);
    try {
      decodeMessageFrame(cut);
    } catch (err) {
      assert.ok(err instanceof WireError, `cut at ${n}: ${String(err)}`);
    }
  }
  assert.throws(() => decodeMessageFrame(Buffer.from([FrameKind.TakeoverRequest, 1, 2])), WireError);
  assert.throws(() => decodeBatch(Buffer.from([FrameKind.Batch, 0, 0, 0, 9, 1])), WireError);
  assert.throws(() => decodeJsonFrame(Buffer.from([FrameKind.TakeoverRequest, 0x7b])), WireError);
  assert.deepEqual(decodeJsonFrame(encodeJsonFrame(FrameKind.TakeoverRequest, { id: 'x' })), { id: 'x' });
});

test('a session survives the handover encoding: subscriptions, in-flight and queued deliveries, incoming QoS 2 ids', () => {
  const message = createMessage('s/1', Buffer.from('payload'), 2, false, { responseTopic: 'r' }, 'p', undefined);
  const session: TransferredSession = {
    record: { clientId: 'c', expiryInterval: 600, owner: { clientId: 'c', username: 'u', identity: 'u' }, disconnectedAt: 10 },
    subscriptions: [['s/#', { qos: 2, noLocal: true, retainAsPublished: false, retainHandling: 1, subscriptionIdentifier: 7 }]],
    deliveries: [
      { record: { seq: 1, messageId: 0, qos: 2, retain: false, subscriptionIdentifiers: [7], shareGroup: undefined, packetId: 12, stage: 'pubrel' }, message },
      { record: { seq: 2, messageId: 0, qos: 1, retain: true, subscriptionIdentifiers: undefined, shareGroup: '$share/g/s/#', packetId: 0, stage: 'publish' }, message },
    ],
    incomingQos2: [3, 4],
  };
  const back = sessionFromJson(JSON.parse(JSON.stringify(sessionToJson(session))));
  assert.deepEqual(back.record, session.record);
  assert.deepEqual(back.subscriptions, session.subscriptions);
  assert.deepEqual(back.incomingQos2, [3, 4]);
  assert.deepEqual(
    back.deliveries.map((d) => d.record),
    session.deliveries.map((d) => d.record),
  );
  assert.deepEqual(back.deliveries[0]?.message.payload, Buffer.from('payload'));
  assert.deepEqual(back.deliveries[0]?.message.properties, { responseTopic: 'r' });
  assert.throws(() => sessionFromJson({ nope: 1 }), WireError);
});
