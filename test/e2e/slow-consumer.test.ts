// A slow consumer over real TCP: one subscriber stops reading in the middle of a sustained
// stream while three others keep reading. What must hold (max_outbound_bytes,
// max_queued_messages, slow_consumer_timeout; mosquitto's policy):
// - the healthy subscribers get every message, QoS 0 and QoS 1, in order [MQTT-4.6.0-6],
//   and their latency during the stall stays in the same range as before it;
// - the bytes the broker holds for the slow one stop at max_outbound_bytes (one packet
//   over at most); its QoS 0 is dropped and its QoS 1 queued up to max_queued_messages,
//   then dropped, every drop counted in publishDropped;
// - after slow_consumer_timeout it is disconnected (close reason slow_consumer; v5 gets
//   DISCONNECT 0x97 Quota exceeded) and its will fires [MQTT-3.1.2-8];
// - the process's live memory grows by no more than those limits allow.
// Speed is measured by the benchmarks, not asserted here: rates and latency percentiles
// are printed, and the only timing assertion is a generous bound that starvation (seconds)
// would break and a loaded CI machine would not.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createBroker, type CulexBroker } from '../../src/app/create-broker.js';
import type { CloseReason } from '../../src/core/errors.js';
import { PacketParser, encodePacket } from '../../src/protocol/index.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';
import { PacketType, type ConnectPacket, type Packet, type ProtocolVersion, type PublishPacket, type QoS } from '../../src/protocol/types.js';
import { waitFor } from '../helpers/wait-for.js';

const LIMITS = {
  maxOutboundBytes: 256 * 1024,
  maxQueuedMessages: 1000,
  maxInflightMessages: 20,
  slowConsumerTimeout: 2,
} as const;
const TOPIC = 'load/stream';
const WILL_TOPIC = 'will/slow';
/** Large enough that the slow socket's kernel buffers and max_outbound_bytes fill within a second. */
const PAYLOAD_BYTES = 2048;
/**
 * Messages the publisher may have ahead of the slowest reading subscriber. The stream is
 * self-clocked (no fixed rate that a slow machine could not keep), and a window this small
 * (~64 KiB per subscriber) keeps every healthy connection far below max_outbound_bytes:
 * by construction they keep up, so any loss they see is the slow one's fault.
 */
const WINDOW = 32;
/** Messages published first and not measured: the JIT warms up on them. */
const WARMUP_MESSAGES = 3000;
/** Messages published after the warm-up and before the stall (the "before" sample). */
const BEFORE_MESSAGES = 4000;
/** Messages published after the slow one is gone, to show the stream goes on. */
const AFTER_MESSAGES = 1000;
/** Only the absolute part of the latency bound; see the assertion. */
const P99_BOUND_MS = 250;
const HEALTHY_VERSIONS: readonly ProtocolVersion[] = [5, 4, 5];

const MiB = 1024 * 1024;

// Live memory needs a full collection to be measured (heapUsed without one is mostly
// garbage of the stream); node --test gives no flags, so gc is exposed at run time.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Live JS heap plus Buffer memory, after a full collection. */
function liveBytes(): number {
  // twice: V8 frees dead ArrayBuffers in a sweep that a collection only starts, and
  // process.memoryUsage() counts them until the next collection finishes that sweep
  collectGarbage();
  collectGarbage();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** warm-up, before the stall, during it, after the slow one is gone */
type Phase = 0 | 1 | 2 | 3;
const PHASES = ['warm-up', 'before', 'stall', 'after'] as const;
const [, BEFORE, STALL, AFTER] = [0, 1, 2, 3] as const;

/**
 * Latencies in log buckets 1% wide from 1 µs: constant memory (allocated before the
 * baseline memory sample), where a list of the ~10^5 samples of a stall would not be.
 */
class Histogram {
  static readonly #base = 0.001;
  static readonly #step = Math.log(1.01);
  readonly counts = new Uint32Array(2000);
  count = 0;

  add(ms: number): void {
    const i = ms <= Histogram.#base ? 0 : Math.ceil(Math.log(ms / Histogram.#base) / Histogram.#step);
    const at = Math.min(i, this.counts.length - 1);
    this.counts[at] = (this.counts[at] as number) + 1;
    this.count++;
  }

  /** The q-quantile, as the upper edge of its bucket (at most 1% high). */
  static percentile(histograms: readonly Histogram[], q: number): number {
    const total = histograms.reduce((n, h) => n + h.count, 0);
    if (total === 0) return Number.NaN;
    const rank = Math.ceil(q * total);
    let seen = 0;
    for (let i = 0; i < 2000; i++) {
      for (const h of histograms) seen += h.counts[i] as number;
      if (seen >= rank) return Histogram.#base * Math.exp(i * Histogram.#step);
    }
    return Number.POSITIVE_INFINITY;
  }
}

/** Payload layout: qos (1 byte), per-QoS sequence (u32), phase (1 byte), send time (f64), filler. */
function makePayload(qos: QoS, seq: number, phase: Phase): Buffer {
  const b = Buffer.alloc(PAYLOAD_BYTES, 0x61);
  b.writeUInt8(qos, 0);
  b.writeUInt32BE(seq, 1);
  b.writeUInt8(phase, 5);
  b.writeDoubleBE(performance.now(), 6);
  return b;
}

interface Stamp {
  qos: QoS;
  seq: number;
  phase: Phase;
  sentAt: number;
}

function readStamp(payload: Buffer): Stamp {
  return { qos: payload.readUInt8(0) as QoS, seq: payload.readUInt32BE(1), phase: payload.readUInt8(5) as Phase, sentAt: payload.readDoubleBE(6) };
}

/**
 * A lean client on a raw socket, speaking through our codec, that acknowledges QoS 1 at
 * once. It keeps no packet log (the test clients do): thousands of 2 KiB PUBLISH kept
 * alive would blur the memory numbers.
 */
class Peer {
  readonly socket: Socket;
  readonly version: ProtocolVersion;
  onPublish: (packet: PublishPacket) => void = () => undefined;
  /** The last packet received (a v5 server DISCONNECT comes last). */
  last: Packet | undefined;
  /** The broker's FIN arrived: every byte it sent was read. */
  ended = false;
  closed = false;
  #waiters: { match: (p: Packet) => boolean; resolve: (p: Packet) => void }[] = [];
  #nextId = 1;

  private constructor(socket: Socket, version: ProtocolVersion) {
    this.socket = socket;
    this.version = version;
    const parser = new PacketParser({ protocolVersion: version, onPacket: (p) => this.#onPacket(p) });
    socket.on('data', (chunk: Buffer) => parser.push(chunk));
    socket.on('end', () => (this.ended = true));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  static open(port: number, version: ProtocolVersion): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ port, host: '127.0.0.1' }, () => {
        socket.off('error', reject);
        resolve(new Peer(socket, version));
      });
      socket.once('error', reject);
    });
  }

  send(packet: Packet): void {
    this.socket.write(encodePacket(packet, this.version));
  }

  nextPacketId(): number {
    const id = this.#nextId;
    this.#nextId = id === 65535 ? 1 : id + 1;
    return id;
  }

  /** The next packet that matches, within 5 s. */
  next(match: (p: Packet) => boolean): Promise<Packet> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no matching packet within 5000 ms')), 5000);
      this.#waiters.push({
        match,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
      });
    });
  }

  async connect(fields: Partial<Omit<ConnectPacket, 'type'>> & { clientId: string }): Promise<boolean> {
    const connack = this.next((p) => p.type === PacketType.CONNACK);
    this.send({ type: PacketType.CONNECT, protocolName: 'MQTT', protocolVersion: this.version, cleanStart: true, keepAlive: 0, ...fields });
    const packet = await connack;
    assert.ok(packet.type === PacketType.CONNACK && packet.reasonCode === 0, `CONNACK ${JSON.stringify(packet)}`);
    return packet.sessionPresent;
  }

  async subscribe(...filters: string[]): Promise<void> {
    const packetId = this.nextPacketId();
    const suback = this.next((p) => p.type === PacketType.SUBACK && p.packetId === packetId);
    const subscriptions = filters.map((topicFilter) => ({ topicFilter, qos: 1 as QoS, noLocal: false, retainAsPublished: false, retainHandling: 0 as const }));
    this.send({ type: PacketType.SUBSCRIBE, packetId, subscriptions });
    const packet = await suback;
    assert.ok(packet.type === PacketType.SUBACK, 'SUBACK');
    assert.deepEqual(packet.reasonCodes, filters.map(() => 1));
  }

  #onPacket(packet: Packet): void {
    this.last = packet;
    if (packet.type === PacketType.PUBLISH) {
      if (packet.qos === 1) this.send({ type: PacketType.PUBACK, packetId: packet.packetId as number, reasonCode: 0 });
      this.onPublish(packet);
    }
    const i = this.#waiters.findIndex((w) => w.match(packet));
    if (i >= 0) this.#waiters.splice(i, 1)[0]?.resolve(packet);
  }
}

/** A subscriber that reads at full rate, checks for gaps and keeps latency samples by phase. */
class Healthy {
  readonly peer: Peer;
  readonly label: string;
  /** Messages of the stream received, both QoS. */
  count = 0;
  readonly byQos = [0, 0];
  readonly latencies = PHASES.map(() => new Histogram());
  readonly span: { first: number; last: number; count: number }[] = PHASES.map(() => ({ first: 0, last: 0, count: 0 }));
  readonly errors: string[] = [];
  wills = 0;

  constructor(peer: Peer, label: string, onMessage: () => void) {
    this.peer = peer;
    this.label = label;
    peer.onPublish = (p) => {
      if (p.topic === WILL_TOPIC) {
        this.wills++;
        return;
      }
      const now = performance.now();
      const s = readStamp(p.payload);
      const expected = this.byQos[s.qos] as number;
      // per topic and QoS the order is the publisher's [MQTT-4.6.0-6]; a skipped number is a loss
      if (s.seq !== expected && this.errors.length < 5) this.errors.push(`QoS ${s.qos}: got #${s.seq}, expected #${expected}`);
      if (p.qos !== s.qos && this.errors.length < 5) this.errors.push(`QoS ${s.qos} #${s.seq} arrived at QoS ${p.qos}`);
      this.byQos[s.qos] = s.seq + 1;
      this.count++;
      (this.latencies[s.phase] as Histogram).add(now - s.sentAt);
      const span = this.span[s.phase] as { first: number; last: number; count: number };
      if (span.count === 0) span.first = now;
      span.last = now;
      span.count++;
      onMessage();
    };
  }

  rate(phase: Phase): number {
    const s = this.span[phase] as { first: number; last: number; count: number };
    return s.count < 2 ? 0 : ((s.count - 1) * 1000) / (s.last - s.first);
  }
}

const ms = (x: number): string => x.toFixed(1);
const mib = (x: number): string => (x / MiB).toFixed(2);

describe('a slow consumer over TCP (max_outbound_bytes, max_queued_messages, slow_consumer_timeout)', () => {
  let broker: CulexBroker | undefined;
  let tap: Server | undefined;
  let peers: Peer[] = [];
  let stopStream: () => void = () => undefined;
  let stopSampler: () => void = () => undefined;

  // a test that failed half-way must not leave its stream running into the next one
  afterEach(async () => {
    stopStream();
    stopSampler();
    for (const p of peers) p.socket.destroy();
    peers = [];
    await broker?.close();
    broker = undefined;
    await new Promise<void>((resolve) => (tap ? tap.close(() => resolve()) : resolve()));
    tap = undefined;
  });

  for (const slowVersion of [5, 4] as const) {
    const name = slowVersion === 5 ? 'v5' : '3.1.1';
    test(`${name} subscriber that stops reading: the others get everything, memory stays bounded, the slow one is capped, counted and disconnected`, { timeout: 30_000 }, async () => {
      const closes: { clientId: string | undefined; reason: CloseReason; at: number }[] = [];
      const b = createBroker({ ...LIMITS, sysInterval: 0 });
      broker = b;
      b.on('connectionClosed', (info) => closes.push({ clientId: info.clientId, reason: info.reason, at: performance.now() }));
      const { port } = await b.listen(0, '127.0.0.1');

      // The slow subscriber comes in through a listener of our own that hands its socket
      // to broker.handle() (what transports/tcp.ts does), so the test holds the broker's
      // side of that socket and sees, after every write, the bytes the broker keeps for a
      // client that does not read (its writableLength).
      let slowBuffered = 0;
      let slowBufferedPeak = 0;
      let congestedAt = 0;
      tap = createServer({ noDelay: true }, (socket) => {
        const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
        (socket as unknown as { write: (...args: unknown[]) => boolean }).write = (...args: unknown[]): boolean => {
          const accepted = write(...args);
          slowBuffered = socket.writableLength;
          if (slowBuffered > slowBufferedPeak) slowBufferedPeak = slowBuffered;
          if (congestedAt === 0 && slowBuffered >= LIMITS.maxOutboundBytes) congestedAt = performance.now();
          return accepted;
        };
        b.handle(socket, { remoteAddress: socket.remoteAddress });
      });
      await new Promise<void>((resolve) => (tap as Server).listen(0, '127.0.0.1', resolve));
      const tapPort = (tap.address() as AddressInfo).port;

      // the slow one: a persistent session (so its queue outlives the disconnect and can be
      // read back) and a will, to see it fire on the slow_consumer close
      const slowId = `slow-${name}`;
      const sessionFields = slowVersion === 5 ? { cleanStart: false, properties: { sessionExpiryInterval: 300 } } : { cleanStart: false };
      const slow = await Peer.open(tapPort, slowVersion);
      peers.push(slow);
      await slow.connect({
        clientId: slowId,
        ...sessionFields,
        will: { topic: WILL_TOPIC, payload: Buffer.from(`${slowId} is gone`), qos: 1, retain: false },
      });
      await slow.subscribe(TOPIC);
      const slowSeqs: number[][] = [[], []];
      let slowBeforeStall = [0, 0];
      slow.onPublish = (p) => {
        const s = readStamp(p.payload);
        (slowSeqs[s.qos] as number[]).push(s.seq);
      };

      let phase: Phase = 0;
      let stallAt = 0;
      let published = 0;
      const publishedByQos = [0, 0];
      let limit = Infinity;
      let streaming = true;
      stopStream = () => (streaming = false);

      const healthy: Healthy[] = [];
      for (const [i, version] of HEALTHY_VERSIONS.entries()) {
        const peer = await Peer.open(port, version);
        peers.push(peer);
        await peer.connect({ clientId: `healthy-${i}-v${version}` });
        const h = new Healthy(peer, `healthy-${i}(v${version})`, () => pump());
        healthy.push(h);
        // the first one also watches for the will
        await (i === 0 ? peer.subscribe(TOPIC, WILL_TOPIC) : peer.subscribe(TOPIC));
      }
      const publisher = await Peer.open(port, 4);
      peers.push(publisher);
      await publisher.connect({ clientId: 'publisher' });

      const stall = (): void => {
        phase = STALL;
        stallAt = performance.now();
        slowBeforeStall = slowSeqs.map((s) => s.length);
        // stops reading: Node reads one high-water mark more into the stream, then stops
        // reading the socket, and the kernel buffers behind it fill. (Node 20 has no way to
        // shrink SO_RCVBUF on a TCP socket; the 2 KiB payloads fill it quickly anyway.)
        slow.socket.pause();
      };

      /** Publishes (QoS 0 and QoS 1 alternately) while the window to the healthy ones allows. */
      function pump(): void {
        if (!streaming) return;
        // until the stall the slow one is an ordinary reader and paces the stream too
        let floor = phase < STALL ? (slowSeqs[0] as number[]).length + (slowSeqs[1] as number[]).length : Infinity;
        for (const h of healthy) floor = Math.min(floor, h.count);
        const out: Buffer[] = [];
        while (published - floor < WINDOW && published < limit) {
          if (phase === 0 && published >= WARMUP_MESSAGES) phase = BEFORE;
          if (phase === BEFORE && published >= WARMUP_MESSAGES + BEFORE_MESSAGES) stall();
          const qos = (published % 2) as QoS;
          const seq = publishedByQos[qos] as number;
          publishedByQos[qos] = seq + 1;
          const payload = makePayload(qos, seq, phase);
          out.push(encodePacket({ type: PacketType.PUBLISH, topic: TOPIC, payload, qos, retain: false, dup: false, ...(qos === 1 ? { packetId: publisher.nextPacketId() } : {}) }, 4));
          published++;
        }
        if (out.length > 0) publisher.socket.write(Buffer.concat(out));
      }

      const droppedAtStart = b.stats.publishDropped;
      const memBefore = liveBytes();
      // live memory every 250 ms through the run, so a buffer that grows between the
      // explicit samples is seen too (each sample is a full collection: a few ms)
      const memPeak = PHASES.map(() => 0);
      let gcMs = 0;
      let gcCount = 0;
      const sampleMemory = (): number => {
        const t0 = performance.now();
        const live = liveBytes();
        gcMs += performance.now() - t0;
        gcCount++;
        if (live > (memPeak[phase] as number)) memPeak[phase] = live;
        return live;
      };
      const sampler = setInterval(sampleMemory, 250);
      stopSampler = () => clearInterval(sampler);
      pump();

      // the plateau: the slow one's buffer is over the limit (from then on QoS 1 goes to its
      // queue) and max_queued_messages more QoS 1 were published (so the queue is full)
      const stored = (): number => Number(b.sysSnapshot().get('$SYS/broker/messages/stored'));
      const retainedCap = LIMITS.maxInflightMessages + LIMITS.maxQueuedMessages;
      await waitFor(() => phase === STALL && slowBuffered >= LIMITS.maxOutboundBytes, {
        timeoutMs: 8000,
        message: () => `the slow one's buffer to pass max_outbound_bytes (${slowBuffered} bytes)`,
      });
      const congestedQos1 = publishedByQos[1] as number;
      await waitFor(() => (publishedByQos[1] as number) >= congestedQos1 + LIMITS.maxQueuedMessages, {
        timeoutMs: 8000,
        message: () => `${LIMITS.maxQueuedMessages} QoS 1 messages published after the slow one's buffer filled (${(publishedByQos[1] as number) - congestedQos1})`,
      });
      const plateauAt = performance.now();
      const storedAtPlateau = stored();
      const droppedAtPlateau = b.stats.publishDropped - droppedAtStart;
      const memPlateau = sampleMemory();

      // the policy's last step: disconnected after slow_consumer_timeout over the limit
      await waitFor(() => closes.some((c) => c.clientId === slowId), {
        timeoutMs: LIMITS.slowConsumerTimeout * 1000 + 8000,
        message: () => `the slow one to be disconnected (buffered ${slowBuffered} bytes, closes ${JSON.stringify(closes)})`,
      });
      const closedAt = (closes.find((c) => c.clientId === slowId) as { at: number }).at;
      phase = AFTER;
      limit = published + AFTER_MESSAGES;
      // read what the broker had sent before closing; for v5 a DISCONNECT comes last
      slow.socket.resume();
      pump();

      await waitFor(() => healthy.every((h) => h.count === limit), {
        timeoutMs: 15_000,
        message: () => `every healthy subscriber to get all ${limit} messages: ${healthy.map((h) => `${h.label} ${h.count}`).join(', ')}`,
      });
      streaming = false;
      await waitFor(() => (healthy[0] as Healthy).wills > 0, { timeoutMs: 3000, message: "the slow one's will" });
      await waitFor(() => slow.closed, { timeoutMs: 3000, message: 'the slow socket to close' });
      // QoS 1 still held for the offline slow session: its window and its full queue, no more
      // (waiting only for the healthy ones' last PUBACKs to be handled)
      await waitFor(() => stored() <= retainedCap, { timeoutMs: 3000, message: () => `messages/stored down to ${retainedCap}, is ${stored()}` });
      const storedAtEnd = stored();
      const droppedTotal = b.stats.publishDropped - droppedAtStart;
      stopSampler();
      const memAfter = sampleMemory();

      // the slow one comes back to its session and reads what was kept for it
      const back = await Peer.open(port, slowVersion);
      peers.push(back);
      const backSeqs: number[] = [];
      let backQos0 = 0;
      back.onPublish = (p) => {
        const s = readStamp(p.payload);
        if (s.qos === 1) backSeqs.push(s.seq);
        else backQos0++;
      };
      const sessionPresent = await back.connect({ clientId: slowId, ...sessionFields });
      await waitFor(() => stored() === 0, { timeoutMs: 5000, message: () => `the kept messages to be delivered (stored ${stored()})` });

      // ---- the numbers
      const lat = (p: Phase): Histogram[] => healthy.map((h) => h.latencies[p] as Histogram);
      const samples = (p: Phase): number => lat(p).reduce((n, h) => n + h.count, 0);
      const p50 = PHASES.map((_, p) => Histogram.percentile(lat(p as Phase), 0.5));
      const p99 = PHASES.map((_, p) => Histogram.percentile(lat(p as Phase), 0.99));
      const slowAfterStall = slowSeqs.map((s, q) => s.length - (slowBeforeStall[q] as number));
      const slowQos1Kept = new Set([...(slowSeqs[1] as number[]).slice(slowBeforeStall[1]), ...backSeqs]);
      const droppedQos0 = (publishedByQos[0] as number) - (slowSeqs[0] as number[]).length;
      const droppedQos1 = (publishedByQos[1] as number) - (slowBeforeStall[1] as number) - slowQos1Kept.size;
      const stallMs = closedAt - stallAt;
      console.log(
        `slow-consumer ${name}: published ${published} (${publishedByQos[0]} QoS 0, ${publishedByQos[1]} QoS 1, ${PAYLOAD_BYTES} B); ` +
          healthy.map((h) => `${h.label} got ${h.count} lost ${published - h.count}, ${h.rate(BEFORE).toFixed(0)}/${h.rate(STALL).toFixed(0)} msg/s before/stall`).join('; ') +
          `; slow: ${slowBeforeStall[0]}+${slowBeforeStall[1]} read before the stall, ${slowAfterStall[0]}+${slowAfterStall[1]} after (QoS 0+1), ` +
          `dropped QoS 0 ${droppedQos0} QoS 1 ${droppedQos1} (publishDropped +${droppedTotal}, ${droppedAtPlateau} at the plateau), ` +
          `kept QoS 1 ${slowQos1Kept.size} (stored ${storedAtPlateau} at the plateau, ${storedAtEnd} at the end), ` +
          `buffered peak ${slowBufferedPeak} B (limit ${LIMITS.maxOutboundBytes}); ` +
          `closed ${closes.find((c) => c.clientId === slowId)?.reason} ${ms(stallMs)} ms after the stall, ${congestedAt > 0 ? ms(closedAt - congestedAt) : '?'} ms after the buffer passed the limit, plateau at +${ms(plateauAt - stallAt)} ms; ` +
          `live memory ${mib(memBefore)} at the start, peak ${[BEFORE, STALL, AFTER].map((p) => mib(memPeak[p] as number)).join('/')} MiB before/stall/after, ${mib(memPlateau)} at the plateau, ${mib(memAfter)} at the end ` +
          `(${gcCount} samples, ${ms(gcMs / gcCount)} ms each); ` +
          `healthy latency p50 ${[BEFORE, STALL, AFTER].map((p) => ms(p50[p] as number)).join('/')} p99 ${[BEFORE, STALL, AFTER].map((p) => ms(p99[p] as number)).join('/')} ms ` +
          `before/stall/after (${[BEFORE, STALL, AFTER].map(samples).join('/')} samples)`,
      );

      // ---- the healthy subscribers: everything, in order, still connected
      for (const h of healthy) {
        assert.deepEqual(h.errors, [], `${h.label}: gaps or disorder`);
        assert.deepEqual(h.byQos, publishedByQos, `${h.label}: received ${h.byQos.join('+')} of ${publishedByQos.join('+')} (QoS 0+1)`);
        assert.equal(h.peer.closed, false, `${h.label} was disconnected`);
      }
      assert.deepEqual(
        closes.map((c) => [c.clientId, c.reason]),
        [[slowId, 'slow_consumer']],
        'only the slow one was disconnected, as a slow consumer',
      );
      // the stream went on during the stall: a broker that waited on the slow socket would stall everyone
      const stallMessages = Math.min(...healthy.map((h) => (h.span[STALL] as { count: number }).count));
      assert.ok(stallMessages >= 100, `only ${stallMessages} messages reached every healthy subscriber during the ${ms(stallMs)} ms stall`);
      // Latency, robustly: starvation behind the slow socket costs seconds, so the absolute
      // bound catches it; the relative term keeps a loaded machine, where everything is
      // slower before the stall as well as during it, from failing for a reason that is not
      // the slow consumer's. Failing needs both: p99 over 250 ms AND over 5x its value before.
      const bound = Math.max(P99_BOUND_MS, 5 * (p99[BEFORE] as number));
      assert.ok((p99[STALL] as number) <= bound, `healthy p99 latency ${ms(p99[STALL] as number)} ms during the stall, bound ${ms(bound)} ms (p99 before ${ms(p99[BEFORE] as number)} ms)`);

      // ---- memory: the slow one's buffered bytes stop at the limit; each check of
      // isCongested() precedes a send, so at most one PUBLISH (and a DISCONNECT) more
      const packetBytes = PAYLOAD_BYTES + TOPIC.length + 16;
      assert.ok(
        slowBufferedPeak <= LIMITS.maxOutboundBytes + packetBytes + 512,
        `the broker held ${slowBufferedPeak} bytes for the slow client, max_outbound_bytes ${LIMITS.maxOutboundBytes} + one packet (${packetBytes})`,
      );
      // live memory at the plateau: the buffer, and per kept QoS 1 message one pool slab
      // (a kept payload under 4 KiB is copied into Node's 8 KiB Buffer pool and pins its slab,
      // see ownPayload in core/message.ts) plus its packet and message objects; 4 MiB more
      // for allocator noise and what the test itself keeps (sequence lists)
      const memBound = LIMITS.maxOutboundBytes + retainedCap * (Buffer.poolSize + packetBytes) + 4 * MiB;
      const memGrowth = Math.max(...memPeak) - memBefore;
      assert.ok(memGrowth <= memBound, `live memory grew by up to ${mib(memGrowth)} MiB, bound ${mib(memBound)} MiB`);

      // ---- the policy: QoS 0 dropped, QoS 1 capped at window + queue, counted, then disconnected
      // (before the stall the slow one was an ordinary subscriber that got everything)
      for (const q of [0, 1]) {
        const n = slowBeforeStall[q] as number;
        assert.ok(n >= WARMUP_MESSAGES / 2, `the slow one read only ${n} QoS ${q} messages before the stall`);
        assert.deepEqual((slowSeqs[q] as number[]).slice(0, n), Array.from({ length: n }, (_, i) => i), `QoS ${q} to the slow one before the stall`);
      }
      assert.equal(slow.ended, true, 'the slow one could not read all the broker had sent it (its socket was destroyed first)');
      assert.ok(droppedQos0 > 0, 'QoS 0 to the slow one was dropped');
      assert.ok(droppedQos1 > 0, 'QoS 1 beyond the queue was dropped');
      assert.equal(droppedTotal, droppedQos0 + droppedQos1, 'every message the slow one did not get is counted in publishDropped');
      assert.equal(b.sysSnapshot().get('$SYS/broker/publish/messages/dropped'), String(b.stats.publishDropped));
      assert.equal(storedAtEnd, retainedCap, `QoS 1 kept for the slow session: in flight ${LIMITS.maxInflightMessages} + max_queued_messages ${LIMITS.maxQueuedMessages}`);
      assert.equal(sessionPresent, true);
      assert.equal(backQos0, 0, 'QoS 0 is never queued');
      // what was kept is the head of the stall, without holes: the queue takes messages until
      // it is full and drops everything after
      const kept = [...slowQos1Kept].sort((x, y) => x - y);
      const first = slowBeforeStall[1] as number;
      assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => first + i), 'the QoS 1 kept for the slow one is a contiguous run');
      assert.equal(kept.length, retainedCap);

      assert.equal(b.stats.closes['slow_consumer'], 1);
      assert.ok(stallMs >= LIMITS.slowConsumerTimeout * 1000, `disconnected ${ms(stallMs)} ms after it stopped reading, before slow_consumer_timeout`);
      const last = slow.last;
      if (slowVersion === 5) {
        assert.ok(last?.type === PacketType.DISCONNECT, `the last packet to the slow one is type ${last?.type}, not DISCONNECT`);
        assert.equal(last.reasonCode, ReasonCode.QUOTA_EXCEEDED);
      } else {
        assert.equal(last?.type, PacketType.PUBLISH, '3.1.1 has no server DISCONNECT: the socket just closes');
      }
      assert.equal((healthy[0] as Healthy).wills, 1, 'the will was published once');
    });
  }
});
