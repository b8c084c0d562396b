// startListener over real sockets with an echo handler (no broker): what each connection is
// told (listener name, remote address), PROXY headers on every listener type with the
// header and the first bytes in one segment, refusals that close one socket only, typed
// start-up errors, and close().
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { testCa, type TestCa } from '../../test/helpers/test-ca.js';
import { waitFor } from '../../test/helpers/wait-for.js';
import { EchoHandler, collect, prefixedStream, proxyV1, proxyV2, tcpConnect, within } from './echo-handler.test-support.js';
import { SharedConnectionLimit } from './admission.js';
import { TransportError } from './errors.js';
import { startListener, type ListenerOptions, type RunningListener } from './listeners.js';
import type { TlsFileOptions } from './tls.js';

let ca: TestCa;
const running: RunningListener[] = [];

async function start(handler: EchoHandler, options: ListenerOptions): Promise<RunningListener> {
  const listener = await startListener(handler, { host: '127.0.0.1', ...options });
  running.push(listener);
  return listener;
}

function tlsFiles(): TlsFileOptions {
  return { certfile: ca.server.cert, keyfile: ca.server.key };
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof TransportError, `a TransportError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('listeners', () => {
  before(async () => {
    ca = await testCa();
  });
  after(async () => {
    await Promise.all(running.map((l) => l.close()));
  });

  test('tcp: bytes go both ways; the connection is told its listener and peer', async () => {
    const handler = new EchoHandler();
    const listener = await start(handler, { type: 'tcp', port: 0 });
    assert.equal(listener.name, `tcp:${listener.address().port}`);
    const socket = await tcpConnect(listener.address().port);
    const got = collect(socket);
    socket.write('hello');
    await waitFor(() => got.data().toString() === 'hello', { message: 'the echo' });
    assert.deepEqual(handler.accepted[0]?.meta, { remoteAddress: '127.0.0.1', listener: listener.name });
    listener.reload(); // nothing to reload on a plain listener, and no error
    socket.destroy();
  });

  for (const [version, header] of [
    ['v1', proxyV1('203.0.113.9')],
    ['v2', proxyV2('203.0.113.9')],
  ] as const) {
    test(`tcp + PROXY ${version}: the header's address, and the bytes sent with it are not lost`, async () => {
      const handler = new EchoHandler();
      const listener = await start(handler, { type: 'tcp', port: 0, proxyProtocol: true });
      const socket = await tcpConnect(listener.address().port);
      const got = collect(socket);
      socket.write(Buffer.concat([header, Buffer.from('first bytes')]));
      await waitFor(() => got.data().toString() === 'first bytes', { message: () => `the echo, got "${got.data().toString()}"` });
      socket.write(' more');
      await waitFor(() => got.data().toString() === 'first bytes more', { message: 'the second echo' });
      assert.equal(handler.accepted[0]?.meta.remoteAddress, '203.0.113.9');
      socket.destroy();
    });
  }

  test('PROXY: a malformed header, a missing one and a late one each close only that socket', async () => {
    const handler = new EchoHandler();
    const listener = await start(handler, { type: 'tcp', port: 0, proxyProtocol: true, proxyTimeoutMs: 200 });
    const port = listener.address().port;
    const good = await tcpConnect(port);
    const goodData = collect(good);
    good.write(proxyV1('198.51.100.1'));
    const missing = await tcpConnect(port);
    const missingState = collect(missing);
    missing.write(Buffer.from([0x10, 0x0c, 0x00, 0x04]));
    const late = collect(await tcpConnect(port));
    const badSocket = await tcpConnect(port);
    const badState = collect(badSocket);
    badSocket.write('PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n');
    await waitFor(() => badState.closed() && missingState.closed(), { message: 'the malformed and the missing header to be refused' });
    await waitFor(() => late.closed(), { message: 'the late header to time out' });
    assert.equal(handler.accepted.length, 1, 'only the good connection reached the handler');
    good.write('still here');
    await waitFor(() => goodData.data().toString() === 'still here', { message: 'the good connection to keep working' });
    assert.equal(listener.counters.proxyHeaderFailures, 3);
    assert.equal(listener.counters.current, 1);
    good.destroy();
  });

  for (const type of ['tls', 'ws', 'wss'] as const) {
    test(`${type} + PROXY v2: header and first bytes in one segment`, async () => {
      const handler = new EchoHandler();
      const listener = await start(handler, { type, port: 0, proxyProtocol: true, ...(type !== 'ws' ? { tls: tlsFiles() } : {}) });
      const raw = await tcpConnect(listener.address().port);
      const stream = prefixedStream(raw, proxyV2('192.0.2.77', 5555));
      const ca_ = readFileSync(ca.caCert);
      let reply: () => string;
      let send: (s: string) => void;
      if (type === 'tls') {
        const tls = tlsConnect({ socket: stream, ca: ca_, servername: 'localhost' });
        await within(new Promise<void>((resolve, reject) => tls.once('secureConnect', resolve).once('error', reject)), 'the TLS handshake');
        const got = collect(tls);
        reply = () => got.data().toString();
        send = (s) => tls.write(s);
      } else {
        const ws = new WebSocket(`${type}://127.0.0.1:${listener.address().port}/mqtt`, ['mqtt'], {
          createConnection: () => (type === 'wss' ? tlsConnect({ socket: stream, ca: ca_, servername: 'localhost' }) : stream) as never,
        });
        await within(new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject)), 'the WebSocket upgrade');
        const chunks: Buffer[] = [];
        ws.on('message', (m: Buffer) => chunks.push(m));
        reply = () => Buffer.concat(chunks).toString();
        send = (s) => ws.send(Buffer.from(s));
      }
      send('over the proxy');
      await waitFor(() => reply() === 'over the proxy', { message: () => `the echo, got "${reply()}"` });
      assert.equal(handler.accepted[0]?.meta.remoteAddress, '192.0.2.77');
      assert.equal(handler.accepted[0]?.meta.listener, listener.name);
      raw.destroy();
    });
  }

  for (const type of ['tls', 'ws', 'wss'] as const) {
    test(`${type}: a client that connects and stays silent is dropped after handshakeTimeoutMs`, async () => {
      const listener = await start(new EchoHandler(), { type, port: 0, handshakeTimeoutMs: 150, proxyProtocol: type === 'wss', ...(type !== 'ws' ? { tls: tlsFiles() } : {}) });
      const socket = await tcpConnect(listener.address().port);
      const state = collect(socket);
      // behind a proxy, the header alone does not start the clock over
      if (type === 'wss') socket.write(proxyV1('192.0.2.5'));
      await waitFor(() => state.closed(), { message: 'the silent socket to be closed' });
      await waitFor(() => listener.counters.current === 0, { message: 'its slot to be released' });
      assert.equal(listener.counters.tlsHandshakeFailures, type === 'ws' ? 0 : 1);
    });
  }

  test('a port in use: ADDRESS_IN_USE naming the listener', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await rejectsWith(startListener(new EchoHandler(), { type: 'ws', port, host: '127.0.0.1' }), 'ADDRESS_IN_USE', new RegExp(`^ws:${port}: 127\\.0\\.0\\.1:${port} is already in use`));
    } finally {
      blocker.close();
    }
  });

  test('TLS files: unreadable, mismatched, or require_certificate without a cafile', async () => {
    const missing = join(ca.dir, 'no-such.crt');
    await rejectsWith(startListener(new EchoHandler(), { type: 'tls', port: 0, tls: { certfile: missing, keyfile: ca.server.key } }), 'TLS_FILE_UNREADABLE', /^tls:0: cannot read certfile .*no-such\.crt: ENOENT/);
    await rejectsWith(startListener(new EchoHandler(), { type: 'wss', port: 0, tls: { certfile: ca.server.cert, keyfile: ca.client.key } }), 'TLS_CONFIG_INVALID', /^wss:0: .*key values mismatch/);
    await rejectsWith(startListener(new EchoHandler(), { type: 'tls', port: 0, tls: { certfile: ca.caKey, keyfile: ca.server.key } }), 'TLS_CONFIG_INVALID', /^tls:0: /);
    await rejectsWith(startListener(new EchoHandler(), { type: 'tls', port: 0, tls: { ...tlsFiles(), requireCertificate: true } }), 'LISTENER_OPTIONS_INVALID', /require_certificate needs a cafile/);
    await rejectsWith(startListener(new EchoHandler(), { type: 'wss', port: 0 }), 'LISTENER_OPTIONS_INVALID', /needs certfile and keyfile/);
    await rejectsWith(startListener(new EchoHandler(), { type: 'tls', port: 0, tls: { ...tlsFiles(), minVersion: 'tlsv1.1' as never } }), 'LISTENER_OPTIONS_INVALID', /tls_version/);
    await rejectsWith(startListener(new EchoHandler(), { type: 'udp' as never, port: 0 }), 'LISTENER_OPTIONS_INVALID', /unknown listener type "udp"/);
    await rejectsWith(startListener(new EchoHandler(), { type: 'tcp', port: 70000 }), 'LISTENER_OPTIONS_INVALID', /port must be/);
  });

  test('max_connections and max_connections_per_second refuse the excess at accept', async () => {
    const handler = new EchoHandler();
    const capped = await start(handler, { type: 'tcp', port: 0, maxConnections: 1 });
    const first = await tcpConnect(capped.address().port);
    const firstData = collect(first);
    const second = collect(await tcpConnect(capped.address().port));
    await waitFor(() => second.closed(), { message: 'the second connection to be refused' });
    first.write('ok');
    await waitFor(() => firstData.data().toString() === 'ok', { message: 'the first to keep working' });
    assert.equal(capped.counters.refusedMaxConnections, 1);
    first.destroy();
    await waitFor(() => capped.counters.current === 0, { message: 'the slot to be released' });
    const third = await tcpConnect(capped.address().port);
    await waitFor(() => handler.accepted.length === 2, { message: 'a new connection once there is room' });
    third.destroy();

    // 2 per second: a burst of two, the third within the same half second is refused
    const rated = await start(handler, { type: 'tcp', port: 0, maxConnectionsPerSecond: 2 });
    const sockets = await Promise.all([1, 2, 3].map(() => tcpConnect(rated.address().port)));
    const states = sockets.map((s) => collect(s));
    await waitFor(() => states.filter((s) => s.closed()).length === 1, { message: 'one of three to be refused' });
    assert.equal(rated.counters.refusedRate, 1);
    assert.equal(rated.counters.accepted, 2);
    for (const s of sockets) s.destroy();
  });

  test('the broker-wide limit is shared across listeners', async () => {
    const handler = new EchoHandler();
    const shared = new SharedConnectionLimit(1);
    const tcp = await start(handler, { type: 'tcp', port: 0, sharedLimit: shared });
    const ws = await start(handler, { type: 'ws', port: 0, sharedLimit: shared });
    const first = await tcpConnect(tcp.address().port);
    await waitFor(() => shared.current === 1, { message: 'the first connection to count' });
    const refused = collect(await tcpConnect(ws.address().port));
    await waitFor(() => refused.closed(), { message: 'the connection to the other listener to be refused' });
    assert.equal(ws.counters.refusedBrokerMaxConnections, 1);
    first.destroy();
    await waitFor(() => shared.current === 0, { message: 'the slot to be released' });
  });

  test('close(): stops accepting, ends sockets waiting for a PROXY header, and resolves', async () => {
    const handler = new EchoHandler();
    const listener = await startListener(handler, { type: 'tcp', port: 0, host: '127.0.0.1', proxyProtocol: true, proxyTimeoutMs: 60_000 });
    const port = listener.address().port;
    const waiting = collect(await tcpConnect(port));
    await waitFor(() => listener.counters.current === 1, { message: 'the socket to be accepted' });
    const started = Date.now();
    await listener.close();
    assert.ok(Date.now() - started < 1000, 'no need to wait for the grace period');
    await waitFor(() => waiting.closed(), { message: 'the waiting socket to be closed' });
    await assert.rejects(tcpConnect(port), /ECONNREFUSED/);
  });
});
