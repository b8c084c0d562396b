// Shared pieces of the connection-lifecycle conformance suites (connect, session, will,
// keepalive, limits, $SYS): a record of the broker's connectionClosed events, clients on
// custom in-memory pairs, and hand-built CONNECT bytes for what our encoder refuses to write.
import type { CulexBroker } from '../../src/app/create-broker.js';
import type { CloseReason } from '../../src/core/errors.js';
import { PacketType, type Packet, type PublishPacket } from '../../src/protocol/types.js';
import { memoryBroker, type BrokerFixture } from '../helpers/broker-fixture.js';
import type { CreateBrokerOptions } from '../../src/app/create-broker.js';
import { duplexPair, type DuplexPairOptions } from '../helpers/duplex-pair.js';
import { TestClient, type TestClientOptions } from '../helpers/mqtt-test-client.js';
import { waitFor } from '../helpers/wait-for.js';

export interface ClosedInfo {
  clientId: string | undefined;
  reason: CloseReason;
  detail?: string;
}

/** Every connectionClosed event of a broker, in order. */
export class CloseLog {
  readonly events: ClosedInfo[] = [];

  constructor(broker: CulexBroker) {
    broker.on('connectionClosed', (info) => this.events.push(info));
  }

  /** Close reasons recorded for one client id (undefined: connections that never got one). */
  reasonsFor(clientId: string | undefined): CloseReason[] {
    return this.events.filter((e) => e.clientId === clientId).map((e) => e.reason);
  }

  /** Waits for the close of `clientId` (any reason) and returns it. */
  async closeOf(clientId: string | undefined, timeoutMs = 3000): Promise<ClosedInfo> {
    await waitFor(() => this.events.some((e) => e.clientId === clientId), {
      timeoutMs,
      message: () => `a connectionClosed event for ${String(clientId)}; got ${JSON.stringify(this.events)}`,
    });
    return this.events.find((e) => e.clientId === clientId) as ClosedInfo;
  }
}

/** Runs `body` against a fresh in-memory broker and always closes it. */
export async function withBroker(
  options: CreateBrokerOptions,
  body: (fx: BrokerFixture, closes: CloseLog) => Promise<void>,
): Promise<void> {
  const fx = memoryBroker(options);
  const closes = new CloseLog(fx.broker);
  try {
    await body(fx, closes);
  } finally {
    await fx.close();
  }
}

/** A client on a pair with custom stream options (e.g. a small highWaterMark for backpressure). */
export function pairedClient(broker: CulexBroker, clientOptions: TestClientOptions, pairOptions: DuplexPairOptions): TestClient {
  const [clientSide, brokerSide] = duplexPair(pairOptions);
  broker.handle(brokerSide, { remoteAddress: '127.0.0.1' });
  return new TestClient(clientSide, clientOptions);
}

let idCounter = 0;
/** A client id unique within the test process. */
export function uniqueId(prefix = 'c'): string {
  idCounter++;
  return `${prefix}-${idCounter}`;
}

export interface RawConnectFields {
  firstByte?: number;
  protocolName?: string;
  level?: number;
  flags?: number;
  keepAlive?: number;
  clientId?: string;
  /** Bytes appended after the client id (will, user name, password, v5 nothing). */
  tail?: number[];
  /** v5 layout: an (empty) property length byte after the keepalive. */
  v5Properties?: boolean;
}

function utf8(s: string): number[] {
  const b = Buffer.from(s, 'utf8');
  return [b.length >> 8, b.length & 0xff, ...b];
}

/** A CONNECT packet built by hand: any name, level and flags, even invalid ones. */
export function rawConnect(fields: RawConnectFields = {}): Buffer {
  const keepAlive = fields.keepAlive ?? 0;
  const body = [
    ...utf8(fields.protocolName ?? 'MQTT'),
    fields.level ?? 4,
    fields.flags ?? 0x02,
    keepAlive >> 8,
    keepAlive & 0xff,
    ...(fields.v5Properties ? [0] : []),
    ...utf8(fields.clientId ?? uniqueId('raw')),
    ...(fields.tail ?? []),
  ];
  if (body.length > 127) throw new RangeError('rawConnect keeps to one-byte remaining lengths');
  return Buffer.from([fields.firstByte ?? 0x10, body.length, ...body]);
}

export function publishes(packets: readonly Packet[]): PublishPacket[] {
  return packets.filter((p): p is PublishPacket => p.type === PacketType.PUBLISH);
}

/** Payloads (as text) of the PUBLISH packets among `packets`, in order. */
export function payloads(packets: readonly Packet[]): string[] {
  return publishes(packets).map((p) => p.payload.toString());
}

/** Waits until `client` has received `count` PUBLISH packets in total. */
export async function receivedPublishes(client: TestClient, count: number, timeoutMs = 3000): Promise<PublishPacket[]> {
  await waitFor(() => publishes(client.received).length >= count, {
    timeoutMs,
    message: () => `${count} PUBLISH packets; got ${JSON.stringify(payloads(client.received))}`,
  });
  return publishes(client.received);
}
