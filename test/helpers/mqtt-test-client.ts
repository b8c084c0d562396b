// A deliberately literal MQTT client for conformance tests: it sends exactly the packets
// a test asks for (our codec encodes them) and records every packet it receives, so tests
// can assert the broker's bytes-level behaviour. It also talks to the broker over a real
// socket when given one.
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { PacketParser, encodePacket, MqttProtocolError } from '../../src/protocol/index.js';
import {
  PacketType,
  type ConnackPacket,
  type ConnectPacket,
  type Packet,
  type ProtocolVersion,
  type PublishPacket,
  type QoS,
  type SubackPacket,
  type Subscription,
  type UnsubackPacket,
} from '../../src/protocol/types.js';

export interface TestClientOptions {
  version?: ProtocolVersion;
  /** Answer incoming QoS 1/2 PUBLISH automatically (PUBACK, PUBREC; PUBCOMP on PUBREL). */
  autoAck?: boolean;
  /** Default time limit of next()/closed(), in ms. */
  timeoutMs?: number;
}

export class TestClient {
  readonly version: ProtocolVersion;
  /** Packets received and not yet taken by next(). */
  readonly inbox: Packet[] = [];
  /** Every packet received, in order. */
  readonly received: Packet[] = [];
  closed = false;
  parseError: MqttProtocolError | undefined;
  autoAck: boolean;
  readonly #stream: Duplex;
  readonly #timeoutMs: number;
  #waiters: (() => void)[] = [];
  #nextId = 1;

  constructor(stream: Duplex, options: TestClientOptions = {}) {
    this.#stream = stream;
    this.version = options.version ?? 4;
    this.autoAck = options.autoAck ?? true;
    this.#timeoutMs = options.timeoutMs ?? 3000;
    const parser = new PacketParser({ protocolVersion: this.version, onPacket: (p) => this.#onPacket(p) });
    stream.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch (err) {
        this.parseError = err as MqttProtocolError;
        stream.destroy();
      }
    });
    const onClose = (): void => {
      this.closed = true;
      this.#wake();
    };
    stream.on('close', onClose);
    stream.on('end', onClose);
    stream.on('error', () => undefined);
  }

  get stream(): Duplex {
    return this.#stream;
  }

  nextPacketId(): number {
    const id = this.#nextId;
    this.#nextId = id === 65535 ? 1 : id + 1;
    return id;
  }

  send(packet: Packet): void {
    this.#stream.write(encodePacket(packet, this.version));
  }

  sendRaw(bytes: Buffer | number[]): void {
    this.#stream.write(Buffer.from(bytes));
  }

  /** Takes the first received packet that matches, waiting for it up to the time limit. */
  async next<P extends Packet = Packet>(match: (p: Packet) => boolean = () => true, timeoutMs = this.#timeoutMs): Promise<P> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex(match);
      if (i >= 0) return this.inbox.splice(i, 1)[0] as P;
      if (this.closed) throw new Error(`connection closed while waiting for a packet; inbox: ${describe(this.inbox)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching packet within ${timeoutMs} ms; inbox: ${describe(this.inbox)}`);
      await this.#wait(left);
    }
  }

  nextOfType<P extends Packet>(type: P['type'], timeoutMs?: number): Promise<P> {
    return this.next<P>((p) => p.type === type, timeoutMs);
  }

  /** Waits until the broker closes the connection. */
  async closedWithin(timeoutMs = this.#timeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connection still open after ${timeoutMs} ms`);
      await this.#wait(left);
    }
  }

  /**
   * A round trip through the broker: once PINGRESP arrives, everything the broker sent
   * before it has arrived too. Lets a test assert that something was NOT sent, without sleeping.
   */
  async barrier(): Promise<void> {
    this.send({ type: PacketType.PINGREQ });
    await this.nextOfType(PacketType.PINGRESP);
  }

  async connect(fields: Partial<Omit<ConnectPacket, 'type'>> = {}): Promise<ConnackPacket> {
    this.send({
      type: PacketType.CONNECT,
      protocolName: this.version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: this.version,
      cleanStart: true,
      keepAlive: 0,
      clientId: `test-${Math.random().toString(36).slice(2, 10)}`,
      ...fields,
    });
    return this.nextOfType<ConnackPacket>(PacketType.CONNACK);
  }

  async subscribe(filter: string | Partial<Subscription>[], qos: QoS = 0): Promise<SubackPacket> {
    const subscriptions: Subscription[] = (typeof filter === 'string' ? [{ topicFilter: filter, qos }] : filter).map((s) => ({
      topicFilter: s.topicFilter ?? '',
      qos: s.qos ?? 0,
      noLocal: s.noLocal ?? false,
      retainAsPublished: s.retainAsPublished ?? false,
      retainHandling: s.retainHandling ?? 0,
    }));
    const packetId = this.nextPacketId();
    this.send({ type: PacketType.SUBSCRIBE, packetId, subscriptions });
    return this.next<SubackPacket>((p) => p.type === PacketType.SUBACK && p.packetId === packetId);
  }

  async unsubscribe(...topicFilters: string[]): Promise<UnsubackPacket> {
    const packetId = this.nextPacketId();
    this.send({ type: PacketType.UNSUBSCRIBE, packetId, topicFilters });
    return this.next<UnsubackPacket>((p) => p.type === PacketType.UNSUBACK && p.packetId === packetId);
  }

  /** Publishes and completes the QoS flow (PUBACK, or PUBREC/PUBREL/PUBCOMP). */
  async publish(topic: string, payload: string | Buffer, qos: QoS = 0, retain = false): Promise<void> {
    const packet: PublishPacket = { type: PacketType.PUBLISH, topic, payload: Buffer.from(payload), qos, retain, dup: false };
    if (qos === 0) {
      this.send(packet);
      return;
    }
    const packetId = this.nextPacketId();
    this.send({ ...packet, packetId });
    if (qos === 1) {
      await this.next((p) => p.type === PacketType.PUBACK && p.packetId === packetId);
      return;
    }
    await this.next((p) => p.type === PacketType.PUBREC && p.packetId === packetId);
    this.send({ type: PacketType.PUBREL, packetId, reasonCode: 0 });
    await this.next((p) => p.type === PacketType.PUBCOMP && p.packetId === packetId);
  }

  nextPublish(timeoutMs?: number): Promise<PublishPacket> {
    return this.nextOfType<PublishPacket>(PacketType.PUBLISH, timeoutMs);
  }

  disconnect(): void {
    this.send({ type: PacketType.DISCONNECT, reasonCode: 0 });
    this.#stream.end();
  }

  /** Drops the connection without DISCONNECT (an abnormal end: the will fires). */
  destroy(): void {
    this.#stream.destroy();
  }

  #onPacket(packet: Packet): void {
    this.received.push(packet);
    this.inbox.push(packet);
    if (this.autoAck) this.#ack(packet);
    this.#wake();
  }

  #ack(packet: Packet): void {
    if (packet.type === PacketType.PUBLISH && packet.qos === 1) {
      this.send({ type: PacketType.PUBACK, packetId: packet.packetId as number, reasonCode: 0 });
    } else if (packet.type === PacketType.PUBLISH && packet.qos === 2) {
      this.send({ type: PacketType.PUBREC, packetId: packet.packetId as number, reasonCode: 0 });
    } else if (packet.type === PacketType.PUBREL) {
      this.send({ type: PacketType.PUBCOMP, packetId: packet.packetId, reasonCode: 0 });
    }
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#waiters.push(done);
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

function describe(packets: Packet[]): string {
  return JSON.stringify(packets.map((p) => ({ ...p, ...('payload' in p ? { payload: p.payload.toString() } : {}) })));
}

/** Opens a TCP connection to a running broker and wraps it in a TestClient. */
export function tcpTestClient(port: number, options: TestClientOptions = {}, host = '127.0.0.1'): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const socket: Socket = netConnect({ port, host }, () => {
      socket.off('error', reject);
      resolve(new TestClient(socket, options));
    });
    socket.once('error', reject);
  });
}
