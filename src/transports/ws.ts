// MQTT over WebSocket (MQTT 3.1.1 and 5.0 section 6): the `mqtt` subprotocol, binary
// frames, each message's bytes fed into the broker's byte stream. attachWebSocket() serves
// the upgrade on any node http(s).Server: the standalone ws/wss listeners and the HTTP
// server's /mqtt use the same code.
import type { IncomingMessage, RequestListener, Server as HttpServer } from 'node:http';
import { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { ConnectionMeta } from '../core/ports.js';
import type { StreamHandler } from './tcp.js';

export const DEFAULT_WS_PATH = '/mqtt';
/** Largest WebSocket message accepted by default (ws's own default is 100 MiB). */
export const DEFAULT_WS_MAX_MESSAGE_BYTES = 1024 * 1024 + 64 * 1024;

/**
 * `mqtt` is the registered name [MQTT-6.0.0-4]; MQTT.js and paho offer `mqttv3.1` for
 * MQTT 3.1, which mosquitto and most brokers also accept. Preferred in this order.
 */
const SUBPROTOCOLS = ['mqtt', 'mqttv3.1'] as const;

/**
 * The subprotocol to answer with, or undefined when the client offered none we speak.
 * A client that offers no subprotocol at all is refused too: the client MUST offer `mqtt`
 * [MQTT-6.0.0-3], mosquitto (libwebsockets) serves MQTT only under `mqtt`/`mqttv3.1`, and
 * every browser and MQTT library sends one.
 */
export function selectSubprotocol(offered: Iterable<string>): string | undefined {
  const set = offered instanceof Set ? (offered as Set<string>) : new Set(offered);
  return SUBPROTOCOLS.find((p) => set.has(p));
}

function offeredSubprotocols(header: string | undefined): string[] {
  return header === undefined ? [] : header.split(',').map((p) => p.trim());
}

const SEND_OPTIONS = Object.freeze({ binary: true, compress: false });

/** The close code for a text frame [MQTT-6.0.0-1]: 1003, unsupported data. */
const CLOSE_UNSUPPORTED_DATA = 1003;

export class WebSocketTextFrameError extends Error {
  readonly code = 'WEBSOCKET_TEXT_FRAME';
  constructor() {
    super('MQTT over WebSocket needs binary frames; the client sent a text frame [MQTT-6.0.0-1]');
    this.name = 'WebSocketTextFrameError';
  }
}

/**
 * A WebSocket as a byte stream. Reading: each binary message is pushed as is (no copy);
 * when the consumer stops reading, the WebSocket is paused (which pauses its socket).
 * Writing: each write is one binary message, and its callback fires when the socket took
 * it, so writableLength (which the broker's slow-consumer logic reads) counts the bytes
 * the client has not taken yet.
 */
export class WebSocketDuplex extends Duplex {
  readonly #ws: WebSocket;

  constructor(ws: WebSocket) {
    super();
    this.#ws = ws;
    ws.on('message', this.#onMessage);
    ws.on('close', this.#onClose);
    ws.on('error', this.#onError);
  }

  /** The negotiated subprotocol ("mqtt" or "mqttv3.1"). */
  get protocol(): string {
    return this.#ws.protocol;
  }

  #onMessage = (data: RawData, isBinary: boolean): void => {
    if (!isBinary) {
      // close politely (1003) and let ws's close timeout end a peer that never answers
      this.#ws.close(CLOSE_UNSUPPORTED_DATA, 'binary frames only');
      this.destroy(new WebSocketTextFrameError());
      return;
    }
    // binaryType is 'nodebuffer' (ws's default): one Buffer per message
    if (!this.push(data as Buffer)) this.#ws.pause();
  };

  #onClose = (): void => {
    this.push(null);
  };

  #onError = (err: Error): void => {
    this.destroy(err);
  };

  override _read(): void {
    if (this.#ws.isPaused) this.#ws.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // a peer that is gone takes nothing, as with a reset socket
    if (this.#ws.readyState !== WebSocket.OPEN) {
      callback();
      return;
    }
    this.#ws.send(chunk, SEND_OPTIONS, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    if (this.#ws.readyState !== WebSocket.OPEN) {
      callback();
      return;
    }
    const last = chunks.length - 1;
    for (let i = 0; i < last; i++) this.#ws.send((chunks[i] as { chunk: Buffer }).chunk, SEND_OPTIONS);
    this.#ws.send((chunks[last] as { chunk: Buffer }).chunk, SEND_OPTIONS, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(1000);
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#ws.off('message', this.#onMessage);
    // destroy() means now: drop the socket without waiting for the closing handshake,
    // except after a text frame, where the 1003 close frame was just queued
    if (this.#ws.readyState !== WebSocket.CLOSED && !(err instanceof WebSocketTextFrameError)) this.#ws.terminate();
    callback(err);
  }
}

export interface WebSocketAttachOptions {
  /** The URL path that serves MQTT; default /mqtt. The query string is ignored. */
  path?: string | undefined;
  /** Largest WebSocket message; bigger ones close the connection (1009). */
  maxMessageBytes?: number | undefined;
  /** The listener name for ConnectionMeta (e.g. "ws:8083"). */
  listener?: string | undefined;
  /** What the broker learns about a connection; default: the socket's peer address. */
  meta?: ((req: IncomingMessage) => ConnectionMeta) | undefined;
  /**
   * Answer 404 to upgrades on other paths (default true). Set false when other 'upgrade'
   * listeners on the same server serve those paths.
   */
  rejectOtherPaths?: boolean | undefined;
}

export interface WebSocketCounters {
  /** Upgrades that became MQTT connections. */
  accepted: number;
  /** Upgrades refused: wrong path, no MQTT subprotocol. */
  refused: number;
}

export interface WebSocketAttachment {
  readonly counters: WebSocketCounters;
  /** Stops serving new upgrades (open connections are the broker's). */
  detach(): void;
}

/** Serves MQTT over WebSocket on `server`'s 'upgrade' event. */
export function attachWebSocket(server: HttpServer, handler: StreamHandler, options: WebSocketAttachOptions = {}): WebSocketAttachment {
  const path = options.path ?? DEFAULT_WS_PATH;
  const rejectOtherPaths = options.rejectOtherPaths ?? true;
  const listener = options.listener;
  const meta = options.meta ?? ((req: IncomingMessage): ConnectionMeta => ({ remoteAddress: req.socket.remoteAddress, listener }));
  const counters: WebSocketCounters = { accepted: 0, refused: 0 };
  const wss = new WebSocketServer({
    noServer: true,
    // the broker tracks its connections; ws's own set would be a second copy
    clientTracking: false,
    perMessageDeflate: false,
    // text frames are refused anyway, so their UTF-8 check is wasted work
    skipUTF8Validation: true,
    maxPayload: options.maxMessageBytes ?? DEFAULT_WS_MAX_MESSAGE_BYTES,
    handleProtocols: (protocols) => selectSubprotocol(protocols) ?? false,
  });

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (pathOf(req.url) !== path) {
      if (!rejectOtherPaths) return;
      counters.refused++;
      refuseUpgrade(socket, 404, 'Not Found', `no WebSocket endpoint here; MQTT is served at ${path}\n`);
      return;
    }
    const header = req.headers['sec-websocket-protocol'];
    if (selectSubprotocol(offeredSubprotocols(header)) === undefined) {
      counters.refused++;
      const offered = header === undefined ? 'none' : `"${header}"`;
      refuseUpgrade(socket, 400, 'Bad Request', `MQTT over WebSocket needs the subprotocol "mqtt" (Sec-WebSocket-Protocol); offered: ${offered}\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      counters.accepted++;
      handler.handle(new WebSocketDuplex(ws), meta(req));
    });
  };
  server.on('upgrade', onUpgrade);
  return {
    counters,
    detach() {
      server.off('upgrade', onUpgrade);
    },
  };
}

/** For the standalone ws/wss listeners: plain HTTP requests get 426 on the MQTT path, 404 elsewhere. */
export function plainHttpResponder(path: string = DEFAULT_WS_PATH): RequestListener {
  return (req, res) => {
    const onPath = pathOf(req.url) === path;
    const body = onPath ? 'this endpoint speaks MQTT over WebSocket (subprotocol "mqtt")\n' : 'not found\n';
    res.writeHead(onPath ? 426 : 404, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
      ...(onPath ? { upgrade: 'websocket' } : {}),
    });
    res.end(body);
  };
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return '';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function refuseUpgrade(socket: Duplex, status: number, reason: string, body: string): void {
  socket.on('error', () => undefined);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
