// MQTT 5 enhanced authentication (4.12, 3.15): the AUTH exchange that follows a CONNECT
// carrying an Authentication Method, and re-authentication (AUTH 0x19) of a connected
// client. Methods are pluggable (ports.ts AuthMethod, from BrokerDeps.authMethods).
// Per-connection state lives in a WeakMap owned by one EnhancedAuth per broker (created
// with the dispatch table), so nothing hangs on the connection or the module.
import { ReasonCode } from '../protocol/reason-codes.js';
import { PacketType, type ConnectPacket, type Properties } from '../protocol/types.js';
import type { BrokerContext } from './context.js';
import type { Connection } from './connection.js';
import { BrokerError, type CloseReason } from './errors.js';
import type { AuthMethod, AuthSession, AuthStep } from './ports.js';

/** What the CONNECT handler gets when the exchange succeeds; it then sends CONNACK 0x00. */
export interface EnhancedAuthSuccess {
  /** The Authentication Method: the CONNACK must carry it. */
  method: string;
  /** Final Authentication Data for the CONNACK (e.g. SCRAM's server-final message). */
  data: Buffer | undefined;
  /** Identity for authorization; undefined means "the CONNECT user name". */
  identity: string | undefined;
}

/** CONNACK codes a method may refuse with, and the close reason each records; others become 0x87. */
const CONNACK_REFUSALS: ReadonlyMap<number, CloseReason> = new Map<number, CloseReason>([
  [ReasonCode.UNSPECIFIED_ERROR, 'not_authorized'],
  [ReasonCode.BAD_USER_NAME_OR_PASSWORD, 'bad_credentials'],
  [ReasonCode.NOT_AUTHORIZED, 'not_authorized'],
  [ReasonCode.SERVER_UNAVAILABLE, 'server_unavailable'],
  [ReasonCode.SERVER_BUSY, 'server_unavailable'],
  [ReasonCode.BANNED, 'not_authorized'],
  [ReasonCode.BAD_AUTHENTICATION_METHOD, 'bad_authentication_method'],
]);

interface AuthState {
  /** The method of the CONNECT; re-authentication must use the same [MQTT-4.12.1-1]. */
  readonly method: AuthMethod;
  /** The exchange under way, if any. */
  phase: 'connect' | 'reauth' | 'idle';
  session: AuthSession | undefined;
  /** We sent AUTH 0x18: the client's AUTH 0x18 may come now (and only now). */
  awaitingClient: boolean;
  /** Bumped on every step, so the late answer of an abandoned asynchronous step is dropped. */
  ticket: number;
  onSuccess: ((result: EnhancedAuthSuccess) => void) | undefined;
}

export class EnhancedAuth {
  readonly #states = new WeakMap<Connection, AuthState>();

  /**
   * Runs the exchange of a CONNECT whose Authentication Method is set. On success calls
   * `onSuccess` (possibly later, asynchronously); on failure it has already answered with
   * CONNACK 0x8C (unknown method [MQTT-4.12.0-1]), 0x86/0x87 (refused [MQTT-4.12.0-4]) or
   * 0x88 (the method failed) and closed the connection, and `onSuccess` is never called.
   * The connection stays in state 'new' meanwhile: the connect timeout covers the exchange,
   * and only AUTH and DISCONNECT may arrive [MQTT-3.1.2-30].
   */
  begin(ctx: BrokerContext, conn: Connection, connect: ConnectPacket, onSuccess: (result: EnhancedAuthSuccess) => void): void {
    const name = connect.properties?.authenticationMethod ?? '';
    const method = ctx.deps.authMethods?.find((m) => m.name === name);
    if (method === undefined) {
      refuse(ctx, conn, ReasonCode.BAD_AUTHENTICATION_METHOD, `unsupported authentication method "${name}"`);
      return;
    }
    const state: AuthState = { method, phase: 'connect', session: undefined, awaitingClient: false, ticket: 0, onSuccess };
    this.#states.set(conn, state);
    this.#start(ctx, conn, state, connect.properties?.authenticationData);
  }

  /** The Authentication Method a connection authenticated (or is authenticating) with. */
  methodOf(conn: Connection): string | undefined {
    return this.#states.get(conn)?.method.name;
  }

  /** A client AUTH 0x18 (method already checked): the next step of the exchange under way. */
  continueExchange(ctx: BrokerContext, conn: Connection, data: Buffer | undefined): void {
    const state = this.#states.get(conn);
    if (state === undefined || state.phase === 'idle' || !state.awaitingClient) {
      // [MQTT-4.12.0-3] the client answers the server's AUTH 0x18, never unprompted
      throw new BrokerError('PROTOCOL_ERROR', 'AUTH 0x18 while the server is not waiting for one');
    }
    state.awaitingClient = false;
    this.#step(ctx, conn, state, data);
  }

  /** A client AUTH 0x19 (method already checked, client connected): a new exchange [MQTT-4.12.1-1]. */
  reauthenticate(ctx: BrokerContext, conn: Connection, data: Buffer | undefined): void {
    const state = this.#states.get(conn);
    if (state === undefined) throw new BrokerError('PROTOCOL_ERROR', 'AUTH 0x19 without enhanced authentication');
    if (state.phase !== 'idle') throw new BrokerError('PROTOCOL_ERROR', 'AUTH 0x19 while an authentication exchange is under way');
    state.phase = 'reauth';
    state.awaitingClient = false;
    this.#start(ctx, conn, state, data);
  }

  #start(ctx: BrokerContext, conn: Connection, state: AuthState, data: Buffer | undefined): void {
    try {
      state.session = state.method.start({
        clientId: conn.clientId ?? '',
        username: conn.username,
        remoteAddress: conn.remoteAddress,
        reauth: state.phase === 'reauth',
      });
    } catch (err) {
      this.#internalError(ctx, conn, state, err);
      return;
    }
    this.#step(ctx, conn, state, data);
  }

  #step(ctx: BrokerContext, conn: Connection, state: AuthState, data: Buffer | undefined): void {
    const session = state.session;
    if (session === undefined) throw new BrokerError('PROTOCOL_ERROR', 'no authentication exchange under way');
    const ticket = ++state.ticket;
    let result: AuthStep | Promise<AuthStep>;
    try {
      // the packet's buffer points into the read chunk: the method gets its own copy
      result = session.step(data === undefined ? undefined : Buffer.from(data));
    } catch (err) {
      this.#internalError(ctx, conn, state, err);
      return;
    }
    if (!(result instanceof Promise)) {
      this.#apply(ctx, conn, state, result);
      return;
    }
    result.then(
      (step) => {
        if (!this.#isCurrent(conn, state, ticket)) return;
        try {
          this.#apply(ctx, conn, state, step);
        } catch (err) {
          conn.fail(err);
        }
      },
      (err: unknown) => {
        if (this.#isCurrent(conn, state, ticket)) this.#internalError(ctx, conn, state, err);
      },
    );
  }

  #isCurrent(conn: Connection, state: AuthState, ticket: number): boolean {
    return conn.state !== 'closed' && this.#states.get(conn) === state && state.ticket === ticket;
  }

  #apply(ctx: BrokerContext, conn: Connection, state: AuthState, step: AuthStep): void {
    const method = state.method.name;
    if (step.kind === 'continue') {
      // [MQTT-4.12.0-2] the server asks for more with AUTH 0x18, in the client's method [MQTT-4.12.0-5]
      state.awaitingClient = true;
      conn.send({ type: PacketType.AUTH, reasonCode: ReasonCode.CONTINUE_AUTHENTICATION, properties: authProperties(method, step.data) });
      return;
    }
    if (step.kind === 'failure') {
      this.#failed(ctx, conn, state, step.reasonCode ?? ReasonCode.NOT_AUTHORIZED, `${method} authentication failed`);
      return;
    }
    const phase = state.phase;
    state.phase = 'idle';
    state.session = undefined;
    if (phase === 'connect') {
      const onSuccess = state.onSuccess;
      state.onSuccess = undefined;
      onSuccess?.({ method, data: step.data, identity: step.identity });
      return;
    }
    // a re-authentication proves the same identity again; it cannot switch users
    const identity = step.identity ?? conn.username;
    if (identity !== conn.identity) {
      this.#failed(ctx, conn, state, ReasonCode.NOT_AUTHORIZED, `re-authentication as another identity (${String(identity)})`);
      return;
    }
    conn.send({ type: PacketType.AUTH, reasonCode: ReasonCode.SUCCESS, properties: authProperties(method, step.data) });
    ctx.deps.logger.debug({ clientId: conn.clientId, method }, 're-authenticated');
  }

  #failed(ctx: BrokerContext, conn: Connection, state: AuthState, reasonCode: number, detail: string): void {
    const phase = state.phase;
    state.phase = 'idle';
    state.session = undefined;
    if (phase === 'connect') {
      this.#states.delete(conn);
      refuse(ctx, conn, reasonCode, detail);
    } else {
      // [MQTT-4.12.1-2] a failed re-authentication: DISCONNECT 0x87 and close
      ctx.deps.logger.info({ clientId: conn.clientId, remoteAddress: conn.remoteAddress, detail }, 're-authentication failed');
      conn.fail(new BrokerError('NOT_AUTHORIZED', detail));
    }
  }

  #internalError(ctx: BrokerContext, conn: Connection, state: AuthState, err: unknown): void {
    ctx.deps.logger.error({ err, clientId: conn.clientId, method: state.method.name }, 'authentication method failed');
    this.#failed(ctx, conn, state, ReasonCode.SERVER_UNAVAILABLE, `authentication method ${state.method.name} failed`);
  }
}

function authProperties(method: string, data: Buffer | undefined): Properties {
  return data === undefined ? { authenticationMethod: method } : { authenticationMethod: method, authenticationData: data };
}

/** Refuses a CONNECT with a 5.0 CONNACK reason code [MQTT-4.12.0-1/4], then closes. */
function refuse(ctx: BrokerContext, conn: Connection, code: number, detail: string): void {
  const reason = CONNACK_REFUSALS.get(code);
  const reasonCode = reason === undefined ? ReasonCode.NOT_AUTHORIZED : code;
  conn.send({ type: PacketType.CONNACK, sessionPresent: false, reasonCode });
  conn.close(reason ?? 'not_authorized', { sendWill: false, detail });
  ctx.deps.logger.info({ clientId: conn.clientId, remoteAddress: conn.remoteAddress, reasonCode, detail }, 'connection refused');
}
