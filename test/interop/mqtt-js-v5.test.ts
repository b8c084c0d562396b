// MQTT.js (the `mqtt` npm package) speaking MQTT 5 to the real `culex` process: features
// that exist only in v5, such as shared subscriptions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import { waitFor } from '../helpers/wait-for.js';
import { startCliBroker, uniqueTopic, type CliBroker } from './support.js';

interface Received {
  topic: string;
  payload: string;
  packet: IPublishPacket;
}

describe('MQTT.js v5: shared subscriptions (MQTT 5.0 section 4.8.2)', () => {
  let broker: CliBroker;
  const clients = new Set<MqttClient>();

  before(async () => {
    broker = await startCliBroker();
  });

  after(async () => {
    for (const c of clients) c.end(true);
    await broker.dispose();
  });

  async function connect(): Promise<{ client: MqttClient; inbox: Received[] }> {
    const client = mqtt.connect({
      host: '127.0.0.1',
      port: broker.port,
      protocolVersion: 5,
      clientId: `js5-${Math.random().toString(36).slice(2, 12)}`,
      reconnectPeriod: 0,
      connectTimeout: 5000,
    });
    clients.add(client);
    const inbox: Received[] = [];
    client.on('message', (topic, payload, packet) => inbox.push({ topic, payload: payload.toString(), packet }));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => {
        client.off('error', reject);
        resolve();
      });
      client.once('error', reject);
    });
    return { client, inbox };
  }

  test('two clients sharing $share/g/x/# split the messages, none lost or duplicated', async () => {
    const base = uniqueTopic('js5/share');
    const a = await connect();
    const b = await connect();
    for (const m of [a, b]) {
      const granted = await m.client.subscribeAsync(`$share/g/${base}/#`, { qos: 1 });
      assert.equal(granted[0]?.qos, 1);
    }
    const pub = await connect();
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      const payload = `m${i}`;
      // PUBACK comes after routing, so every message is on its way once this resolves
      await pub.client.publishAsync(`${base}/${i % 2 === 0 ? 'even' : 'odd'}`, payload, { qos: 1 });
      sent.push(payload);
    }
    await waitFor(() => a.inbox.length + b.inbox.length >= sent.length, {
      timeoutMs: 5000,
      message: () => `20 messages between the two members; got ${a.inbox.length} + ${b.inbox.length}`,
    });
    // a marker on a plain topic per member: deliveries to one client keep their order, so
    // once it arrives, any duplicate routed before it would have arrived too
    for (const [name, m] of [['a', a], ['b', b]] as const) {
      const marker = `${base}-marker-${name}`;
      await m.client.subscribeAsync(marker, { qos: 1 });
      await pub.client.publishAsync(marker, 'end', { qos: 1 });
      await waitFor(() => m.inbox.some((r) => r.topic === marker), { timeoutMs: 5000, message: () => `marker for ${name}` });
    }
    const shared = (inbox: Received[]): string[] => inbox.filter((r) => !r.topic.includes('-marker-')).map((r) => r.payload);
    const gotA = shared(a.inbox);
    const gotB = shared(b.inbox);
    assert.deepEqual([...gotA, ...gotB].sort(), [...sent].sort(), 'every message exactly once across the group');
    assert.equal(gotA.length, 10, 'round robin: half each');
    assert.equal(gotB.length, 10, 'round robin: half each');
    for (const r of [...a.inbox, ...b.inbox]) assert.equal(r.packet.qos, 1);
    await Promise.all([a, b, pub].map(async (m) => {
      await m.client.endAsync();
      clients.delete(m.client);
    }));
  });
});

describe('MQTT.js v5: topic aliases, message expiry, request/response', () => {
  let broker: CliBroker;
  const clients = new Set<MqttClient>();

  before(async () => {
    broker = await startCliBroker();
  });

  after(async () => {
    for (const c of clients) c.end(true);
    await broker.dispose();
  });

  interface Connected {
    client: MqttClient;
    inbox: Received[];
    connack: IConnackPacket;
    /** Raw PUBLISH topics and aliases as they came off the wire (before MQTT.js resolves aliases). */
    wire: { topic: string; alias: number | undefined }[];
  }

  async function connect(options: Partial<IClientOptions> = {}): Promise<Connected> {
    const client = mqtt.connect({
      host: '127.0.0.1',
      port: broker.port,
      protocolVersion: 5,
      clientId: `js5-${Math.random().toString(36).slice(2, 12)}`,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
    });
    clients.add(client);
    const inbox: Received[] = [];
    const wire: Connected['wire'] = [];
    client.on('packetreceive', (packet) => {
      if (packet.cmd === 'publish') wire.push({ topic: String(packet.topic), alias: packet.properties?.topicAlias });
    });
    client.on('message', (topic, payload, packet) => inbox.push({ topic, payload: payload.toString(), packet }));
    const connack = await new Promise<IConnackPacket>((resolve, reject) => {
      client.once('connect', (ack) => {
        client.off('error', reject);
        resolve(ack);
      });
      client.once('error', reject);
    });
    return { client, inbox, connack, wire };
  }

  async function end(...all: Connected[]): Promise<void> {
    await Promise.all(all.map(async (m) => {
      await m.client.endAsync();
      clients.delete(m.client);
    }));
  }

  test('topic alias: a publisher sets alias 1 with a topic, then publishes with an empty topic and alias 1; the subscriber gets the full topic', async () => {
    const topic = uniqueTopic('js5/alias');
    const sub = await connect();
    await sub.client.subscribeAsync(topic, { qos: 1 });
    const pub = await connect();
    assert.equal(pub.connack.properties?.topicAliasMaximum, 10, 'the broker allows aliases');
    await pub.client.publishAsync(topic, 'set', { qos: 1, properties: { topicAlias: 1 } });
    await pub.client.publishAsync('', 'use', { qos: 1, properties: { topicAlias: 1 } });
    await waitFor(() => sub.inbox.length >= 2, { timeoutMs: 5000, message: () => `2 messages, got ${sub.inbox.length}` });
    assert.deepEqual(sub.inbox.map((r) => [r.topic, r.payload]), [[topic, 'set'], [topic, 'use']]);
    await end(sub, pub);
  });

  test('topic alias: a subscriber that sets topicAliasMaximum gets aliases from the broker, which MQTT.js resolves', async () => {
    const topic = uniqueTopic('js5/alias-out');
    const sub = await connect({ properties: { topicAliasMaximum: 5 } });
    await sub.client.subscribeAsync(topic, { qos: 1 });
    const pub = await connect();
    for (const n of [1, 2, 3]) await pub.client.publishAsync(topic, `m${n}`, { qos: 1 });
    await waitFor(() => sub.inbox.length >= 3, { timeoutMs: 5000, message: () => `3 messages, got ${sub.inbox.length}` });
    assert.deepEqual(sub.inbox.map((r) => [r.topic, r.payload]), [[topic, 'm1'], [topic, 'm2'], [topic, 'm3']]);
    const alias = sub.wire[0]?.alias;
    assert.ok(alias !== undefined && alias >= 1 && alias <= 5, `an alias within 1..5 on the wire: ${JSON.stringify(sub.wire)}`);
    assert.deepEqual(sub.wire, [{ topic, alias }, { topic: '', alias }, { topic: '', alias }]);
    await end(sub, pub);
  });

  test('message expiry: a message with messageExpiryInterval 1 is gone for a session that returns 1.2 s later; the other arrives with its remaining interval', async () => {
    const topic = uniqueTopic('js5/expiry');
    const clientId = `js5exp-${Math.random().toString(36).slice(2, 10)}`;
    const persistent = { clientId, clean: false, properties: { sessionExpiryInterval: 60 } } as const;
    const first = await connect(persistent);
    await first.client.subscribeAsync(topic, { qos: 1 });
    await end(first);
    const pub = await connect();
    const publishedAt = Date.now();
    await pub.client.publishAsync(topic, 'expires', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.client.publishAsync(topic, 'stays', { qos: 1, properties: { messageExpiryInterval: 60 } });
    // real time has to pass the 1 s interval: poll until it has (no fixed sleep)
    await waitFor(() => Date.now() - publishedAt >= 1200, { timeoutMs: 5000, intervalMs: 50, message: '1.2 s to pass' });
    const back = await connect({ ...persistent, properties: { sessionExpiryInterval: 0 } });
    assert.equal(back.connack.sessionPresent, true);
    await waitFor(() => back.inbox.length >= 1, { timeoutMs: 5000, message: 'the queued message' });
    // a marker after it: anything queued before would have arrived first
    await back.client.subscribeAsync(`${topic}/marker`, { qos: 1 });
    await pub.client.publishAsync(`${topic}/marker`, 'end', { qos: 1 });
    await waitFor(() => back.inbox.some((r) => r.topic === `${topic}/marker`), { timeoutMs: 5000, message: 'the marker' });
    assert.deepEqual(back.inbox.map((r) => r.payload), ['stays', 'end']);
    const left = back.inbox[0]?.packet.properties?.messageExpiryInterval;
    assert.ok(left !== undefined && left < 60 && left >= 57, `remaining interval ${String(left)} [MQTT-3.3.2-6]`);
    await end(back, pub);
  });

  test('request/response: responseTopic and correlationData make a round trip; the requester uses its CONNACK Response Information', async () => {
    const requestTopic = uniqueTopic('js5/service');
    const requester = await connect({ properties: { requestResponseInformation: true } });
    const info = requester.connack.properties?.responseInformation;
    assert.ok(info !== undefined && info.length > 0, 'Response Information in CONNACK');
    const responseTopic = `${info}answers`;
    await requester.client.subscribeAsync(responseTopic, { qos: 1 });
    const responder = await connect();
    responder.client.on('message', (_topic, payload, packet) => {
      const replyTo = packet.properties?.responseTopic;
      if (replyTo === undefined) return;
      responder.client.publish(replyTo, `echo ${payload.toString()}`, {
        qos: 1,
        properties: { correlationData: packet.properties?.correlationData as Buffer },
      });
    });
    await responder.client.subscribeAsync(requestTopic, { qos: 1 });
    const correlationData = Buffer.from([0xde, 0xad, 0x00, 0xbe, 0xef]);
    await requester.client.publishAsync(requestTopic, 'hello', {
      qos: 1,
      properties: { responseTopic, correlationData, userProperties: { kind: 'request' } },
    });
    await waitFor(() => requester.inbox.length >= 1, { timeoutMs: 5000, message: 'the response' });
    const reply = requester.inbox[0];
    assert.equal(reply?.topic, responseTopic);
    assert.equal(reply?.payload, 'echo hello');
    assert.deepEqual(reply?.packet.properties?.correlationData, correlationData);
    // the request itself carried the properties unchanged to the responder
    const request = responder.inbox[0];
    assert.equal(request?.packet.properties?.responseTopic, responseTopic);
    assert.deepEqual(request?.packet.properties?.correlationData, correlationData);
    assert.deepEqual({ ...request?.packet.properties?.userProperties }, { kind: 'request' });
    await end(requester, responder);
  });
});
