// TLS listeners, transport level (echo handler, no broker): require_certificate on wss
// (the tls listener is covered end to end in test/e2e/transports.test.ts), what
// ConnectionMeta.certificate holds, no certificate request without require_certificate,
// the minimum version, and a failed reload that keeps the old certificate.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { WebSocket } from 'ws';
import { testCa, type TestCa } from '../../test/helpers/test-ca.js';
import { waitFor } from '../../test/helpers/wait-for.js';
import { EchoHandler, within } from './echo-handler.test-support.js';
import { TransportError } from './errors.js';
import { startListener, type RunningListener } from './listeners.js';

let ca: TestCa;
const running: RunningListener[] = [];

function connectTls(port: number, options: ConnectionOptions = {}): Promise<TLSSocket> {
  return within(new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(ca.caCert), servername: 'localhost', ...options });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  }), 'the TLS handshake');
}

async function servedFingerprint(port: number): Promise<string | undefined> {
  const socket = await connectTls(port);
  const fingerprint = socket.getPeerX509Certificate()?.fingerprint256;
  socket.destroy();
  return fingerprint;
}

/** Opens a wss connection and proves it works with an echo; rejects if the server drops it. */
function wssEcho(port: number, client: { cert: string; key: string } | undefined): Promise<void> {
  return within(new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://127.0.0.1:${port}/mqtt`, ['mqtt'], {
      ca: readFileSync(ca.caCert),
      ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
    });
    ws.once('open', () => ws.send(Buffer.from('ping')));
    ws.once('message', () => {
      ws.close();
      resolve();
    });
    ws.once('error', reject);
    ws.once('close', () => reject(new Error('closed before the echo')));
  }), 'the wss echo');
}

describe('TLS listeners', () => {
  before(async () => {
    ca = await testCa();
  });
  after(async () => {
    await Promise.all(running.map((l) => l.close()));
  });

  test('wss + require_certificate: no certificate and another CA\'s are refused; a good one is described in the meta', async () => {
    const handler = new EchoHandler();
    const listener = await startListener(handler, {
      type: 'wss',
      port: 0,
      host: '127.0.0.1',
      tls: { certfile: ca.server.cert, keyfile: ca.server.key, cafile: ca.caCert, requireCertificate: true },
    });
    running.push(listener);
    const port = listener.address().port;
    await assert.rejects(wssEcho(port, undefined));
    await assert.rejects(wssEcho(port, ca.otherClient));
    assert.equal(handler.accepted.length, 0, 'neither reached the handler');
    await wssEcho(port, ca.client);
    const expected = new X509Certificate(readFileSync(ca.client.cert));
    assert.deepEqual(handler.accepted[0]?.meta.certificate, {
      commonName: 'device-1',
      subject: 'CN=device-1,O=Culex Test',
      fingerprint256: expected.fingerprint256,
    });
    await waitFor(() => listener.counters.tlsHandshakeFailures === 2, { message: () => `2 counted failures, got ${listener.counters.tlsHandshakeFailures}` });
  });

  test('without require_certificate no certificate is requested, so none is in the meta', async () => {
    const handler = new EchoHandler();
    const listener = await startListener(handler, { type: 'tls', port: 0, host: '127.0.0.1', tls: { certfile: ca.server.cert, keyfile: ca.server.key, cafile: ca.caCert } });
    running.push(listener);
    const socket = await connectTls(listener.address().port, { cert: readFileSync(ca.client.cert), key: readFileSync(ca.client.key) });
    await waitFor(() => handler.accepted.length === 1, { message: 'the connection' });
    assert.equal(handler.accepted[0]?.meta.certificate, undefined);
    const peer = (handler.accepted[0]?.stream as TLSSocket).getPeerCertificate();
    assert.deepEqual(Object.keys(peer), [], 'the client was not asked for its certificate, so sent none');
    socket.destroy();
  });

  test('tls_version tlsv1.3 refuses a TLS 1.2 client', async () => {
    const handler = new EchoHandler();
    const listener = await startListener(handler, { type: 'tls', port: 0, host: '127.0.0.1', tls: { certfile: ca.server.cert, keyfile: ca.server.key, minVersion: 'tlsv1.3' } });
    running.push(listener);
    await assert.rejects(connectTls(listener.address().port, { maxVersion: 'TLSv1.2' }), /protocol version|unsupported protocol/i);
    const ok = await connectTls(listener.address().port);
    assert.equal(ok.getProtocol(), 'TLSv1.3');
    ok.destroy();
    await waitFor(() => listener.counters.tlsHandshakeFailures === 1, { message: 'the failure to be counted' });
  });

  test('a failed reload throws TLS_RELOAD_FAILED and keeps serving the previous certificate', async () => {
    // the renewal case: the files are replaced in place, then the broker is told (SIGHUP)
    const dir = mkdtempSync(join(tmpdir(), 'culex-tls-reload-'));
    const files = { certfile: join(dir, 'server.crt'), keyfile: join(dir, 'server.key') };
    copyFileSync(ca.server.cert, files.certfile);
    copyFileSync(ca.server.key, files.keyfile);
    try {
      const listener = await startListener(new EchoHandler(), { type: 'tls', port: 0, host: '127.0.0.1', tls: files });
      running.push(listener);
      const served = await servedFingerprint(listener.address().port);
      rmSync(files.certfile);
      assert.throws(
        () => listener.reload(),
        (err: unknown) => err instanceof TransportError && err.code === 'TLS_RELOAD_FAILED' && /keeping the previous one: cannot read certfile .*server\.crt: ENOENT/.test(err.message),
      );
      copyFileSync(ca.server.cert, files.certfile);
      copyFileSync(ca.client.key, files.keyfile);
      assert.throws(() => listener.reload(), (err: unknown) => err instanceof TransportError && err.code === 'TLS_RELOAD_FAILED' && /key values mismatch/.test(err.message));
      assert.equal(await servedFingerprint(listener.address().port), served);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
