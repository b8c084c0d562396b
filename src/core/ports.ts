// The interfaces the broker core needs from the outside world. Core depends only on
// these; adapters/ implement them and app/ wires the concrete ones in.
import type { Properties, ProtocolVersion, QoS } from '../protocol/types.js';
import type { Message } from './message.js';
import type { SessionState } from './session-state.js';

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

/** What a client presented in CONNECT, for the authenticator. */
export interface ConnectInfo {
  clientId: string;
  username: string | undefined;
  password: Buffer | undefined;
  protocolVersion: ProtocolVersion;
  remoteAddress: string | undefined;
  properties: Properties | undefined;
}

export type AuthResult =
  | { ok: true; /** Identity that authorization sees; defaults to the username. */ identity?: string }
  | { ok: false; /** 3.1.1 CONNACK return code; v5 clients get the matching 0x8x code. */ returnCode: 4 | 5 };

export interface Authenticator {
  authenticate(info: ConnectInfo): AuthResult | Promise<AuthResult>;
}

/** The identity of a connected client, as authorization sees it. */
export interface ClientIdentity {
  clientId: string;
  username: string | undefined;
  identity: string | undefined;
}

export interface Authorizer {
  /** Called for every PUBLISH on the hot path: must be synchronous and cheap. */
  canPublish(client: ClientIdentity, topic: string, qos: QoS, retain: boolean): boolean;
  canSubscribe(client: ClientIdentity, topicFilter: string, qos: QoS): boolean;
}
