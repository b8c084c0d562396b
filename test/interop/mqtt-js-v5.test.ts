// MQTT.js (the `mqtt` npm package) speaking MQTT 5 to the real `culex` process: features
// that exist only in v5, such as shared subscriptions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
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
