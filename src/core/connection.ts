// One client connection: bytes in through the framer, packets out through a per-tick
// write batch. Transport-agnostic: anything that is a Duplex stream will do.
import type { Duplex } from 'node:stream';
import { MqttProtocolError, PacketParser, encodePacket } from '../protocol/index.js';
import type { Packet, ProtocolVersion, WillMessage } from '../protocol/types.js';
import { PacketType } from '../protocol/types.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { BrokerError, type CloseReason } from './errors.js';
import type { BrokerContext, ClientRef } from './context.js';
import type { ConnectionMeta, PeerCertificate, TimerHandle } from './ports.js';
import { PublishRateLimiter } from './publish-rate.js';
import { drainQueue } from './delivery.js';

export type ConnectionState = 'new' | 'authenticating' | 'connected' | 'closed';

/** Handlers by packet type code; packets a server must never receive have no entry. */
export type PacketHandler = (ctx: BrokerContext, conn: Connection, packet: Packet) => void;
export type DispatchTable = readonly (PacketHandler | undefined)[];

export interface CloseOptions {
  /** Publish the will (abnormal end, [MQTT-3.1.2-8]). */
  sendWill: boolean;
  /** v5: reason code of the server DISCONNECT sent before closing. */
  disconnectCode?: number;
  /** Text for logs and the connectionClosed event. */
  detail?: string;
}

const PROTOCOL_CLOSE: Record<MqttProtocolError['code'], CloseReason> = {
  MALFORMED_PACKET: 'malformed_packet',
  PROTOCOL_ERROR: 'protocol_error',
  PACKET_TOO_LARGE: 'packet_too_large',
  UNSUPPORTED_PROTOCOL_VERSION: 'unsupported_protocol_version',
};

/** The Connection a stream serves: one set of stream listeners for all connections (see start()). */
const CONNECTION = Symbol('culex.connection');
type ServedStream = Duplex & { [CONNECTION]?: Connection };

const READ_PAUSED_HOLD = 1;
const READ_PAUSED_RATE = 2;

export class Connection {
  readonly id: number;
  readonly remoteAddress: string | undefined;
  /** The listener that accepted the connection, if the transport said. */
  readonly listener: string | undefined;
  /** The client certificate the transport verified, if any. */
  readonly certificate: PeerCertificate | undefined;
  state: ConnectionState = 'new';
  protocolVersion: ProtocolVersion = 4;
  clientId: string | undefined;
  username: string | undefined;
  identity: string | undefined;
  client: ClientRef | undefined;
  will: WillMessage | undefined;
  keepAlive = 0;
  // What a v5 client told us in CONNECT about itself [MQTT-3.1.2-*]; 3.x clients keep the defaults.
  /** Outgoing QoS 1/2 the client accepts at once (Receive Maximum). */
  clientReceiveMaximum = 65535;
  /** Largest packet the client accepts; 0 = no limit beyond the protocol's. */
  clientMaximumPacketSize = 0;
  /** Topic aliases the client accepts from us. */
  clientTopicAliasMaximum = 0;
  /** Inbound topic aliases (alias -> topic), at most max_topic_alias entries. */
  topicAliasesIn: Map<number, string> | undefined;
  /** Outbound topic aliases we assigned (topic -> alias). */
  topicAliasesOut: Map<string, number> | undefined;

  readonly #ctx: BrokerContext;
  readonly #stream: Duplex;
  readonly #parser: PacketParser;
  readonly #dispatch: DispatchTable;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #flushScheduled = false;
  #lastActivity: number;
  #connectTimer: TimerHandle | undefined;
  #keepaliveTimer: TimerHandle | undefined;
  #slowTimer: TimerHandle | undefined;
  #destroyTimer: TimerHandle | undefined;
  /** Packets that arrived while CONNECT was being authenticated (reading is paused meanwhile). */
  #held: Packet[] | undefined;
  /** Why reading is paused (READ_PAUSED_* bits); the stream reads again only when none is left. */
  #readPauses = 0;
  /** max_publish_rate / max_publish_bytes_rate; undefined when both are off. */
  readonly #rate: PublishRateLimiter | undefined;
  #rateTimer: TimerHandle | undefined;

  constructor(ctx: BrokerContext, stream: Duplex, dispatch: DispatchTable, id: number, meta: ConnectionMeta) {
    this.#ctx = ctx;
    this.#stream = stream;
    this.#dispatch = dispatch;
    this.id = id;
    this.remoteAddress = meta.remoteAddress;
    this.listener = meta.listener;
    this.certificate = meta.certificate;
    this.#lastActivity = ctx.deps.clock.now();
    const { maxPublishRate, maxPublishBytesRate } = ctx.settings;
    this.#rate = maxPublishRate > 0 || maxPublishBytesRate > 0 ? new PublishRateLimiter(maxPublishRate, maxPublishBytesRate, this.#lastActivity) : undefined;
    this.#parser = new PacketParser({
      maxPacketSize: ctx.settings.maxPacketSize,
      onPacket: (packet) => this.#onPacket(packet),
    });
  }

  // Shared by every connection, found through the stream (`this` in a stream listener): five
  // closures per connection would cost about 300 bytes of an idle connection's heap.
  static readonly #onStreamData = function (this: ServedStream, chunk: Buffer): void {
    const conn = this[CONNECTION];
    if (conn !== undefined) conn.#onData(chunk);
  };
  static readonly #onStreamDrain = function (this: ServedStream): void {
    const conn = this[CONNECTION];
    if (conn !== undefined) conn.#onDrain();
  };
  static readonly #onStreamEnd = function (this: ServedStream): void {
    this[CONNECTION]?.close('socket_closed', { sendWill: true });
  };
  static readonly #onStreamClose = function (this: ServedStream): void {
    const conn = this[CONNECTION];
    if (conn !== undefined) conn.#onStreamClosed();
  };
  static readonly #onStreamError = function (this: ServedStream, err: Error): void {
    this[CONNECTION]?.close('socket_error', { sendWill: true, detail: err.message });
  };

  start(): void {
    const stream = this.#stream as ServedStream;
    stream[CONNECTION] = this;
    stream.on('data', Connection.#onStreamData);
    stream.on('drain', Connection.#onStreamDrain);
    stream.on('end', Connection.#onStreamEnd);
    stream.on('close', Connection.#onStreamClose);
    stream.on('error', Connection.#onStreamError);
    const limit = this.#ctx.settings.connectTimeout * 1000;
    // [MQTT-3.1.4-?] a socket that never sends CONNECT must not hold resources forever
    this.#connectTimer = this.#ctx.deps.clock.setTimeout(() => {
      // covers a client that never sends CONNECT and an authenticator that never answers
      if (this.state === 'new' || this.state === 'authenticating') {
        this.close('connect_timeout', { sendWill: false, detail: `not connected within ${limit} ms (state ${this.state})` });
      }
    }, limit);
  }

  /** Encodes and queues a control packet for this tick's write. */
  send(packet: Packet): void {
    this.sendBytes(encodePacket(packet, this.protocolVersion));
  }

  /** Queues already-encoded packet bytes (one whole packet per call, for the counters). */
  sendBytes(bytes: Buffer): void {
    if (this.state === 'closed') return;
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    this.#ctx.stats.packetsSent++;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#ctx.scheduleFlush(this);
    }
  }

  /** Writes everything queued this tick in one write call. */
  flush(): void {
    this.#flushScheduled = false;
    const count = this.#pending.length;
    if (count === 0 || this.#stream.destroyed) return;
    // acks and PUBLISHes leave only once what they confirm is stored (durability.ts); the
    // broker's flush commits first, so this matters for the direct flush of close(): a
    // closing connection whose batch could not be stored drops its bytes (the client resends)
    if (!this.#ctx.durability.commit()) {
      if (this.state === 'closed') this.#pending = [];
      else {
        this.#flushScheduled = true;
        this.#ctx.scheduleFlush(this);
      }
      return;
    }
    const out = count === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#ctx.stats.bytesSent += this.#pendingBytes;
    this.#pendingBytes = 0;
    const accepted = this.#stream.write(out);
    // queued QoS 1/2 may have waited for these bytes to leave; without backpressure the
    // stream will not emit 'drain', so resume here
    if (accepted && this.state === 'connected' && this.client !== undefined && this.client.state.queue.length > 0) {
      drainQueue(this.#ctx, this.client);
    }
  }

  /** Bytes queued here and in the stream that the client has not taken yet. */
  get bufferedBytes(): number {
    return this.#pendingBytes + this.#stream.writableLength;
  }

  /**
   * True while the client is not reading fast enough: its outbound bytes exceed
   * max_outbound_bytes. Starts the slow-consumer clock on the first time.
   */
  isCongested(): boolean {
    if (this.bufferedBytes < this.#ctx.settings.maxOutboundBytes) return false;
    if (this.#slowTimer === undefined && this.state === 'connected') {
      const ms = this.#ctx.settings.slowConsumerTimeout * 1000;
      this.#slowTimer = this.#ctx.deps.clock.setTimeout(() => {
        this.#slowTimer = undefined;
        if (this.bufferedBytes >= this.#ctx.settings.maxOutboundBytes) {
          this.close('slow_consumer', {
            sendWill: true,
            disconnectCode: ReasonCode.QUOTA_EXCEEDED,
            detail: `outbound buffer over ${this.#ctx.settings.maxOutboundBytes} bytes for ${ms} ms`,
          });
        } else if (this.state === 'connected' && this.client !== undefined) {
          drainQueue(this.#ctx, this.client);
        }
      }, ms);
    }
    return true;
  }

  /** Starts keepalive supervision: no packet for 1.5x keepalive closes [MQTT-3.1.2-24]. */
  startKeepalive(seconds: number): void {
    this.keepAlive = seconds;
    if (seconds === 0) return;
    const limit = seconds * 1500;
    const clock = this.#ctx.deps.clock;
    const check = (): void => {
      if (this.state === 'closed') return;
      const idle = clock.now() - this.#lastActivity;
      if (idle >= limit) {
        this.close('keepalive_timeout', {
          sendWill: true,
          disconnectCode: ReasonCode.KEEP_ALIVE_TIMEOUT,
          detail: `no packet for ${idle} ms (keepalive ${seconds} s)`,
        });
      } else {
        this.#keepaliveTimer = clock.setTimeout(check, limit - idle);
      }
    };
    this.#keepaliveTimer = clock.setTimeout(check, limit);
  }

  /** Stops reading while an asynchronous step (authentication) runs; packets are held. */
  hold(): void {
    this.state = 'authenticating';
    this.#pauseReading(READ_PAUSED_HOLD);
  }

  /**
   * Counts a PUBLISH against the client's rate limits; over them, reading stops until the
   * bucket refills (the packets already read are still handled: at most one read chunk more).
   */
  notePublish(bytes: number): void {
    if (this.#rate === undefined || (this.#readPauses & READ_PAUSED_RATE) !== 0) return;
    const clock = this.#ctx.deps.clock;
    const wait = this.#rate.take(bytes, clock.now());
    if (wait === 0) return;
    this.#ctx.stats.publishThrottled++;
    this.#pauseReading(READ_PAUSED_RATE);
    this.#rateTimer = clock.setTimeout(() => {
      this.#rateTimer = undefined;
      this.#resumeReading(READ_PAUSED_RATE);
    }, wait);
  }

  /** True while reading is paused for the publish rate limit (for tests and $SYS). */
  get throttled(): boolean {
    return (this.#readPauses & READ_PAUSED_RATE) !== 0;
  }

  #pauseReading(reason: number): void {
    if (this.#readPauses === 0) this.#stream.pause();
    this.#readPauses |= reason;
  }

  #resumeReading(reason: number): void {
    this.#readPauses &= ~reason;
    if (this.#readPauses === 0 && this.state !== 'closed') this.#stream.resume();
  }

  /** Ends a hold: runs the packets that arrived meanwhile, then reads again. */
  release(): void {
    if (this.state === 'closed') return;
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const packet of held) {
      if (this.state !== 'connected') break;
      this.#run(packet);
    }
    this.#resumeReading(READ_PAUSED_HOLD);
  }

  /** Marks the CONNECT handshake done: cancels the connect timer. */
  markConnected(): void {
    this.state = 'connected';
    this.#connectTimer?.clear();
    this.#connectTimer = undefined;
  }

  /**
   * Ends the connection once: sends a v5 DISCONNECT if asked, flushes, ends the stream
   * and tells the broker (session detach, will, events).
   */
  close(reason: CloseReason, options: CloseOptions): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    this.#clearTimers();
    if (options.disconnectCode !== undefined && this.protocolVersion === 5 && wasConnected) {
      const disconnect = encodeDisconnect(options.disconnectCode, options.detail, this.clientMaximumPacketSize);
      this.#pending.push(disconnect);
      this.#pendingBytes += disconnect.length;
      this.#ctx.stats.packetsSent++;
    }
    this.flush();
    this.#pending = [];
    this.#pendingBytes = 0;
    if (!this.#stream.destroyed) {
      this.#stream.end();
      // a peer that never reads would keep the socket half-open: force it shut
      this.#destroyTimer = this.#ctx.deps.clock.setTimeout(() => this.#stream.destroy(), 1000);
    }
    this.#ctx.connectionClosed(this, reason, options.sendWill && wasConnected, wasConnected, options.detail);
  }

  /** Turns a thrown error into the right close: CONNACK code, v5 DISCONNECT, or a closed socket. */
  fail(err: unknown): void {
    if (this.state === 'closed') return;
    if (err instanceof MqttProtocolError) {
      if (this.state === 'new' && err.code === 'UNSUPPORTED_PROTOCOL_VERSION') {
        this.#refuseProtocolVersion(err);
      }
      this.close(PROTOCOL_CLOSE[err.code], { sendWill: true, disconnectCode: err.reasonCode, detail: err.message });
    } else if (err instanceof BrokerError) {
      this.close(err.closeReason, { sendWill: true, disconnectCode: err.reasonCode, detail: err.message });
    } else {
      // a bug of ours: keep the process and the other clients alive, say so loudly
      this.#ctx.deps.logger.error({ err, clientId: this.clientId }, 'internal error while handling a packet');
      this.close('protocol_error', {
        sendWill: true,
        disconnectCode: ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR,
        detail: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** [MQTT-3.1.2-2] answer an unknown protocol level with CONNACK 0x01 (v5: 0x84), then close. */
  #refuseProtocolVersion(err: MqttProtocolError): void {
    const level = err.protocolLevel;
    if (level === 5) {
      this.sendBytes(encodePacket({ type: PacketType.CONNACK, sessionPresent: false, reasonCode: ReasonCode.UNSUPPORTED_PROTOCOL_VERSION }, 5));
    } else {
      this.sendBytes(encodePacket({ type: PacketType.CONNACK, sessionPresent: false, reasonCode: 0x01 }, 4));
    }
  }

  #onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    const stats = this.#ctx.stats;
    stats.bytesReceived += chunk.length;
    const packetsBefore = stats.packetsReceived;
    try {
      this.#parser.push(chunk);
    } catch (err) {
      this.fail(err);
    }
    // keepalive counts Control Packets, not bytes [MQTT-3.1.2-24]: a client dribbling a
    // packet that never completes must still time out. (One clock read per chunk, not per packet.)
    if (stats.packetsReceived !== packetsBefore) this.#lastActivity = this.#ctx.deps.clock.now();
  }

  #onPacket(packet: Packet): void {
    this.#ctx.stats.packetsReceived++;
    if (this.state === 'authenticating') {
      (this.#held ??= []).push(packet);
      return;
    }
    if (this.state === 'closed') return;
    if (this.state === 'new' && packet.type !== PacketType.CONNECT && packet.type !== PacketType.AUTH && packet.type !== PacketType.DISCONNECT) {
      // after CONNECT and before CONNACK (an enhanced-authentication exchange) only AUTH
      // and DISCONNECT may come [MQTT-3.1.2-30]; the parser already insists on CONNECT first
      throw new BrokerError('PROTOCOL_ERROR', `packet type ${packet.type} before CONNACK`);
    }
    if (packet.type === PacketType.CONNECT) {
      const level = this.#parser.protocolVersion;
      if (level !== undefined) this.protocolVersion = level;
    }
    const handler = this.#dispatch[packet.type];
    if (handler === undefined) {
      throw new BrokerError('PROTOCOL_ERROR', `a client may not send packet type ${packet.type}`);
    }
    handler(this.#ctx, this, packet);
  }

  /** Runs a held packet outside the parser's call stack, so errors are handled here. */
  #run(packet: Packet): void {
    try {
      this.#onPacket(packet);
    } catch (err) {
      this.fail(err);
    }
  }

  #onDrain(): void {
    if (this.#slowTimer !== undefined && this.bufferedBytes < this.#ctx.settings.maxOutboundBytes) {
      this.#slowTimer.clear();
      this.#slowTimer = undefined;
    }
    if (this.state === 'connected' && this.client !== undefined) drainQueue(this.#ctx, this.client);
  }

  #onStreamClosed(): void {
    this.#destroyTimer?.clear();
    this.#destroyTimer = undefined;
    this.close('socket_closed', { sendWill: true });
  }

  #clearTimers(): void {
    this.#connectTimer?.clear();
    this.#keepaliveTimer?.clear();
    this.#slowTimer?.clear();
    this.#rateTimer?.clear();
    this.#connectTimer = this.#keepaliveTimer = this.#slowTimer = this.#rateTimer = undefined;
  }
}

/**
 * A server DISCONNECT, with the reason as a Reason String when it fits the client's
 * Maximum Packet Size [MQTT-3.14.2-3]. A code DISCONNECT cannot carry becomes 0x80 rather
 * than an exception.
 */
function encodeDisconnect(reasonCode: number, detail: string | undefined, maxPacketSize: number): Buffer {
  const properties = detail === undefined ? undefined : { reasonString: reasonStringOf(detail) };
  let bytes: Buffer;
  try {
    bytes = encodePacket({ type: PacketType.DISCONNECT, reasonCode, ...(properties ? { properties } : {}) }, 5);
  } catch {
    return encodePacket({ type: PacketType.DISCONNECT, reasonCode: ReasonCode.UNSPECIFIED_ERROR }, 5);
  }
  if (maxPacketSize > 0 && bytes.length > maxPacketSize) return encodePacket({ type: PacketType.DISCONNECT, reasonCode }, 5);
  return bytes;
}

/** Reason strings are for humans reading logs: keep them short and free of U+0000. */
export function reasonStringOf(detail: string): string {
  const clean = detail.split('\u0000').join('');
  return clean.length > 200 ? `${clean.slice(0, 197)}...` : clean;
}
