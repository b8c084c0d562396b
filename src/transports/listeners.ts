// One entry point for every listener type. Each listener owns a plain TCP server that
// accepts sockets; a socket then goes through the same stages whatever the type:
//
//   accept ─▶ admission (limits) ─▶ PROXY header (optional) ─▶ tcp: broker.handle()
//                                                             ├▶ tls: TLS server ─▶ broker.handle()
//                                                             └▶ ws/wss: HTTP(S) server ─▶ upgrade ─▶ broker.handle()
//
// The TLS and HTTP(S) servers never listen themselves: they get sockets through their
// 'connection' event, which is what lets the PROXY header and the limits come first.
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import type { ConnectionMeta, Logger } from '../core/ports.js';
import { ListenerAdmission, type AdmissionCounters, type AdmissionLimits, type SharedConnectionLimit } from './admission.js';
import { TransportError, listenError } from './errors.js';
import { readProxyHeader } from './proxy-protocol.js';
import type { StreamHandler } from './tcp.js';
import { refuseUnverifiedPeer, reloadTls, tlsServerOptions, verifiedPeerCertificate, type TlsFileOptions } from './tls.js';
import { DEFAULT_WS_PATH, attachWebSocket, plainHttpResponder, type WebSocketAttachment } from './ws.js';

export type ListenerType = 'tcp' | 'tls' | 'ws' | 'wss';
const TYPES: readonly ListenerType[] = ['tcp', 'tls', 'ws', 'wss'];

/** A listener as the transports see it: a config listener with file paths resolved. */
export interface ListenerOptions extends AdmissionLimits {
  type: ListenerType;
  /** 0 picks a free port. */
  port: number;
  /** Bind address; default all interfaces. */
  host?: string | undefined;
  /** Default "<type>:<bound port>", e.g. "tls:8883". */
  name?: string | undefined;
  /** ws/wss: the URL path that serves MQTT; default /mqtt. */
  path?: string | undefined;
  /** Expect a PROXY protocol v1 or v2 header first; its source address becomes remoteAddress. */
  proxyProtocol?: boolean | undefined;
  /** How long a PROXY header may take to arrive; default 5000 ms. */
  proxyTimeoutMs?: number | undefined;
  /** tls/wss: certificate files and client-certificate policy. */
  tls?: TlsFileOptions | undefined;
  /**
   * A connection that stays silent this long before it is ready for MQTT (during the TLS
   * handshake, or before the WebSocket upgrade) is dropped; default 10000 ms. Like Node's
   * own TLS handshake timeout it is an idle timeout. The MQTT phase has connect_timeout.
   */
  handshakeTimeoutMs?: number | undefined;
  /** ws/wss: largest WebSocket message. */
  maxWebSocketMessageBytes?: number | undefined;
  /** The broker-wide max_connections, shared by all listeners. */
  sharedLimit?: SharedConnectionLimit | undefined;
  logger?: Logger | undefined;
}

export interface ListenerCounters extends AdmissionCounters {
  /** Sockets closed for a missing, malformed or late PROXY header. */
  proxyHeaderFailures: number;
  /** TLS handshakes that failed (bad or missing client certificate, protocol version, timeout). */
  tlsHandshakeFailures: number;
  /** WebSocket upgrades refused (wrong path, no MQTT subprotocol). */
  webSocketUpgradesRefused: number;
}

export interface RunningListener {
  /** e.g. "tls:8883"; also ConnectionMeta.listener of its connections. */
  readonly name: string;
  readonly type: ListenerType;
  address(): AddressInfo;
  /** tls/wss: re-reads the certificate files (TLS_RELOAD_FAILED keeps the old ones); others: nothing. */
  reload(): void;
  /**
   * Stops accepting and resolves once every connection it accepted has ended. MQTT
   * connections are ended by the broker (broker.close()); whatever is still open after a
   * grace period (a stuck handshake, a silent peer) is destroyed.
   */
  close(): Promise<void>;
  /** A snapshot, for $SYS and /metrics. */
  readonly counters: ListenerCounters;
}

export const DEFAULT_PROXY_TIMEOUT_MS = 5000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** After close(), how long connections get to end on their own before being destroyed. */
const CLOSE_GRACE_MS = 2000;

/** Starts a listener of any type; resolves once bound. Throws TransportError. */
export async function startListener(handler: StreamHandler, options: ListenerOptions): Promise<RunningListener> {
  const provisional = options.name ?? `${String(options.type)}:${String(options.port)}`;
  if (!TYPES.includes(options.type)) {
    throw new TransportError('LISTENER_OPTIONS_INVALID', provisional, `unknown listener type "${String(options.type)}" (tcp, tls, ws or wss)`);
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new TransportError('LISTENER_OPTIONS_INVALID', provisional, `port must be an integer from 0 to 65535, not ${String(options.port)}`);
  }
  const secure = options.type === 'tls' || options.type === 'wss';
  let tlsOptions: TlsOptions | undefined;
  if (secure) {
    if (options.tls === undefined) throw new TransportError('LISTENER_OPTIONS_INVALID', provisional, 'a tls or wss listener needs certfile and keyfile');
    tlsOptions = tlsServerOptions(provisional, options.tls, options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS);
  }
  const listener = new Listener(handler, options, provisional, tlsOptions);
  await listener.bind();
  return listener;
}

class Listener implements RunningListener {
  readonly type: ListenerType;
  #name: string;
  readonly #handler: StreamHandler;
  readonly #options: ListenerOptions;
  readonly #logger: Logger | undefined;
  readonly #outer: NetServer;
  readonly #inner: TlsServer | HttpServer | undefined;
  readonly #admission: ListenerAdmission;
  readonly #ws: WebSocketAttachment | undefined;
  /** Every accepted socket until it closes; bounded by the admission limits (and the OS). */
  readonly #sockets = new Set<Socket>();
  /** Sockets still waiting for their PROXY header; a subset of #sockets. */
  readonly #awaitingProxy = new Set<Socket>();
  /** PROXY mode: the announced client address of each open connection, by its TCP 4-tuple; a subset of #sockets. */
  readonly #proxied = new Map<string, string>();
  #proxyFailures = 0;
  #tlsFailures = 0;
  #closing: Promise<void> | undefined;
  #address: AddressInfo | undefined;

  constructor(handler: StreamHandler, options: ListenerOptions, name: string, tlsOptions: TlsOptions | undefined) {
    this.type = options.type;
    this.#name = name;
    this.#handler = handler;
    // a copy: reload() re-reads the same paths whatever the caller does with its object
    this.#options = { ...options, ...(options.tls ? { tls: { ...options.tls } } : {}) };
    this.#logger = options.logger;
    this.#admission = new ListenerAdmission(options, options.sharedLimit);
    this.#outer = createNetServer({ noDelay: true }, this.#onConnection);
    switch (options.type) {
      case 'tcp':
        break;
      case 'tls': {
        const server = createTlsServer(tlsOptions ?? {});
        this.#guardCertificates(server);
        server.on('secureConnection', (socket: TLSSocket) => {
          if (socket.destroyed) return;
          this.#handler.handle(socket, { remoteAddress: this.#peerAddress(socket), listener: this.#name, certificate: verifiedPeerCertificate(socket) });
        });
        this.#inner = server;
        break;
      }
      case 'ws':
      case 'wss': {
        const path = options.path ?? DEFAULT_WS_PATH;
        const server = options.type === 'wss' ? createHttpsServer(tlsOptions ?? {}, plainHttpResponder(path)) : createHttpServer(plainHttpResponder(path));
        if (options.type === 'wss') this.#guardCertificates(server as TlsServer);
        // a socket idle this long before its upgrade is destroyed; ws clears the timeout
        // once the socket is upgraded (ws.setSocket)
        server.timeout = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
        this.#ws = attachWebSocket(server, handler, {
          path,
          maxMessageBytes: options.maxWebSocketMessageBytes,
          meta: (req) => this.#webSocketMeta(req),
        });
        this.#inner = server;
        break;
      }
    }
  }

  get name(): string {
    return this.#name;
  }

  get counters(): ListenerCounters {
    return {
      ...this.#admission.counters,
      proxyHeaderFailures: this.#proxyFailures,
      tlsHandshakeFailures: this.#tlsFailures,
      webSocketUpgradesRefused: this.#ws?.counters.refused ?? 0,
    };
  }

  async bind(): Promise<void> {
    const { port, host } = this.#options;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => reject(listenError(this.#name, err, `${host ?? '*'}:${port}`));
      this.#outer.once('error', onError);
      this.#outer.listen({ port, host }, () => {
        this.#outer.off('error', onError);
        resolve();
      });
    });
    this.#address = this.#outer.address() as AddressInfo;
    if (this.#options.name === undefined) this.#name = `${this.type}:${this.#address.port}`;
    // accept errors (EMFILE...) are reported, never fatal
    this.#outer.on('error', (err) => this.#logger?.error({ listener: this.#name, err }, 'listener error'));
  }

  /** The bound address (still answered after close()). */
  address(): AddressInfo {
    return this.#address as AddressInfo;
  }

  reload(): void {
    if ((this.type !== 'tls' && this.type !== 'wss') || this.#options.tls === undefined) return;
    reloadTls(this.#inner as TlsServer, this.#name, this.#options.tls);
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#ws?.detach();
      const grace = setTimeout(() => {
        for (const socket of this.#sockets) socket.destroy();
      }, CLOSE_GRACE_MS);
      this.#outer.close(() => {
        clearTimeout(grace);
        resolve();
      });
      for (const socket of this.#awaitingProxy) socket.destroy();
    });
    return this.#closing;
  }

  // One function for every socket of this listener (`this` is the socket): a closure and a
  // once() wrapper per socket would cost an idle connection about 250 bytes. 'close' comes once.
  readonly #onSocketClose = ((listener: this) =>
    function (this: Socket): void {
      if (listener.#sockets.delete(this)) listener.#admission.release();
    })(this);

  #onConnection = (socket: Socket): void => {
    const verdict = this.#admission.admit();
    if (verdict !== 'accepted') {
      socket.destroy();
      this.#logger?.debug({ listener: this.#name, remoteAddress: socket.remoteAddress, verdict }, 'connection refused');
      return;
    }
    this.#sockets.add(socket);
    // whoever takes the socket reports its errors; one arriving before that must not crash
    socket.on('error', ignore);
    socket.on('close', this.#onSocketClose);
    if (this.#options.proxyProtocol === true) this.#readProxy(socket);
    else this.#dispatch(socket, undefined, false);
  };

  #readProxy(socket: Socket): void {
    this.#awaitingProxy.add(socket);
    readProxyHeader(socket, this.#options.proxyTimeoutMs ?? DEFAULT_PROXY_TIMEOUT_MS).then(
      (header) => {
        this.#awaitingProxy.delete(socket);
        if (!socket.destroyed) this.#dispatch(socket, header.source?.address, true);
      },
      (err: Error) => {
        this.#awaitingProxy.delete(socket);
        this.#proxyFailures++;
        this.#logger?.warn({ listener: this.#name, remoteAddress: socket.remoteAddress, err: err.message }, 'PROXY protocol header refused');
        socket.destroy();
      },
    );
  }

  /** Hands an admitted socket on; `paused` after a PROXY header (its next bytes were unshifted). */
  #dispatch(socket: Socket, proxiedAddress: string | undefined, paused: boolean): void {
    if (this.#inner === undefined) {
      this.#handler.handle(socket, { remoteAddress: proxiedAddress ?? socket.remoteAddress, listener: this.#name });
      if (paused) socket.resume();
      return;
    }
    if (proxiedAddress !== undefined) {
      const key = tupleKey(socket);
      this.#proxied.set(key, proxiedAddress);
      socket.once('close', () => this.#proxied.delete(key));
    }
    this.#inner.emit('connection', socket);
    // the HTTP server reads through 'data' events, which a paused socket would never emit;
    // a TLS server reads the unshifted bytes itself and then takes over the socket's handle
    if (paused && this.type === 'ws') socket.resume();
  }

  /** The client's address: the PROXY header's when there was one, else the socket's peer. */
  #peerAddress(socket: Socket): string | undefined {
    if (this.#proxied.size > 0) {
      const proxied = this.#proxied.get(tupleKey(socket));
      if (proxied !== undefined) return proxied;
    }
    return socket.remoteAddress;
  }

  #webSocketMeta(req: IncomingMessage): ConnectionMeta {
    const socket = req.socket;
    const meta: ConnectionMeta = { remoteAddress: this.#peerAddress(socket), listener: this.#name };
    if (this.type === 'wss') meta.certificate = verifiedPeerCertificate(socket as TLSSocket);
    return meta;
  }

  /** Counts failed handshakes; with require_certificate, refuses unverified peers first. */
  #guardCertificates(server: TlsServer): void {
    server.on('tlsClientError', this.#onTlsError);
    if (this.#options.tls?.requireCertificate !== true) return;
    // prepended: runs before the HTTPS server's own listener sees the socket
    server.prependListener('secureConnection', (socket: TLSSocket) => {
      const refused = refuseUnverifiedPeer(socket);
      if (refused !== undefined) this.#onTlsError(new Error(`client certificate refused: ${refused}`), socket);
    });
  }

  #onTlsError = (err: Error, socket: TLSSocket): void => {
    // a tls.Server leaves the socket open after 'tlsClientError' (a handshake timeout
    // would keep it forever); https.Server destroys it, and so do we
    socket.destroy();
    this.#tlsFailures++;
    this.#logger?.debug({ listener: this.#name, remoteAddress: this.#peerAddress(socket), err: err.message }, 'TLS handshake failed');
  };
}

function ignore(): void {}

/** A live TCP connection's 4-tuple; a TLS socket reports that of the socket it wraps. */
function tupleKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}|${socket.localAddress}|${socket.localPort}`;
}
