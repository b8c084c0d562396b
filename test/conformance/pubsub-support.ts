// Shared set-up for the publish / QoS / subscribe / retained / routing / MQTT 3.1 suites:
// a broker per test (closed by the test context), connected clients, and ways to prove
// that something was NOT delivered without sleeping (barriers through the broker).
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { CreateBrokerOptions } from '../../src/app/create-broker.js';
import type { Authorizer, AuthzVerdict, ClientIdentity } from '../../src/core/ports.js';
import {
  PacketType,
  type ConnectPacket,
  type Packet,
  type Properties,
  type PublishPacket,
  type QoS,
  type SubackPacket,
  type Subscription,
} from '../../src/protocol/types.js';
import { memoryBroker, type BrokerFixture } from '../helpers/broker-fixture.js';
import type { TestClient, TestClientOptions } from '../helpers/mqtt-test-client.js';

/** A fresh in-memory broker, closed when the test ends. */
export function brokerFor(t: TestContext, options: CreateBrokerOptions = {}): BrokerFixture {
  const fx = memoryBroker(options);
  t.after(() => fx.close());
  return fx;
}

export type ConnectFields = Partial<Omit<ConnectPacket, 'type'>>;

/** A client that has completed CONNECT/CONNACK with return code 0. */
export async function connected(fx: BrokerFixture, options: TestClientOptions = {}, fields: ConnectFields = {}): Promise<TestClient> {
  const client = fx.client(options);
  const connack = await client.connect(fields);
  assert.equal(connack.reasonCode, 0, `CONNACK refused with 0x${connack.reasonCode.toString(16)}`);
  return client;
}

/** A connected client subscribed to `filter` at `qos` (SUBACK checked). */
export async function subscriber(fx: BrokerFixture, filter: string, qos: QoS = 0, options: TestClientOptions = {}): Promise<TestClient> {
  const client = await connected(fx, options);
  const suback = await client.subscribe(filter, qos);
  assert.deepEqual(suback.reasonCodes, [qos], `SUBACK for ${filter}`);
  return client;
}

/**
 * Round trips through the broker: first for each sender (so everything it sent has been
 * processed and routed), then for each receiver (so everything routed to it has arrived).
 */
export async function settle(senders: TestClient[], receivers: TestClient[]): Promise<void> {
  for (const c of senders) await c.barrier();
  for (const c of receivers) await c.barrier();
}

export function isPublish(p: Packet): p is PublishPacket {
  return p.type === PacketType.PUBLISH;
}

/** PUBLISH packets waiting in the inbox (not taken by next()). */
export function pendingPublishes(client: TestClient): PublishPacket[] {
  return client.inbox.filter(isPublish);
}

/** Takes every PUBLISH waiting in the inbox. */
export function takePublishes(client: TestClient): PublishPacket[] {
  const taken = pendingPublishes(client);
  for (const p of taken) client.inbox.splice(client.inbox.indexOf(p), 1);
  return taken;
}

/** Asserts, after a barrier, that the client has no PUBLISH waiting. */
export async function assertNothingDelivered(client: TestClient, what = 'no PUBLISH'): Promise<void> {
  await client.barrier();
  const left = pendingPublishes(client);
  assert.deepEqual(left.map((p) => `${p.topic}: ${p.payload.toString()}`), [], what);
}

/** Takes `count` PUBLISH packets in arrival order. */
export async function nextPublishes(client: TestClient, count: number): Promise<PublishPacket[]> {
  const out: PublishPacket[] = [];
  for (let i = 0; i < count; i++) out.push(await client.nextPublish());
  return out;
}

/** SUBSCRIBE with MQTT 5 properties (e.g. a Subscription Identifier). */
export async function subscribeWith(client: TestClient, subscriptions: Partial<Subscription>[], properties: Properties): Promise<SubackPacket> {
  const packetId = client.nextPacketId();
  client.send({
    type: PacketType.SUBSCRIBE,
    packetId,
    properties,
    subscriptions: subscriptions.map((s) => ({
      topicFilter: s.topicFilter ?? '',
      qos: s.qos ?? 0,
      noLocal: s.noLocal ?? false,
      retainAsPublished: s.retainAsPublished ?? false,
      retainHandling: s.retainHandling ?? 0,
    })),
  });
  return client.next<SubackPacket>((p) => p.type === PacketType.SUBACK && p.packetId === packetId);
}

/** An authorizer that refuses publishing and subscribing under the given prefixes. */
export class DenyPrefixAuthorizer implements Authorizer {
  readonly published: string[] = [];
  constructor(
    readonly denyPublish: string,
    readonly denySubscribe: string = denyPublish,
  ) {}

  canPublish(_client: ClientIdentity, topic: string): AuthzVerdict {
    this.published.push(topic);
    return topic.startsWith(this.denyPublish) ? 'deny' : 'allow';
  }

  canSubscribe(_client: ClientIdentity, topicFilter: string): AuthzVerdict {
    return topicFilter.startsWith(this.denySubscribe) ? 'deny' : 'allow';
  }
}

/** Payload text of a PUBLISH. */
export function text(p: PublishPacket): string {
  return p.payload.toString('utf8');
}
