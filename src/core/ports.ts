// The interfaces the broker core needs from the outside world. Core depends only on
// these; adapters/ implement them and app/ wires the concrete ones in.
import type { Properties, ProtocolVersion, QoS } from '../protocol/types.js';
import type { Message } from './message.js';
import type { SessionState, SubscriptionOptions } from './session-state.js';

/** Time and timers, injectable so keepalive and expiry can be tested with a fake clock. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  setInterval(fn: () => void, ms: number): TimerHandle;
}

export interface TimerHandle {
  clear(): void;
}

/** Event-loop delay over one sampling period, in milliseconds. */
export interface LoopLag {
  p50: number;
  p99: number;
  max: number;
}

/** What the process itself costs, for $SYS (mosquitto's heap topics, plus event-loop lag). */
export interface RuntimeStats {
  /** Bytes of (V8) heap in use now. */
  heapUsed(): number;
  /** The event-loop delay since the previous call (or since start), then starts a new period. */
  takeLoopLag(): LoopLag;
  /** Stops sampling. */
  close(): void;
}

/** A pino-compatible subset: structured fields first, message second. */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/**
 * Where sessions live between connections. The broker mutates the SessionState it gets
 * back; the in-memory adapter simply keeps those objects. (Durable adapters arrive with
 * the durable-state issue and will record those mutations.)
 */
export interface SessionStore {
  get(clientId: string): SessionState | undefined;
  set(state: SessionState): void;
  delete(clientId: string): void;
  /** Every stored session, used to rebuild the subscription index at startup. */
  all(): Iterable<SessionState>;
  readonly size: number;
}

/** Retained messages by exact topic. */
export interface RetainedStore {
  /** Stores `message` as the retained message of its topic (replacing any). */
  set(message: Message): void;
  delete(topic: string): void;
  get(topic: string): Message | undefined;
  /** Visits every retained message whose topic matches `filter` (the `$` rule applies). */
  match(filter: string, visit: (message: Message) => void): void;
  readonly size: number;
}

/** The verified client certificate of a TLS connection (what authentication may use). */
export interface PeerCertificate {
  /** The subject's Common Name (mosquitto's use_identity_as_username uses it). */
  commonName: string | undefined;
  /** The whole subject as one string, e.g. "CN=dev1,O=Acme". */
  subject: string;
  fingerprint256: string;
}

/** What a transport knows about a connection before any MQTT byte is read. */
export interface ConnectionMeta {
  /** The peer's address (after a PROXY protocol header, the original client's). */
  remoteAddress?: string | undefined;
  /** The name of the listener that accepted it (e.g. "tls:8883"), for logs and limits. */
  listener?: string | undefined;
  /** Set when the transport verified a client certificate. */
  certificate?: PeerCertificate | undefined;
}

/** What a client presented in CONNECT, for the authenticator. */
export interface ConnectInfo {
  clientId: string;
  username: string | undefined;
  password: Buffer | undefined;
  protocolVersion: ProtocolVersion;
  remoteAddress: string | undefined;
  properties: Properties | undefined;
  listener: string | undefined;
  certificate: PeerCertificate | undefined;
}

export type AuthResult =
  | { ok: true; /** Identity that authorization sees; defaults to the username. */ identity?: string }
  | {
      ok: false;
      /** 3.1.1 CONNACK return code (4 bad user name or password, 5 not authorized); v5 clients get 0x86 / 0x87. */
      returnCode: 4 | 5;
      /** Why, for the log only (never sent to the client). */
      reason?: string;
    };

export interface Authenticator {
  authenticate(info: ConnectInfo): AuthResult | Promise<AuthResult>;
}

/**
 * An MQTT 5 enhanced authentication method (4.12), chosen by the client through the
 * CONNECT Authentication Method property. The broker runs one AuthSession per exchange:
 * one for CONNECT and one for each re-authentication (AUTH 0x19).
 */
export interface AuthMethod {
  /** The Authentication Method string, e.g. "SCRAM-SHA-256" (compared exactly). */
  readonly name: string;
  start(ctx: AuthStartContext): AuthSession;
}

export interface AuthStartContext {
  clientId: string;
  /** The CONNECT User Name, if any (a method may require its own identity to match it). */
  username: string | undefined;
  remoteAddress: string | undefined;
  /** True for a re-authentication of a connected client (AUTH 0x19). */
  reauth: boolean;
}

export interface AuthSession {
  /**
   * Called first with the Authentication Data of the CONNECT (or of the AUTH 0x19), then
   * with that of each client AUTH 0x18, until it returns success or failure. The buffer is
   * the session's own copy. Must not throw for bad client input: answer `failure` instead
   * (a throw or rejection is treated as an internal failure and logged).
   */
  step(data: Buffer | undefined): AuthStep | Promise<AuthStep>;
}

export type AuthStep =
  /** Send AUTH 0x18 with `data` and wait for the client's next AUTH 0x18. */
  | { kind: 'continue'; data?: Buffer }
  /** Authenticated: `data` goes in the CONNACK (or AUTH 0x00); `identity` is what authorization sees. */
  | { kind: 'success'; data?: Buffer; identity?: string }
  /** Refused: CONNACK with `reasonCode` (0x86 or 0x87 usually; default 0x87). A failed re-authentication always gets DISCONNECT 0x87. */
  | { kind: 'failure'; reasonCode?: number };

/** The identity of a connected client, as authorization sees it. */
export interface ClientIdentity {
  clientId: string;
  username: string | undefined;
  identity: string | undefined;
}

/**
 * An authorization decision. 'deny' refuses the one PUBLISH or subscription (3.x: dropped /
 * SUBACK 0x80; v5: 0x87); 'disconnect' also ends the connection (v5: DISCONNECT 0x87), the
 * Gooee topic-table behaviour. Compared explicitly: every string is truthy.
 */
export type AuthzVerdict = 'allow' | 'deny' | 'disconnect';

export interface Authorizer {
  /** Called for every PUBLISH on the hot path: must be synchronous and cheap. */
  canPublish(client: ClientIdentity, topic: string, qos: QoS, retain: boolean): AuthzVerdict;
  canSubscribe(client: ClientIdentity, topicFilter: string, qos: QoS): AuthzVerdict;
  /**
   * Optional: may this client receive a message on `topic`? Checked for every delivery, only
   * when present (mosquitto checks `read` ACLs per message, so a subscription to `#` does not
   * leak topics the client may not read). Must be synchronous and cheap.
   */
  canRead?(client: ClientIdentity, topic: string): boolean;
}

/** A session as the durable store keeps it (without its messages). */
export interface SessionRecord {
  clientId: string;
  /** Seconds; see SessionState.expiryInterval. */
  expiryInterval: number;
  owner: ClientIdentity | undefined;
  /** Clock time (ms) the session went offline; undefined while it has a connection. */
  disconnectedAt: number | undefined;
}

/** One message on its way to one stored session: queued (packetId 0) or in flight. */
export interface DeliveryRecord {
  /** Order within the session: the queue, and the resend order of what is in flight. */
  seq: number;
  /** The stored message (DurableStore.saveMessage) it carries. */
  messageId: number;
  qos: QoS;
  retain: boolean;
  subscriptionIdentifiers: number[] | undefined;
  shareGroup: string | undefined;
  /** 0 while queued. */
  packetId: number;
  stage: 'publish' | 'pubrel';
}

/** A will kept across restarts: of a live connection (fireAt undefined) or delayed. */
export interface WillRecord {
  clientId: string;
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** The will's properties as sent in CONNECT (Will Delay Interval included). */
  properties: Properties | undefined;
  /** Clock time (ms) a delayed will is due; undefined while its connection is up. */
  fireAt: number | undefined;
}

/** Everything a durable store holds, read once when the broker starts. */
export interface DurableSnapshot {
  sessions: {
    record: SessionRecord;
    subscriptions: [filter: string, options: SubscriptionOptions][];
    /** In seq order; each carries its message (one Message object per stored message). */
    deliveries: { record: DeliveryRecord; message: Message }[];
    incomingQos2: number[];
  }[];
  retained: Message[];
  wills: WillRecord[];
  /** Highest stored message id (new ids continue above it). */
  maxMessageId: number;
  /** The last time (ms) the broker said it was alive (markAlive); undefined on a new store. */
  lastAlive: number | undefined;
}

/**
 * Where sessions, retained messages and wills survive a restart. The broker calls the
 * write methods as its state changes and commit() before any packet that depends on them
 * leaves (a PUBACK, PUBREC, SUBACK or CONNACK): so what a client was told is stored, is.
 * Writes between two commits form one batch (one transaction). Only sessions that outlive
 * their connection (expiry interval > 0) are written. Methods must not throw for a missing
 * row (a delete of something already gone is a no-op).
 */
export interface DurableStore {
  load(): DurableSnapshot;
  saveSession(record: SessionRecord): void;
  /** Deletes the session with its subscriptions, deliveries and incoming QoS 2 ids. */
  deleteSession(clientId: string): void;
  saveSubscription(clientId: string, filter: string, options: SubscriptionOptions): void;
  deleteSubscription(clientId: string, filter: string): void;
  saveMessage(id: number, message: Message): void;
  deleteMessage(id: number): void;
  saveDelivery(clientId: string, record: DeliveryRecord): void;
  updateDelivery(clientId: string, seq: number, packetId: number, stage: 'publish' | 'pubrel'): void;
  deleteDelivery(clientId: string, seq: number): void;
  saveIncomingQos2(clientId: string, packetId: number): void;
  deleteIncomingQos2(clientId: string, packetId: number): void;
  saveRetained(message: Message): void;
  deleteRetained(topic: string): void;
  saveWill(record: WillRecord): void;
  deleteWill(clientId: string): void;
  /** Records that the broker is alive at `now` (so a restart knows when a crash happened). */
  markAlive(now: number): void;
  /** Makes every write since the last commit durable; throws if it cannot. */
  commit(): void;
  /**
   * Optional: write this session whole, replacing any copy (a cluster's session mirror, after
   * the node joined or Redis came back). Message ids are this store's own.
   */
  rewriteSession?(session: TransferredSession): void;
}

/** A session handed from one node to another (takeover across a cluster). */
export type TransferredSession = DurableSnapshot['sessions'][number];

/**
 * The transport between the nodes of a cluster (adapters/redis). The core decides what
 * goes where (core/cluster.ts); the link carries it and keeps the shared registries (live
 * nodes, each node's routes, retained messages, which node holds which session).
 */
export interface ClusterLink {
  readonly nodeId: string;
  /** Connects and keeps reconnecting; calls `handlers` from then on. Does not wait for the first connection. */
  start(handlers: ClusterHandlers): void;
  routeAdded(filter: string): void;
  routeRemoved(filter: string): void;
  /** Sends a message to `node`, for its plain subscribers (`plain`) and the share groups named. */
  forward(node: string, message: Message, plain: boolean, groups: readonly string[]): void;
  retained(message: Message): void;
  unretained(topic: string): void;
  /**
   * Writes what forward() collected this turn. The broker calls it before it writes to any
   * client, so a message leaves for the other nodes before its PUBACK leaves for its publisher.
   */
  flush(): void;
  /**
   * A client connects here: records this node as its session's holder and, when another
   * live node held it, has that node close the client's connection there and hand the
   * session over. Resolves undefined when there was nothing to take (or on timeout).
   */
  claimSession(clientId: string): Promise<TransferredSession | undefined>;
  /** The session ended here (or moved away): drop the registry entry if it still names this node. */
  sessionEnded(clientId: string): void;
  /** The session's client went offline; its registry entry may go after `seconds` (the session's expiry). */
  sessionOffline(clientId: string, seconds: number): void;
  /** Live nodes, this one included (for $SYS). */
  members(): readonly string[];
  close(): Promise<void>;
}

export interface ClusterHandlers {
  routeAdded(node: string, filter: string): void;
  routeRemoved(node: string, filter: string): void;
  /** A node left (or its routes are about to be reloaded): forget all its routes. */
  nodeGone(node: string): void;
  message(message: Message, plain: boolean, groups: readonly string[]): void;
  retained(message: Message): void;
  unretained(topic: string): void;
  /** A session this node keeps after (re)joining: the registry names it (or nobody live) as holder. */
  sessionKept(clientId: string): void;
  /** Another node takes a client over: close it here and hand its session over (undefined: none to hand). */
  takeover(clientId: string): TransferredSession | undefined;
  /** The filters this node announces, and its retained messages and session ids (re-sent after a reconnect). */
  localRoutes(): Iterable<string>;
  localRetained(): Iterable<Message>;
  localSessions(): Iterable<string>;
  /** A restored session another live node now holds: drop it here. */
  dropSession(clientId: string): void;
}
