// Test support for the transport tests: a StreamHandler that echoes every byte back and
// records what the transport said about each connection, and client-side helpers.
import { connect as netConnect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { ConnectionMeta } from '../core/ports.js';
import type { StreamHandler } from './tcp.js';

export interface Accepted {
  stream: Duplex;
  meta: ConnectionMeta;
  closed: boolean;
}

/** Echoes each stream's bytes back; `accepted` lists every stream handed over, in order. */
export class EchoHandler implements StreamHandler {
  readonly accepted: Accepted[] = [];

  handle(stream: Duplex, meta: ConnectionMeta): void {
    const entry: Accepted = { stream, meta, closed: false };
    this.accepted.push(entry);
    stream.on('data', (chunk: Buffer) => stream.write(chunk));
    stream.on('end', () => stream.end());
    stream.on('error', () => undefined);
    stream.on('close', () => (entry.closed = true));
  }
}

/**
 * A client-side stream over `socket` that sends `prefix` in the same write as the first
 * bytes written to it: a PROXY header and a TLS ClientHello (or an HTTP request) then
 * reach the server in one segment, the case where bytes after the header could be lost.
 */
export function prefixedStream(socket: Socket, prefix: Buffer): Duplex {
  let pending: Buffer | undefined = prefix;
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      const out = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
      pending = undefined;
      socket.write(out, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy();
      callback(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (err) => duplex.destroy(err));
  socket.on('close', () => duplex.destroy());
  return duplex;
}

/** Connects over TCP and resolves once connected. */
export function tcpConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ port, host: '127.0.0.1' }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Collects what a socket receives; `closed` turns true on close. */
export function collect(stream: Duplex): { data: () => Buffer; closed: () => boolean } {
  const chunks: Buffer[] = [];
  let closed = false;
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('error', () => undefined);
  stream.on('close', () => (closed = true));
  return { data: () => Buffer.concat(chunks), closed: () => closed };
}

/** A PROXY v1 line naming `address` as the client. */
export function proxyV1(address: string, port = 40000): Buffer {
  const family = address.includes(':') ? 'TCP6' : 'TCP4';
  const dst = family === 'TCP6' ? '::1' : '127.0.0.1';
  return Buffer.from(`PROXY ${family} ${address} ${dst} ${port} 1883\r\n`, 'latin1');
}

/** A PROXY v2 PROXY/INET header naming the IPv4 `address` as the client. */
export function proxyV2(address: string, port = 40000): Buffer {
  const src = address.split('.').map(Number);
  const header = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c, ...src, 127, 0, 0, 1, 0, 0, 0x07, 0x5b]);
  header.writeUInt16BE(port, 24);
  return header;
}

/** `promise`, or a rejection naming `what` after `ms`: a broken transport fails a test instead of hanging it. */
export function within<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
