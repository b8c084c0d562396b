// MQTT.js (the `mqtt` npm package, v5) against an embedded broker, over TCP.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import { waitFor } from '../helpers/wait-for.js';
import { startCliBroker, uniqueTopic, type CliBroker } from './support.js';

type Version = 3 | 4 | 5;
const VERSIONS: readonly Version[] = [3, 4, 5];

interface Received {
  topic: string;
  payload: string;
  packet: IPublishPacket;
}

describe('MQTT.js client interoperability', () => {
  // the real `culex` process, as the README starts it (debug logs show each closed connection)
  let broker: CliBroker;
  let port = 0;
  const clients = new Set<MqttClient>();

  before(async () => {
    broker = await startCliBroker({ logLevel: 'debug' });
    ({ port } = broker);
  });

  after(async () => {
    for (const c of clients) c.end(true);
    await broker.dispose();
  });

  /**
   * A connected client that records what it receives. The listener is attached before the
   * CONNECT goes out: a resumed session's queued messages can arrive with the CONNACK.
   */
  async function connect(version: Version, options: IClientOptions = {}): Promise<{ client: MqttClient; inbox: Received[]; connack: IConnackPacket }> {
    const client = mqtt.connect({
      host: '127.0.0.1',
      port,
      protocolVersion: version,
      ...(version === 3 ? { protocolId: 'MQIsdp' as const } : {}),
      // 3.1 client ids are at most 23 characters
      clientId: `js${version}-${Math.random().toString(36).slice(2, 12)}`,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
    });
    clients.add(client);
    const inbox: Received[] = [];
    client.on('message', (topic, payload, packet) => inbox.push({ topic, payload: payload.toString(), packet }));
    const connack = await new Promise<IConnackPacket>((resolve, reject) => {
      client.once('connect', (packet) => {
        client.off('error', reject);
        resolve(packet);
      });
      client.once('error', reject);
    });
    return { client, inbox, connack };
  }

  async function end(client: MqttClient): Promise<void> {
    await client.endAsync();
    clients.delete(client);
  }

  function until(inbox: Received[], count: number, what: string): Promise<void> {
    return waitFor(() => inbox.length >= count, { timeoutMs: 5000, message: () => `${what}: got ${JSON.stringify(inbox.map((m) => [m.topic, m.payload]))}` });
  }

  for (const version of VERSIONS) {
    describe(`protocolVersion ${version}`, () => {
      for (const qos of [0, 1, 2] as const) {
        test(`QoS ${qos} publish to the broker and delivery from it`, async () => {
          const topic = uniqueTopic(`js/v${version}/q${qos}`);
          const sub = await connect(version);
          const granted = await sub.client.subscribeAsync(topic, { qos });
          assert.equal(granted[0]?.qos, qos);
          const pub = await connect(version);
          for (let i = 0; i < 5; i++) await pub.client.publishAsync(topic, `m${i}`, { qos });
          await until(sub.inbox, 5, 'five messages');
          assert.deepEqual(
            sub.inbox.map((m) => m.payload),
            ['m0', 'm1', 'm2', 'm3', 'm4'],
          );
          for (const m of sub.inbox) {
            assert.equal(m.topic, topic);
            assert.equal(m.packet.qos, qos);
            assert.equal(m.packet.retain, false);
          }
          await end(pub.client);
          await end(sub.client);
        });
      }

      test('the delivered QoS is the minimum of publish and subscription QoS', async () => {
        const topic = uniqueTopic(`js/v${version}/min`);
        const sub = await connect(version);
        await sub.client.subscribeAsync(topic, { qos: 1 });
        const pub = await connect(version);
        await pub.client.publishAsync(topic, 'two', { qos: 2 });
        await pub.client.publishAsync(topic, 'zero', { qos: 0 });
        await until(sub.inbox, 2, 'two messages');
        assert.deepEqual(
          sub.inbox.map((m) => [m.payload, m.packet.qos]),
          [
            ['two', 1],
            ['zero', 0],
          ],
        );
        await end(pub.client);
        await end(sub.client);
      });

      test('retained: a later subscriber gets the last retained message, flagged; an empty one clears it', async () => {
        const topic = uniqueTopic(`js/v${version}/retained`);
        const pub = await connect(version);
        await pub.client.publishAsync(topic, 'old', { qos: 1, retain: true });
        await pub.client.publishAsync(topic, 'new', { qos: 1, retain: true });
        const sub = await connect(version);
        await sub.client.subscribeAsync(topic, { qos: 1 });
        await until(sub.inbox, 1, 'the retained message');
        assert.equal(sub.inbox[0]?.payload, 'new');
        assert.equal(sub.inbox[0]?.packet.retain, true);
        // live delivery to an existing subscriber carries retain 0 [MQTT-3.3.1-9]
        await pub.client.publishAsync(topic, 'live', { qos: 1, retain: true });
        await until(sub.inbox, 2, 'the live message');
        assert.equal(sub.inbox[1]?.payload, 'live');
        assert.equal(sub.inbox[1]?.packet.retain, false);
        await pub.client.publishAsync(topic, '', { qos: 1, retain: true });
        const late = await connect(version);
        await late.client.subscribeAsync(topic, { qos: 1 });
        await late.client.publishAsync(topic, 'probe', { qos: 1 });
        await until(late.inbox, 1, 'the probe');
        assert.deepEqual(
          late.inbox.map((m) => m.payload),
          ['probe'],
          'no retained message after an empty retained publish',
        );
        await Promise.all([end(pub.client), end(sub.client), end(late.client)]);
      });

      test('persistent session (clean: false): QoS 1 messages queued while offline arrive after reconnect', async () => {
        const topic = uniqueTopic(`js/v${version}/persist`);
        const clientId = `p${version}-${Math.random().toString(36).slice(2, 12)}`;
        const sessionOptions: IClientOptions =
          version === 5 ? { clientId, clean: false, properties: { sessionExpiryInterval: 300 } } : { clientId, clean: false };
        const first = await connect(version, sessionOptions);
        assert.equal(first.connack.sessionPresent, false);
        await first.client.subscribeAsync(topic, { qos: 1 });
        await end(first.client);
        await waitFor(() => broker.logs().some((l) => l.msg === 'connection closed' && l.clientId === clientId), {
          message: 'the broker to log the first connection closed',
        });
        const pub = await connect(version);
        for (let i = 0; i < 5; i++) await pub.client.publishAsync(topic, `offline ${i}`, { qos: 1 });
        await pub.client.publishAsync(topic, 'qos0 not queued', { qos: 0 });
        await end(pub.client);

        const { client: again, inbox, connack } = await connect(version, sessionOptions);
        // 3.1.1 and 5.0 say the session was resumed [MQTT-3.2.2-2]; a 3.1 CONNACK has no such flag (reserved, 0)
        assert.equal(connack.sessionPresent, version !== 3, 'Session Present flag');
        await until(inbox, 5, 'the queued messages');
        assert.deepEqual(
          inbox.map((m) => m.payload),
          [0, 1, 2, 3, 4].map((i) => `offline ${i}`),
        );
        for (const m of inbox) assert.equal(m.packet.qos, 1);
        // the session (and its subscription) is still there: a new message arrives without subscribing again
        const pub2 = await connect(version);
        await pub2.client.publishAsync(topic, 'after', { qos: 1 });
        await until(inbox, 6, 'a message after reconnect');
        assert.equal(inbox[5]?.payload, 'after');
        await end(pub2.client);
        await end(again);
      });

      test('will on an abnormal end (client.stream.destroy()), not on a clean end', async () => {
        const topic = uniqueTopic(`js/v${version}/will`);
        const watcher = await connect(version);
        await watcher.client.subscribeAsync(`${topic}/#`, { qos: 1 });
        const clean = await connect(version, { will: { topic: `${topic}/clean`, payload: Buffer.from('should not'), qos: 1, retain: false } });
        await end(clean.client);
        const dying = await connect(version, { will: { topic: `${topic}/dying`, payload: Buffer.from('gone'), qos: 1, retain: false } });
        dying.client.stream.destroy();
        await until(watcher.inbox, 1, 'the will');
        const marker = await connect(version);
        await marker.client.publishAsync(`${topic}/marker`, 'end', { qos: 1 });
        await until(watcher.inbox, 2, 'the marker');
        assert.deepEqual(
          watcher.inbox.map((m) => [m.topic, m.payload, m.packet.qos]),
          [
            [`${topic}/dying`, 'gone', 1],
            [`${topic}/marker`, 'end', 1],
          ],
        );
        dying.client.end(true);
        clients.delete(dying.client);
        await Promise.all([end(watcher.client), end(marker.client)]);
      });

      test('wildcard subscriptions: + and #, overlapping ones deliver once', async () => {
        const base = uniqueTopic(`js/v${version}/wild`);
        const sub = await connect(version);
        await sub.client.subscribeAsync({ [`${base}/+/temp`]: { qos: 1 }, [`${base}/#`]: { qos: 0 } });
        const pub = await connect(version);
        const topics = [`${base}/kitchen/temp`, `${base}/kitchen/humidity`, `${base}/a/b/temp`, `${base}`, `${base}/x/temp`];
        for (const t of topics) await pub.client.publishAsync(t, t, { qos: 1 });
        const marker = `${base}/zz`;
        await pub.client.publishAsync(marker, 'end', { qos: 1 });
        await until(sub.inbox, topics.length + 1, 'every matching message');
        // '#' also matches the parent level [MQTT-4.7.1-2]; overlapping subscriptions give one delivery at the max QoS
        assert.deepEqual(
          sub.inbox.map((m) => [m.topic, m.packet.qos]),
          [
            [`${base}/kitchen/temp`, 1],
            [`${base}/kitchen/humidity`, 0],
            [`${base}/a/b/temp`, 0],
            [`${base}`, 0],
            [`${base}/x/temp`, 1],
            [marker, 0],
          ],
        );
        await end(pub.client);
        await end(sub.client);
      });
    });
  }

  test('a 3.1.1 and a 5.0 client on the same topic see each other\'s messages', async () => {
    const topic = uniqueTopic('js/mixed');
    const v4 = await connect(4);
    const v5 = await connect(5);
    await v4.client.subscribeAsync(topic, { qos: 2 });
    await v5.client.subscribeAsync(topic, { qos: 2 });
    await v4.client.publishAsync(topic, 'from 3.1.1', { qos: 2 });
    // MQTT.js hands a QoS 2 message over at PUBREL: let it arrive before a QoS 1 one could overtake it
    await until(v4.inbox, 1, 'the 3.1.1 message at the 3.1.1 client');
    await until(v5.inbox, 1, 'the 3.1.1 message at the 5.0 client');
    await v5.client.publishAsync(topic, 'from 5.0', { qos: 1, properties: { userProperties: { k: 'v' }, contentType: 'text/plain' } });
    await until(v4.inbox, 2, 'both messages at the 3.1.1 client');
    await until(v5.inbox, 2, 'both messages at the 5.0 client');
    assert.deepEqual(
      v4.inbox.map((m) => [m.payload, m.packet.qos]),
      [
        ['from 3.1.1', 2],
        ['from 5.0', 1],
      ],
    );
    assert.deepEqual(
      v5.inbox.map((m) => [m.payload, m.packet.qos]),
      [
        ['from 3.1.1', 2],
        ['from 5.0', 1],
      ],
    );
    // [MQTT-3.3.2-17], [MQTT-3.3.2-20]: user properties and content type reach a v5 subscriber unaltered
    const fromV5 = v5.inbox[1]?.packet.properties;
    assert.deepEqual({ ...fromV5?.userProperties }, { k: 'v' });
    assert.equal(fromV5?.contentType, 'text/plain');
    await Promise.all([end(v4.client), end(v5.client)]);
  });

  test('5.0: clean: false without a Session Expiry Interval keeps no session [MQTT-3.1.2-23]', async () => {
    const topic = uniqueTopic('js/v5/noexpiry');
    const clientId = `nx-${Math.random().toString(36).slice(2, 12)}`;
    const first = await connect(5, { clientId, clean: false });
    await first.client.subscribeAsync(topic, { qos: 1 });
    await end(first.client);
    const pub = await connect(5);
    await pub.client.publishAsync(topic, 'while away', { qos: 1 });
    const again = await connect(5, { clientId, clean: false });
    assert.equal(again.connack.sessionPresent, false, 'a session with expiry 0 ends with the connection');
    await pub.client.publishAsync(topic, 'after', { qos: 1 });
    const probe = await connect(5);
    await probe.client.subscribeAsync(topic, { qos: 1 });
    await pub.client.publishAsync(topic, 'marker', { qos: 1 });
    await until(probe.inbox, 1, 'the marker');
    assert.deepEqual(again.inbox, [], 'no subscription and no queued messages survived');
    await Promise.all([end(pub.client), end(again.client), end(probe.client)]);
  });

  test('5.0: a No Local subscription does not get the client\'s own messages [MQTT-3.8.3-3]', async () => {
    const topic = uniqueTopic('js/v5/nolocal');
    const self = await connect(5);
    await self.client.subscribeAsync(topic, { qos: 1, nl: true });
    const other = await connect(5);
    await self.client.publishAsync(topic, 'mine', { qos: 1 });
    await other.client.publishAsync(topic, 'theirs', { qos: 1 });
    await until(self.inbox, 1, "the other client's message");
    await self.client.publishAsync(topic, 'mine again', { qos: 1 });
    await other.client.publishAsync(topic, 'theirs again', { qos: 1 });
    await until(self.inbox, 2, "the other client's second message");
    assert.deepEqual(
      self.inbox.map((m) => m.payload),
      ['theirs', 'theirs again'],
    );
    await Promise.all([end(self.client), end(other.client)]);
  });

  test('a 3.1 client and a 5.0 client exchange retained and QoS 2 messages', async () => {
    const topic = uniqueTopic('js/mixed31');
    const v3 = await connect(3);
    await v3.client.publishAsync(`${topic}/r`, 'retained by 3.1', { qos: 1, retain: true });
    const v5 = await connect(5);
    await v5.client.subscribeAsync(`${topic}/#`, { qos: 2 });
    await until(v5.inbox, 1, 'the retained message');
    await v3.client.subscribeAsync(`${topic}/#`, { qos: 2 });
    await until(v3.inbox, 1, 'the retained message at the 3.1 client');
    await v5.client.publishAsync(`${topic}/live`, 'from 5.0', { qos: 2 });
    await until(v3.inbox, 2, 'the live message at the 3.1 client');
    await until(v5.inbox, 2, 'its own live message at the 5.0 client');
    assert.deepEqual(
      v5.inbox.map((m) => [m.payload, m.packet.retain]),
      [
        ['retained by 3.1', true],
        ['from 5.0', false],
      ],
    );
    assert.deepEqual(
      v3.inbox.map((m) => [m.payload, m.packet.qos, m.packet.retain]),
      [
        ['retained by 3.1', 1, true],
        ['from 5.0', 2, false],
      ],
    );
    await Promise.all([end(v3.client), end(v5.client)]);
  });
});
