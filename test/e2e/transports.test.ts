// One end-to-end suite run over each transport (tcp, tls, ws, wss) with MQTT.js against an
// in-process broker started with createBroker + listenOn: authentication with a user name
// and password, publish/subscribe at QoS 0, 1 and 2, a retained message, and a will after
// an abrupt close. Then what only some listeners do: client certificates
// (require_certificate), PROXY v1/v2 headers, connection limits, and a certificate reload.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { createBroker, type CulexBroker } from '../../src/app/create-broker.js';
import type { AuthResult, Authenticator, ConnectInfo } from '../../src/core/ports.js';
import type { ListenerOptions, ListenerType, RunningListener } from '../../src/transports/listeners.js';
import { proxyV1, proxyV2, tcpConnect, within } from '../../src/transports/echo-handler.test-support.js';
import { TestClient } from '../helpers/mqtt-test-client.js';
import { SERVER_EXTENSIONS, issueCertificate, testCa, type TestCa } from '../helpers/test-ca.js';
import { waitFor } from '../helpers/wait-for.js';

const USERS: Record<string, string> = { alice: 'alice-secret', bob: 'bob-secret' };

/** User name + password from a table; records every CONNECT it judged. */
class TableAuthenticator implements Authenticator {
  readonly seen: ConnectInfo[] = [];
  authenticate(info: ConnectInfo): AuthResult {
    this.seen.push(info);
    const expected = info.username === undefined ? undefined : USERS[info.username];
    if (expected !== undefined && info.password?.toString() === expected) return { ok: true };
    return { ok: false, returnCode: 4, reason: 'bad user name or password' };
  }
}

interface Received {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
}

let ca: TestCa;
let seq = 0;
const uid = (prefix: string): string => `${prefix}-${process.pid}-${++seq}`;

describe('end to end over tcp, tls, ws and wss (MQTT.js)', () => {
  const auth = new TableAuthenticator();
  let broker: CulexBroker;
  const urls = new Map<ListenerType, string>();
  const clients = new Set<MqttClient>();

  before(async () => {
    ca = await testCa();
    broker = createBroker({ sysInterval: 0, authenticator: auth });
    const tls = { certfile: ca.server.cert, keyfile: ca.server.key };
    for (const type of ['tcp', 'tls', 'ws', 'wss'] as const) {
      const l = await broker.listenOn({ type, port: 0, host: '127.0.0.1', ...(type === 'tls' || type === 'wss' ? { tls } : {}) });
      const scheme = { tcp: 'mqtt', tls: 'mqtts', ws: 'ws', wss: 'wss' }[type];
      urls.set(type, `${scheme}://127.0.0.1:${l.address().port}${type.startsWith('ws') ? '/mqtt' : ''}`);
    }
  });

  after(async () => {
    for (const c of clients) c.end(true);
    await broker.close();
  });

  /** Connects; rejects on an error or a close before CONNACK. Records messages received. */
  async function connect(url: string, options: IClientOptions = {}): Promise<{ client: MqttClient; inbox: Received[] }> {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ca: readFileSync(ca.caCert), username: 'alice', password: USERS.alice, ...options });
    clients.add(client);
    const inbox: Received[] = [];
    client.on('message', (topic, payload, packet) => inbox.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain }));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
      client.once('close', () => reject(new Error('closed before CONNACK')));
    });
    return { client, inbox };
  }

  for (const type of ['tcp', 'tls', 'ws', 'wss'] as const) {
    describe(type, () => {
      const url = (): string => urls.get(type) as string;

      test('a wrong password is refused with "bad user name or password"; the right one gets in', async () => {
        await assert.rejects(connect(url(), { username: 'alice', password: 'wrong' }), /Bad username or password/);
        const { client } = await connect(url(), { clientId: uid(`${type}-auth`) });
        assert.equal(client.connected, true);
        const info = auth.seen.at(-1);
        assert.equal(info?.username, 'alice');
        assert.equal(info?.remoteAddress, '127.0.0.1');
        assert.match(info?.listener ?? '', new RegExp(`^${type}:\\d+$`));
        client.end();
      });

      test('publish and subscribe at QoS 0, 1 and 2, MQTT 3.1.1 and 5', async () => {
        const topic = uid(`${type}/qos`);
        const sub = await connect(url(), { protocolVersion: 5 });
        await sub.client.subscribeAsync(`${topic}/#`, { qos: 2 });
        const pub = await connect(url(), { username: 'bob', password: USERS.bob });
        await pub.client.publishAsync(`${topic}/0`, 'zero', { qos: 0 });
        await pub.client.publishAsync(`${topic}/1`, 'one', { qos: 1 });
        await pub.client.publishAsync(`${topic}/2`, 'two', { qos: 2 });
        await waitFor(() => sub.inbox.length === 3, { message: () => `3 messages, got ${JSON.stringify(sub.inbox)}` });
        assert.deepEqual(
          sub.inbox.map((m) => [m.topic, m.payload, m.qos]).sort(),
          [
            [`${topic}/0`, 'zero', 0],
            [`${topic}/1`, 'one', 1],
            [`${topic}/2`, 'two', 2],
          ],
        );
        sub.client.end();
        pub.client.end();
      });

      test('a retained message reaches a later subscriber', async () => {
        const topic = uid(`${type}/retained`);
        const pub = await connect(url());
        await pub.client.publishAsync(topic, 'kept', { qos: 1, retain: true });
        const sub = await connect(url());
        await sub.client.subscribeAsync(topic, { qos: 1 });
        await waitFor(() => sub.inbox.length === 1, { message: 'the retained message' });
        assert.deepEqual(sub.inbox[0], { topic, payload: 'kept', qos: 1, retain: true });
        await pub.client.publishAsync(topic, '', { qos: 1, retain: true });
        pub.client.end();
        sub.client.end();
      });

      test('a will is published when the connection drops without DISCONNECT', async () => {
        const topic = uid(`${type}/will`);
        const watcher = await connect(url());
        await watcher.client.subscribeAsync(topic, { qos: 1 });
        const doomed = await connect(url(), { will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false } });
        // the transport stream dies under the client: no DISCONNECT, no close frame
        doomed.client.stream.destroy();
        await waitFor(() => watcher.inbox.length === 1, { message: 'the will' });
        assert.deepEqual(watcher.inbox[0], { topic, payload: 'gone', qos: 1, retain: false });
        doomed.client.end(true);
        watcher.client.end();
      });
    });
  }
});

describe('listener features end to end', () => {
  const auth = new TableAuthenticator();
  let broker: CulexBroker;
  const clients = new Set<MqttClient>();

  before(async () => {
    ca = await testCa();
    broker = createBroker({ sysInterval: 0, authenticator: auth });
  });

  after(async () => {
    for (const c of clients) c.end(true);
    await broker.close();
  });

  async function listen(options: ListenerOptions): Promise<RunningListener> {
    return broker.listenOn({ host: '127.0.0.1', ...options });
  }

  async function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ca: readFileSync(ca.caCert), username: 'alice', password: USERS.alice, ...options });
    clients.add(client);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
      client.once('close', () => reject(new Error('closed before CONNACK')));
    });
    return client;
  }

  /** Proves a client still works: a QoS 1 message to itself. */
  async function roundTrip(client: MqttClient): Promise<void> {
    const topic = uid('roundtrip');
    const got = new Promise<string>((resolve) => client.on('message', (t, p) => t === topic && resolve(p.toString())));
    await client.subscribeAsync(topic, { qos: 1 });
    await client.publishAsync(topic, 'still here', { qos: 1 });
    assert.equal(await within(got, 'the round trip'), 'still here');
  }

  test('tls require_certificate: another CA\'s certificate is refused at the handshake, a good client keeps working and is described to the authenticator', async () => {
    const l = await listen({ type: 'tls', port: 0, tls: { certfile: ca.server.cert, keyfile: ca.server.key, cafile: ca.caCert, requireCertificate: true } });
    const url = `mqtts://127.0.0.1:${l.address().port}`;
    const good = await connect(url, { clientId: uid('cert-good'), cert: readFileSync(ca.client.cert), key: readFileSync(ca.client.key) });
    const info = auth.seen.at(-1);
    assert.equal(info?.certificate?.commonName, 'device-1');
    assert.equal(info?.certificate?.subject, 'CN=device-1,O=Culex Test');
    assert.equal(info?.listener, l.name);
    const badId = uid('cert-bad');
    await assert.rejects(connect(url, { clientId: badId, cert: readFileSync(ca.otherClient.cert), key: readFileSync(ca.otherClient.key) }));
    await assert.rejects(connect(url, { clientId: badId }), 'no certificate at all');
    assert.equal(auth.seen.filter((i) => i.clientId === badId).length, 0, 'the refused clients never got to send CONNECT');
    await waitFor(() => l.counters.tlsHandshakeFailures === 2, { message: 'both refusals counted' });
    await roundTrip(good);
    good.end();
  });

  for (const [version, header] of [
    ['v1', proxyV1('203.0.113.50', 51000)],
    ['v2', proxyV2('198.51.100.60', 52000)],
  ] as const) {
    test(`PROXY ${version} over TCP: the header's source address is the client's remote address`, async () => {
      const l = await listen({ type: 'tcp', port: 0, proxyProtocol: true });
      const expected = version === 'v1' ? '203.0.113.50' : '198.51.100.60';
      const connected = new Promise<string | undefined>((resolve) => {
        broker.on('clientConnected', (client) => client.clientId === clientId && resolve(client.remoteAddress));
      });
      const clientId = uid(`proxy-${version}`);
      const socket = await tcpConnect(l.address().port);
      const client = new TestClient(socket);
      // v1: the header and CONNECT in one segment; v2: separately
      if (version === 'v1') socket.cork();
      socket.write(header);
      const connack = client.connect({ clientId, username: 'alice', password: Buffer.from(USERS.alice as string) });
      if (version === 'v1') socket.uncork();
      assert.equal((await connack).reasonCode, 0);
      assert.equal(await within(connected, 'the clientConnected event'), expected);
      assert.equal(auth.seen.find((i) => i.clientId === clientId)?.remoteAddress, expected);
      await client.publish('proxy/ok', 'x', 1);
      client.destroy();
    });
  }

  test('PROXY: a client that sends MQTT straight away is closed; proxied clients are not affected', async () => {
    const l = await listen({ type: 'tcp', port: 0, proxyProtocol: true });
    await assert.rejects(connect(`mqtt://127.0.0.1:${l.address().port}`), /closed before CONNACK|ECONNRESET/);
    const socket = await tcpConnect(l.address().port);
    const client = new TestClient(socket);
    socket.write(proxyV2('192.0.2.1'));
    assert.equal((await client.connect({ username: 'alice', password: Buffer.from(USERS.alice as string) })).reasonCode, 0);
    await client.barrier();
    assert.equal(l.counters.proxyHeaderFailures, 1);
    client.destroy();
  });

  test('max_connections: the excess connection is refused, the others keep working', async () => {
    const l = await listen({ type: 'ws', port: 0, maxConnections: 2 });
    const url = `ws://127.0.0.1:${l.address().port}/mqtt`;
    const a = await connect(url);
    const b = await connect(url);
    await assert.rejects(connect(url));
    assert.equal(l.counters.refusedMaxConnections, 1);
    await roundTrip(a);
    await roundTrip(b);
    a.end();
    await waitFor(() => l.counters.current === 1, { message: 'a slot to free up' });
    const c = await connect(url);
    await roundTrip(c);
    b.end();
    c.end();
  });

  test('max_connections_per_second: a burst over the rate is refused in part, the admitted clients work', async () => {
    const l = await listen({ type: 'tcp', port: 0, maxConnectionsPerSecond: 2 });
    const url = `mqtt://127.0.0.1:${l.address().port}`;
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => connect(url)));
    const ok = results.filter((r): r is PromiseFulfilledResult<MqttClient> => r.status === 'fulfilled').map((r) => r.value);
    assert.equal(ok.length, 2, 'a burst of two per second');
    assert.equal(l.counters.refusedRate, 2);
    for (const client of ok) await roundTrip(client);
    for (const client of ok) client.end();
  });

  test('certificate reload (SIGHUP): new connections get the new certificate, open ones keep working', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'culex-reload-'));
    try {
      const files = { certfile: join(dir, 'server.crt'), keyfile: join(dir, 'server.key') };
      copyFileSync(ca.server.cert, files.certfile);
      copyFileSync(ca.server.key, files.keyfile);
      const l = await listen({ type: 'tls', port: 0, tls: files });
      const url = `mqtts://127.0.0.1:${l.address().port}`;
      const serial = (c: MqttClient): string | undefined => (c.stream as TLSSocket).getPeerX509Certificate()?.serialNumber;
      const old = await connect(url);
      const oldSerial = serial(old);
      const renewed = await issueCertificate(ca.dir, 'ca', uid('server-renewed'), '/O=Culex Test/CN=localhost', SERVER_EXTENSIONS);
      copyFileSync(renewed.cert, files.certfile);
      copyFileSync(renewed.key, files.keyfile);
      l.reload();
      const fresh = await connect(url);
      const expected = new X509Certificate(readFileSync(renewed.cert)).serialNumber;
      assert.equal(serial(fresh), expected);
      assert.notEqual(serial(fresh), oldSerial);
      await roundTrip(old);
      await roundTrip(fresh);
      old.end();
      fresh.end();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('listenOn listeners are closed by close(): no more connections', async () => {
    const own = createBroker({ sysInterval: 0 });
    const l = await own.listenOn({ type: 'wss', port: 0, host: '127.0.0.1', tls: { certfile: ca.server.cert, keyfile: ca.server.key } });
    const client = await connect(`wss://127.0.0.1:${l.address().port}/mqtt`);
    assert.deepEqual(own.listeners, [l]);
    await own.close();
    await waitFor(() => !client.connected, { message: 'the client to be disconnected' });
    await assert.rejects(tcpConnect(l.address().port), /ECONNREFUSED/);
  });
});
