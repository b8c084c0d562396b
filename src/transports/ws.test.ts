// MQTT over WebSocket, transport level (echo handler, no broker): the path, subprotocol
// negotiation, binary-only frames [MQTT-6.0.0-1], message size limit, backpressure on a
// large transfer, and attaching to an existing HTTP server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { WebSocket } from 'ws';
import { waitFor } from '../../test/helpers/wait-for.js';
import { EchoHandler, within } from './echo-handler.test-support.js';
import { startListener, type RunningListener } from './listeners.js';
import { attachWebSocket, selectSubprotocol } from './ws.js';

interface Opened {
  ws: WebSocket;
  received: Buffer[];
  close: Promise<{ code: number; reason: string }>;
}

function open(url: string, protocols?: string[]): Promise<Opened> {
  return within(new Promise((resolve, reject) => {
    const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
    const received: Buffer[] = [];
    ws.on('message', (m: Buffer) => received.push(m));
    const close = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.once('open', () => resolve({ ws, received, close }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => reject(new Error(`HTTP ${res.statusCode}: ${body.trim()}`)));
    });
    ws.once('error', (err) => reject(err));
  }), `the WebSocket upgrade of ${url}`);
}

function httpGet(port: number, path: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    })
      .on('error', reject)
      .end();
  });
}

describe('MQTT over WebSocket', () => {
  let handler: EchoHandler;
  let listener: RunningListener;
  let base: string;

  before(async () => {
    handler = new EchoHandler();
    listener = await startListener(handler, { type: 'ws', port: 0, host: '127.0.0.1', maxWebSocketMessageBytes: 64 * 1024 });
    base = `ws://127.0.0.1:${listener.address().port}`;
  });
  after(async () => {
    await listener.close();
  });

  test('subprotocol choice: mqtt first, then mqttv3.1, else none', () => {
    assert.equal(selectSubprotocol(['mqtt']), 'mqtt');
    assert.equal(selectSubprotocol(['mqttv3.1']), 'mqttv3.1');
    assert.equal(selectSubprotocol(['mqttv3.1', 'mqtt']), 'mqtt');
    assert.equal(selectSubprotocol(['MQTT', 'wamp']), undefined);
    assert.equal(selectSubprotocol([]), undefined);
  });

  test('mqtt is negotiated; binary messages are echoed byte for byte; the peer address is the socket\'s', async () => {
    const c = await open(`${base}/mqtt`, ['mqtt']);
    assert.equal(c.ws.protocol, 'mqtt');
    c.ws.send(Buffer.from([0x10, 0x00]));
    c.ws.send(Buffer.from([0xc0, 0x00]));
    await waitFor(() => Buffer.concat(c.received).equals(Buffer.from([0x10, 0x00, 0xc0, 0x00])), { message: 'the echo' });
    const accepted = handler.accepted.at(-1);
    assert.deepEqual(accepted?.meta, { remoteAddress: '127.0.0.1', listener: listener.name });
    c.ws.close();
    await c.close;
    await waitFor(() => accepted?.closed === true, { message: 'the server stream to close' });
  });

  test('mqttv3.1 (MQTT.js and paho for MQTT 3.1) is accepted; a query string is ignored', async () => {
    const c = await open(`${base}/mqtt?client=paho`, ['mqttv3.1']);
    assert.equal(c.ws.protocol, 'mqttv3.1');
    c.ws.close();
  });

  test('no subprotocol, or none of ours: 400 naming the one needed', async () => {
    await assert.rejects(open(`${base}/mqtt`), /HTTP 400: MQTT over WebSocket needs the subprotocol "mqtt".*offered: none/);
    await assert.rejects(open(`${base}/mqtt`, ['wamp', 'soap']), /HTTP 400: .*offered: "wamp,soap"/);
  });

  test('another path: 404 (upgrade and plain GET); plain GET on the MQTT path: 426', async () => {
    await assert.rejects(open(`${base}/other`, ['mqtt']), /HTTP 404: no WebSocket endpoint here; MQTT is served at \/mqtt/);
    await assert.rejects(open(`${base}/`, ['mqtt']), /HTTP 404/);
    assert.equal((await httpGet(listener.address().port, '/favicon.ico')).status, 404);
    const upgradeRequired = await httpGet(listener.address().port, '/mqtt');
    assert.equal(upgradeRequired.status, 426);
    assert.equal(upgradeRequired.headers.upgrade, 'websocket');
    assert.ok(listener.counters.webSocketUpgradesRefused >= 2);
  });

  test('a text frame closes the connection with 1003 [MQTT-6.0.0-1]', async () => {
    const c = await open(`${base}/mqtt`, ['mqtt']);
    const accepted = handler.accepted.at(-1);
    c.ws.send('{"not":"mqtt"}');
    const closed = await within(c.close, 'the close');
    assert.equal(closed.code, 1003);
    await waitFor(() => accepted?.closed === true, { message: 'the server stream to close' });
  });

  test('a message over maxWebSocketMessageBytes closes the connection (1009)', async () => {
    const c = await open(`${base}/mqtt`, ['mqtt']);
    c.ws.send(Buffer.alloc(64 * 1024 + 1));
    assert.equal((await within(c.close, 'the close')).code, 1009);
  });

  test('4 MiB in small messages and back: backpressure both ways loses nothing', async () => {
    const c = await open(`${base}/mqtt`, ['mqtt']);
    const total = 4 * 1024 * 1024;
    const chunk = 16 * 1024;
    const sent = Buffer.alloc(total);
    for (let i = 0; i < total; i++) sent[i] = (i * 31) & 0xff;
    for (let off = 0; off < total; off += chunk) c.ws.send(sent.subarray(off, off + chunk));
    await waitFor(() => c.received.reduce((n, b) => n + b.length, 0) >= total, { timeoutMs: 10_000, message: 'the whole echo' });
    assert.ok(Buffer.concat(c.received).equals(sent));
    c.ws.close();
  });
});

describe('attachWebSocket on an existing HTTP server', () => {
  let server: Server;
  let port: number;

  before(async () => {
    server = createServer((_req, res) => res.end('dashboard'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('serves /mqtt with the meta it is given; detach() stops it', async () => {
    const handler = new EchoHandler();
    const attachment = attachWebSocket(server, handler, { meta: () => ({ remoteAddress: 'from-meta', listener: 'http:test' }) });
    const c = await open(`ws://127.0.0.1:${port}/mqtt`, ['mqtt']);
    c.ws.send(Buffer.from('x'));
    await waitFor(() => c.received.length === 1, { message: 'the echo' });
    assert.deepEqual(handler.accepted[0]?.meta, { remoteAddress: 'from-meta', listener: 'http:test' });
    assert.equal(attachment.counters.accepted, 1);
    c.ws.close();
    attachment.detach();
    assert.equal(server.listenerCount('upgrade'), 0);
  });

  test('rejectOtherPaths: false leaves other paths to other upgrade listeners', async () => {
    const handler = new EchoHandler();
    const attachment = attachWebSocket(server, handler, { rejectOtherPaths: false });
    const other = attachWebSocket(server, handler, { path: '/other', rejectOtherPaths: false });
    const c = await open(`ws://127.0.0.1:${port}/other`, ['mqtt']);
    assert.equal(other.counters.accepted, 1);
    assert.equal(attachment.counters.refused, 0);
    assert.deepEqual(handler.accepted[0]?.meta, { remoteAddress: '127.0.0.1', listener: undefined });
    c.ws.close();
    attachment.detach();
    other.detach();
  });
});
