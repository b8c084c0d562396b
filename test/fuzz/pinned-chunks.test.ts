// Found by the socket fuzz (its heap after a full GC kept growing a little): a message the
// broker keeps (retained, queued for an offline session, a will) holds its 5.0 Correlation
// Data as a view into the socket read chunk the packet came in, so a one-byte property pins
// that whole chunk (up to 64 KiB). ownPayload() (src/core/message.ts) copies the payload
// only, and the decoder hands out Binary Data as views (src/protocol/reader.ts). A client
// that pipelines a large packet behind each small retained PUBLISH made the broker keep
// ~60 KiB per retained message: max_retained_messages (100,000 by default) x 64 KiB. Fixed
// by ownPayload()/ownBinaryProperties() copying Correlation Data too; this keeps it fixed.
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { encodePacket } from '../../src/protocol/encode.js';
import { PacketType, type ConnectPacket, type Packet } from '../../src/protocol/types.js';
import type { CliBroker } from '../interop/support.js';
import { mib, MIB } from './broker-probe.js';
import { startFuzzBroker } from './fuzz-broker.js';
import { InspectorProbe } from './inspector-probe.js';

const CONNECTIONS = 300;
const PADDING = 60_000;

/** One connection, everything in one write (so in one read chunk on the broker's side), then gone. */
async function send(port: number, packets: Packet[], abrupt = false): Promise<void> {
  const socket = netConnect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  socket.resume();
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const bytes = Buffer.concat(packets.map((p) => encodePacket(p, 5)));
  await new Promise<void>((resolve) => socket.write(bytes, () => resolve()));
  // a will goes out only when the connection ends without DISCONNECT: a reset, once the broker replied
  if (abrupt) await new Promise<void>((resolve) => socket.once('data', () => resolve()));
  if (abrupt) socket.resetAndDestroy();
  else socket.end();
  await closed;
}

const connect = (clientId: string, extra: Partial<ConnectPacket> = {}): ConnectPacket => ({
  type: PacketType.CONNECT,
  protocolName: 'MQTT',
  protocolVersion: 5,
  cleanStart: true,
  keepAlive: 0,
  clientId,
  ...extra,
});
const padding: Packet = { type: PacketType.PUBLISH, topic: 'pin/nobody', payload: Buffer.alloc(PADDING), qos: 0, retain: false, dup: false };
const correlation = { correlationData: Buffer.from('c') };

describe('kept messages do not pin their socket read chunks', () => {
  let broker: CliBroker;
  let inspector: string;

  before(async () => {
    // sessions may outlive their connections (the fuzz caps them at 1 s)
    broker = await startFuzzBroker('memory', { max_session_expiry_interval: 0 });
    inspector = await InspectorProbe.address(() => broker.child.stderr);
  });

  after(async () => {
    await broker?.dispose();
  });

  /** Buffers held after a full GC grow by less than 5 MiB over CONNECTIONS kept one-byte messages. */
  async function assertBounded(what: string, run: (i: number) => Promise<void>): Promise<void> {
    const before = (await InspectorProbe.liveMemory(inspector)).arrayBuffers;
    for (let i = 0; i < CONNECTIONS; i++) await run(i);
    const grown = (await InspectorProbe.liveMemory(inspector)).arrayBuffers - before;
    assert.ok(grown < 5 * MIB, `${CONNECTIONS} ${what} of one byte hold ${mib(grown)} of Buffers (about ${Math.round(grown / CONNECTIONS / 1024)} KiB each)`);
  }

  test('retained messages', async () => {
    await assertBounded('retained messages', (i) =>
      send(broker.port, [connect(`pin-r${i}`), { type: PacketType.PUBLISH, topic: `pin/r/${i}`, payload: Buffer.from('x'), qos: 0, retain: true, dup: false, properties: correlation }, padding]),
    );
  });

  test('retained wills', async () => {
    await assertBounded('retained wills', (i) =>
      send(broker.port, [connect(`pin-w${i}`, { will: { topic: `pin/w/${i}`, payload: Buffer.from('x'), qos: 0, retain: true, properties: correlation } }), padding], true),
    );
  });

  test('messages queued for an offline session', async () => {
    const subscribe: Packet = {
      type: PacketType.SUBSCRIBE,
      packetId: 1,
      subscriptions: [{ topicFilter: 'pin/q/#', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 }],
    };
    // the SUBACK before the reset: the session (1 hour) then holds what comes for pin/q/#
    await send(broker.port, [connect('pin-offline', { cleanStart: true, properties: { sessionExpiryInterval: 3600 } }), subscribe], true);
    await assertBounded('queued messages', (i) =>
      send(broker.port, [connect(`pin-q${i}`), { type: PacketType.PUBLISH, topic: `pin/q/${i}`, payload: Buffer.from('x'), qos: 1, packetId: 1, retain: false, dup: false, properties: correlation }, padding]),
    );
  });
});
