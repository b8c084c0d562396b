// Misbehaving peers over real TCP: each one loses only its own connection, with the right
// close reason (connectionClosed event and a warn log line), while a well-behaved
// publisher/subscriber pair on the same broker keeps getting every message.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { createBroker, type CulexBroker } from '../../src/app/create-broker.js';
import type { CloseReason } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/ports.js';
import { encodePacket } from '../../src/protocol/index.js';
import { PacketType, type DisconnectPacket, type PublishPacket } from '../../src/protocol/types.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { tcpTestClient, type TestClient } from '../helpers/mqtt-test-client.js';
import { waitFor } from '../helpers/wait-for.js';

interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  msg: string | undefined;
}

function capturingLogger(records: LogRecord[]): Logger {
  const at =
    (level: LogRecord['level']) =>
    (fields: object, msg?: string): void => {
      records.push({ level, fields: fields as Record<string, unknown>, msg });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

interface Closed {
  reason: CloseReason;
  clientId: string | undefined;
  remoteAddress: string | undefined;
  detail?: string;
}

const STREAM_TOPIC = 'good/stream';
const MAX_PACKET_SIZE = 1024;

/**
 * The well-behaved pair: publishes QoS 1 message n+1 once the subscriber has message n, so
 * the stream keeps flowing through every abuse test and any loss stalls it at once.
 */
class GoodStream {
  readonly sub: TestClient;
  readonly pub: TestClient;
  sent = 0;
  error: Error | undefined;
  #stopped = false;
  #done: Promise<void> | undefined;

  constructor(sub: TestClient, pub: TestClient) {
    this.sub = sub;
    this.pub = pub;
  }

  /** Payloads the subscriber received on the stream topic, in order. */
  get delivered(): string[] {
    return this.sub.received.filter((p): p is PublishPacket => p.type === PacketType.PUBLISH && p.topic === STREAM_TOPIC).map((p) => p.payload.toString());
  }

  start(): void {
    this.#done = (async () => {
      try {
        while (!this.#stopped) {
          const n = this.sent;
          await this.pub.publish(STREAM_TOPIC, String(n), 1);
          this.sent++;
          await waitFor(() => this.delivered.length > n, { timeoutMs: 3000, message: () => `the good subscriber to receive message ${n}` });
        }
      } catch (err) {
        this.error = err as Error;
      }
    })();
  }

  /** Waits until `count` more messages went through (proof the stream still flows). */
  async advance(count: number): Promise<void> {
    const target = this.delivered.length + count;
    await waitFor(() => this.error !== undefined || this.delivered.length >= target, { timeoutMs: 5000, message: `${count} more good messages` });
    if (this.error) throw this.error;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
    if (this.error) throw this.error;
  }

  assertIntact(): void {
    const got = this.delivered;
    assert.equal(got.length, this.sent, `sent ${this.sent}, delivered ${got.length}`);
    got.forEach((payload, i) => assert.equal(payload, String(i), `message ${i} out of order or duplicated`));
    assert.equal(this.sub.closed, false, 'the good subscriber was disconnected');
    assert.equal(this.pub.closed, false, 'the good publisher was disconnected');
  }
}

/** A deterministic PRNG (mulberry32), so a failing garbage run can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ port, host: '127.0.0.1' }, () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** A PUBLISH (QoS 0) built by hand, so nothing in our encoder can refuse or fix it. */
function rawPublish(topic: string, payload: Buffer): Buffer {
  const t = Buffer.from(topic);
  const body = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, payload]);
  const len: number[] = [];
  let x = body.length;
  do {
    let byte = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) byte |= 0x80;
    len.push(byte);
  } while (x > 0);
  return Buffer.concat([Buffer.from([0x30, ...len]), body]);
}

// SUBSCRIBE with flags 0000 instead of 0010: malformed [MQTT-3.8.1-1]
const SUBSCRIBE_BAD_FLAGS = [0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00];
// a PUBLISH whose Remaining Length runs to a fifth byte: malformed [MQTT-1.5.5] (at most 4 bytes)
const FIVE_BYTE_LENGTH = [0x30, 0xff, 0xff, 0xff, 0xff, 0x01];

// how a garbage connection may end (random bytes after a valid CONNECT can be any packet)
const GARBAGE_CLOSE_REASONS: readonly CloseReason[] = [
  'malformed_packet',
  'protocol_error',
  'packet_too_large',
  'unsupported_protocol_version',
  'connect_timeout',
  'socket_closed',
  'socket_error',
  'topic_invalid',
  'client_id_rejected',
  'client_disconnect',
  'session_taken_over',
  'receive_maximum_exceeded',
];

describe('abusive peers over TCP', () => {
  let broker: CulexBroker;
  let port = 0;
  const logs: LogRecord[] = [];
  const closes: Closed[] = [];
  const clients: TestClient[] = [];
  const sockets: Socket[] = [];
  let stream: GoodStream;

  before(async () => {
    broker = createBroker({ logger: capturingLogger(logs), maxPacketSize: MAX_PACKET_SIZE, connectTimeout: 1, sysInterval: 0 });
    broker.on('connectionClosed', (info) => closes.push(info));
    ({ port } = await broker.listen(0, '127.0.0.1'));
    const sub = await client(4);
    await sub.connect({ clientId: 'good-sub' });
    const suback = await sub.subscribe(STREAM_TOPIC, 1);
    assert.deepEqual(suback.reasonCodes, [1]);
    const pub = await client(4);
    await pub.connect({ clientId: 'good-pub' });
    stream = new GoodStream(sub, pub);
    stream.start();
    await stream.advance(5);
  });

  after(async () => {
    await stream?.stop().catch(() => undefined);
    for (const c of clients) c.destroy();
    for (const s of sockets) s.destroy();
    await broker?.close();
  });

  async function client(version: 4 | 5): Promise<TestClient> {
    const c = await tcpTestClient(port, { version, timeoutMs: 3000 });
    clients.push(c);
    return c;
  }

  /**
   * Asserts the close of one abusive connection: exactly one new connectionClosed with this
   * reason (and client id, when it had one), a matching warn log line, and the good stream
   * still flowing afterwards.
   */
  async function assertClosedAlone(since: number, reason: CloseReason, clientId: string | undefined): Promise<Closed> {
    await waitFor(() => closes.length > since, { timeoutMs: 3000, message: `a connectionClosed event (${reason})` });
    const fresh = closes.slice(since);
    assert.equal(fresh.length, 1, `only the abusive connection closes: ${JSON.stringify(fresh)}`);
    const closed = fresh[0] as Closed;
    assert.equal(closed.reason, reason, JSON.stringify(closed));
    assert.equal(closed.clientId, clientId);
    assert.equal(closed.remoteAddress, '127.0.0.1');
    const logged = logs.filter((r) => r.level === 'warn' && r.fields.reason === reason && r.fields.clientId === clientId);
    assert.ok(logged.length >= 1, `no warn log with reason ${reason}: ${JSON.stringify(logs.slice(-5))}`);
    await stream.advance(10);
    return closed;
  }

  test('malformed packet (SUBSCRIBE with reserved flags 0000) closes that connection: malformed_packet', async () => {
    const bad = await client(4);
    await bad.connect({ clientId: 'abuse-sub-flags' });
    const since = closes.length;
    bad.sendRaw(SUBSCRIBE_BAD_FLAGS);
    await bad.closedWithin();
    await assertClosedAlone(since, 'malformed_packet', 'abuse-sub-flags');
    assert.equal(bad.received.filter((p) => p.type === PacketType.SUBACK).length, 0, 'no SUBACK for a malformed SUBSCRIBE');
  });

  test('a 5-byte Remaining Length closes that connection: malformed_packet', async () => {
    const bad = await client(4);
    await bad.connect({ clientId: 'abuse-varint' });
    const since = closes.length;
    bad.sendRaw(FIVE_BYTE_LENGTH);
    await bad.closedWithin();
    await assertClosedAlone(since, 'malformed_packet', 'abuse-varint');
  });

  test('a 5-byte Remaining Length before CONNECT closes the socket: malformed_packet', async () => {
    const since = closes.length;
    const socket = await rawSocket(port);
    sockets.push(socket);
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]));
    await ended;
    await assertClosedAlone(since, 'malformed_packet', undefined);
  });

  test(`oversized packet (2000-byte PUBLISH, max_packet_size ${MAX_PACKET_SIZE}) closes that connection: packet_too_large`, async () => {
    const bad = await client(4);
    await bad.connect({ clientId: 'abuse-big' });
    const since = closes.length;
    bad.sendRaw(rawPublish('big/one', Buffer.alloc(2000, 0x61)));
    await bad.closedWithin();
    await assertClosedAlone(since, 'packet_too_large', 'abuse-big');
  });

  test('oversized packet announced by its header alone (body never sent) is refused at once', async () => {
    const bad = await client(4);
    await bad.connect({ clientId: 'abuse-big-header' });
    const since = closes.length;
    // fixed header claiming 100 000 bytes; the broker must not wait to buffer them
    bad.sendRaw([0x30, 0xa0, 0x8d, 0x06]);
    await bad.closedWithin();
    await assertClosedAlone(since, 'packet_too_large', 'abuse-big-header');
  });

  test('PUBLISH to a topic with a wildcard (a/+) closes that connection: topic_invalid [MQTT-3.3.2-2]', async () => {
    const bad = await client(4);
    await bad.connect({ clientId: 'abuse-topic' });
    const watcher = await client(4);
    await watcher.connect({ clientId: 'abuse-topic-watcher' });
    await watcher.subscribe('a/#', 0);
    const since = closes.length;
    bad.sendRaw(rawPublish('a/+', Buffer.from('x')));
    await bad.closedWithin();
    await assertClosedAlone(since, 'topic_invalid', 'abuse-topic');
    await watcher.barrier();
    assert.equal(watcher.received.filter((p) => p.type === PacketType.PUBLISH).length, 0, 'the invalid PUBLISH was routed');
    watcher.disconnect();
    await watcher.closedWithin();
  });

  test('a socket that never sends anything is closed after connect_timeout (1 s): connect_timeout', async () => {
    const since = closes.length;
    const socket = await rawSocket(port);
    sockets.push(socket);
    const started = Date.now();
    let closedAt = 0;
    socket.on('close', () => (closedAt = Date.now()));
    socket.resume();
    await waitFor(() => closedAt > 0, { timeoutMs: 4000, message: 'the broker to close a silent socket' });
    const elapsed = closedAt - started;
    assert.ok(elapsed >= 900, `closed after ${elapsed} ms, before connect_timeout`);
    await assertClosedAlone(since, 'connect_timeout', undefined);
  });

  test('v5: a malformed packet gets DISCONNECT 0x81 before the close', async () => {
    const bad = await client(5);
    await bad.connect({ clientId: 'abuse-v5-malformed' });
    const since = closes.length;
    bad.sendRaw(SUBSCRIBE_BAD_FLAGS);
    const disconnect = await bad.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
    assert.equal(disconnect.reasonCode, ReasonCode.MALFORMED_PACKET);
    await bad.closedWithin();
    await assertClosedAlone(since, 'malformed_packet', 'abuse-v5-malformed');
  });

  test('v5: an oversized packet gets DISCONNECT 0x95 before the close', async () => {
    const bad = await client(5);
    const connack = await bad.connect({ clientId: 'abuse-v5-big' });
    // the limit is announced in CONNACK [MQTT-3.2.2.3.6]
    assert.equal(connack.properties?.maximumPacketSize, MAX_PACKET_SIZE);
    const since = closes.length;
    // a v5 PUBLISH has a properties length byte after the topic
    const topic = Buffer.from('big/v5');
    const body = Buffer.concat([Buffer.from([0, topic.length]), topic, Buffer.from([0]), Buffer.alloc(2000, 0x62)]);
    bad.sendRaw(Buffer.concat([Buffer.from([0x30, 0x80 | (body.length & 0x7f), body.length >> 7]), body]));
    const disconnect = await bad.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
    assert.equal(disconnect.reasonCode, ReasonCode.PACKET_TOO_LARGE);
    await bad.closedWithin();
    await assertClosedAlone(since, 'packet_too_large', 'abuse-v5-big');
  });

  test('v5: PUBLISH to a/+ gets DISCONNECT 0x90 (Topic Name invalid) before the close', async () => {
    const bad = await client(5);
    await bad.connect({ clientId: 'abuse-v5-topic' });
    const since = closes.length;
    const topic = Buffer.from('a/+');
    const body = Buffer.concat([Buffer.from([0, topic.length]), topic, Buffer.from([0]), Buffer.from('x')]);
    bad.sendRaw(Buffer.concat([Buffer.from([0x30, body.length]), body]));
    const disconnect = await bad.nextOfType<DisconnectPacket>(PacketType.DISCONNECT);
    assert.equal(disconnect.reasonCode, ReasonCode.TOPIC_NAME_INVALID);
    await bad.closedWithin();
    await assertClosedAlone(since, 'topic_invalid', 'abuse-v5-topic');
  });

  test('a first packet that is not CONNECT closes the socket with nothing sent: protocol_error [MQTT-3.1.0-1]', async () => {
    const since = closes.length;
    const bad = await client(4);
    bad.sendRaw(rawPublish('x/y', Buffer.from('too early')));
    await bad.closedWithin();
    assert.deepEqual(bad.received, [], 'nothing may be sent before a CONNACK');
    await assertClosedAlone(since, 'protocol_error', undefined);
  });

  test('200 garbage connections in parallel with a QoS 1 stream: nothing lost, nothing crashes', async () => {
    const seed = Number(process.env.ABUSE_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    const context = `seed ${seed} (rerun with ABUSE_SEED=${seed})`;
    await stream.stop();
    stream.assertIntact();

    // a pipelined QoS 1 stream on its own topic, publishing as fast as PUBACKs come back
    const burstTopic = 'good/burst';
    const burstSub = await client(4);
    await burstSub.connect({ clientId: 'good-burst-sub' });
    await burstSub.subscribe(burstTopic, 1);
    const burstPub = await client(4);
    await burstPub.connect({ clientId: 'good-burst-pub' });
    const BURST = 500;
    const burst = (async () => {
      for (let i = 0; i < BURST; i++) await burstPub.publish(burstTopic, String(i), 1);
    })();

    const connectBytes = encodePacket(
      { type: PacketType.CONNECT, protocolName: 'MQTT', protocolVersion: 4, cleanStart: true, keepAlive: 0, clientId: 'garbage' },
      4,
    );
    const closesBefore = closes.length;
    const garbage = Array.from({ length: 200 }, async (_, i) => {
      const socket = await rawSocket(port);
      sockets.push(socket);
      socket.resume();
      const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      const junk = Buffer.alloc(1 + Math.floor(random() * 512));
      for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(random() * 256);
      // a quarter start with a valid CONNECT (own client id), so the junk hits a connected session
      const prefix = i % 4 === 0 ? Buffer.from(connectBytes.toString('latin1').replace('garbage', `garbag${i % 10}`), 'latin1') : Buffer.alloc(0);
      socket.write(Buffer.concat([prefix, junk]));
      // half hang up themselves (all those that sent a CONNECT: keepalive 0 never times out);
      // the others wait for the broker to close them (malformed, or connect_timeout)
      if (i % 2 === 0) socket.end();
      await gone;
    });
    await Promise.all(garbage).catch((err: unknown) => {
      throw new Error(`garbage connection failed: ${(err as Error).message}; ${context}`);
    });
    await burst;
    await waitFor(
      () => burstSub.received.filter((p) => p.type === PacketType.PUBLISH && p.topic === burstTopic).length >= BURST,
      { timeoutMs: 10_000, message: () => `all ${BURST} burst messages; ${context}` },
    );
    const got = burstSub.received
      .filter((p): p is PublishPacket => p.type === PacketType.PUBLISH && p.topic === burstTopic)
      .map((p) => p.payload.toString());
    assert.deepEqual(got, Array.from({ length: BURST }, (_, i) => String(i)), `burst stream damaged; ${context}`);
    await waitFor(() => closes.length - closesBefore >= 200, { timeoutMs: 5000, message: () => `all garbage connections recorded as closed; ${context}` });
    for (const c of [burstSub, burstPub, stream.sub, stream.pub]) assert.equal(c.closed, false, `a good client was disconnected; ${context}`);
    const goodIds = new Set(['good-sub', 'good-pub', 'good-burst-sub', 'good-burst-pub']);
    assert.deepEqual(closes.filter((c) => c.clientId !== undefined && goodIds.has(c.clientId)), [], context);
    // the broker is still whole: only the four good clients remain, and a new client works end to end
    await waitFor(() => broker.connectionCount === 4, { timeoutMs: 3000, message: () => `connectionCount 4, is ${broker.connectionCount}; ${context}` });
    const late = await client(4);
    assert.equal((await late.connect({ clientId: 'late' })).reasonCode, 0);
    await late.publish(burstTopic, 'after', 1);
    await waitFor(() => burstSub.received.some((p) => p.type === PacketType.PUBLISH && p.payload.toString() === 'after'));
    const reasons = new Set(closes.slice(closesBefore).map((c) => c.reason));
    for (const r of reasons) {
      assert.ok(
        GARBAGE_CLOSE_REASONS.includes(r),
        `unexpected close reason ${r}; ${context}`,
      );
    }
  });

  test('no internal error was logged during the whole suite', () => {
    const errors = logs.filter((r) => r.level === 'error');
    assert.deepEqual(errors, [], 'error-level logs mean a bug in the broker');
  });
});
