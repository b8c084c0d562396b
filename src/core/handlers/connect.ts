// CONNECT: client id rules, keepalive, authentication, session takeover and
// resumption, then CONNACK [MQTT-3.1, MQTT-3.2].
import { randomBytes } from 'node:crypto';
import { ConnackReturnCode, ReasonCode } from '../../protocol/reason-codes.js';
import { PacketType, type ConnectPacket, type Packet, type Properties } from '../../protocol/types.js';
import { validateTopicName } from '../../topic/index.js';
import { createClientRef, type BrokerContext, type ClientRef } from '../context.js';
import { reasonStringOf, type Connection } from '../connection.js';
import type { EnhancedAuth } from '../enhanced-auth.js';
import type { CloseReason } from '../errors.js';
import { BrokerError } from '../errors.js';
import type { AuthResult } from '../ports.js';
import { resumeSession } from '../delivery.js';
import { ownBinaryProperties } from '../message.js';
import { NEVER_EXPIRES, createSessionState } from '../session-state.js';
import { clientInfo } from './client-info.js';

/** 3.1.1 CONNACK return code -> the matching 5.0 reason code. */
const V5_REFUSAL: Record<number, number> = {
  [ConnackReturnCode.UNACCEPTABLE_PROTOCOL_VERSION]: ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
  [ConnackReturnCode.IDENTIFIER_REJECTED]: ReasonCode.CLIENT_IDENTIFIER_NOT_VALID,
  [ConnackReturnCode.SERVER_UNAVAILABLE]: ReasonCode.SERVER_UNAVAILABLE,
  [ConnackReturnCode.BAD_USERNAME_OR_PASSWORD]: ReasonCode.BAD_USER_NAME_OR_PASSWORD,
  [ConnackReturnCode.NOT_AUTHORIZED]: ReasonCode.NOT_AUTHORIZED,
};

const REFUSAL_REASON: Record<number, CloseReason> = {
  [ConnackReturnCode.IDENTIFIER_REJECTED]: 'client_id_rejected',
  [ConnackReturnCode.SERVER_UNAVAILABLE]: 'server_unavailable',
  [ConnackReturnCode.BAD_USERNAME_OR_PASSWORD]: 'bad_credentials',
  [ConnackReturnCode.NOT_AUTHORIZED]: 'not_authorized',
};

/** MQTT 3.1 limits client ids to 23 characters (3.1 spec, CONNECT payload). */
const V31_MAX_CLIENT_ID = 23;

export function handleConnect(ctx: BrokerContext, conn: Connection, packet: Packet, auth: EnhancedAuth): void {
  const connect = packet as ConnectPacket;
  if (conn.state !== 'new') {
    // a second CONNECT is a protocol violation [MQTT-3.1.0-2]
    throw new BrokerError('PROTOCOL_ERROR', 'second CONNECT on one connection');
  }
  const v5 = connect.protocolVersion === 5;
  const connackProps: Properties = {};

  let clientId = connect.clientId;
  if (clientId === '') {
    // [MQTT-3.1.3-7/8]: an empty id needs a clean session (3.1.1) and our permission
    const allowed = ctx.settings.allowZeroLengthClientId && connect.protocolVersion !== 3 && (v5 || connect.cleanStart);
    if (!allowed) return refuse(ctx, conn, ConnackReturnCode.IDENTIFIER_REJECTED, 'empty client id not allowed');
    clientId = ctx.settings.autoIdPrefix + randomBytes(12).toString('hex');
    if (v5) connackProps.assignedClientIdentifier = clientId;
  } else if (connect.protocolVersion === 3 && clientId.length > V31_MAX_CLIENT_ID) {
    return refuse(ctx, conn, ConnackReturnCode.IDENTIFIER_REJECTED, 'MQTT 3.1 client id longer than 23 characters');
  }

  let keepAlive = connect.keepAlive;
  if (keepAlive > ctx.settings.maxKeepalive) {
    // v5 lets the server impose its keepalive; 3.x cannot, so mosquitto refuses, and so do we
    if (!v5) return refuse(ctx, conn, ConnackReturnCode.IDENTIFIER_REJECTED, `keepalive ${keepAlive} > max_keepalive`);
    keepAlive = ctx.settings.maxKeepalive;
    connackProps.serverKeepAlive = keepAlive;
  }

  if (connect.will !== undefined) {
    const invalid = validateTopicName(connect.will.topic);
    if (invalid !== undefined) throw new BrokerError('TOPIC_NAME_INVALID', `will topic: ${invalid.message}`);
    // a will must respect what this server supports [MQTT-3.2.2-12/13]
    if (connect.will.qos > ctx.settings.maxQos) {
      return refuse(ctx, conn, ConnackReturnCode.NOT_AUTHORIZED, `will QoS ${connect.will.qos} above max_qos`, ReasonCode.QOS_NOT_SUPPORTED);
    }
    if (connect.will.retain && !ctx.settings.retainAvailable) {
      return refuse(ctx, conn, ConnackReturnCode.NOT_AUTHORIZED, 'retained will while retain_available is false', ReasonCode.RETAIN_NOT_SUPPORTED);
    }
  }

  conn.clientId = clientId;
  conn.username = connect.username;
  if (connect.properties?.authenticationMethod !== undefined) {
    // enhanced authentication [MQTT-4.12]: the AUTH exchange replaces the authenticator;
    // failures are answered (CONNACK 0x8C/0x86/0x87/0x88) and closed by EnhancedAuth
    auth.begin(ctx, conn, connect, (r) => {
      connackProps.authenticationMethod = r.method;
      if (r.data !== undefined) connackProps.authenticationData = r.data;
      accept(ctx, conn, connect, clientId, keepAlive, connackProps, { ok: true, identity: r.identity });
    });
    return;
  }
  const result = ctx.deps.authenticator.authenticate({
    clientId,
    username: connect.username,
    password: connect.password,
    protocolVersion: connect.protocolVersion,
    remoteAddress: conn.remoteAddress,
    properties: connect.properties,
    listener: conn.listener,
    certificate: conn.certificate,
  });
  if (result instanceof Promise) {
    conn.hold();
    result.then(
      (r) => {
        if (conn.state === 'closed') return;
        conn.state = 'new';
        if (accept(ctx, conn, connect, clientId, keepAlive, connackProps, r)) conn.release();
      },
      (err: unknown) => {
        ctx.deps.logger.error({ err, clientId }, 'authenticator failed');
        conn.state = 'new';
        refuse(ctx, conn, ConnackReturnCode.SERVER_UNAVAILABLE, 'authenticator failed');
      },
    );
    return;
  }
  accept(ctx, conn, connect, clientId, keepAlive, connackProps, result);
}

function accept(
  ctx: BrokerContext,
  conn: Connection,
  connect: ConnectPacket,
  clientId: string,
  keepAlive: number,
  connackProps: Properties,
  auth: AuthResult,
): boolean {
  if (!auth.ok) {
    const detail = auth.returnCode === 4 ? 'bad user name or password' : 'not authorized';
    // the authenticator's reason is for the log only: telling a client "token revoked" rather
    // than "unknown" would confirm to a guesser that the token was real
    refuse(ctx, conn, auth.returnCode, detail, undefined, auth.reason === undefined ? detail : `${detail}: ${auth.reason}`);
    return false;
  }
  conn.identity = auth.identity ?? connect.username;
  const cluster = ctx.cluster;
  if (cluster === undefined) return settle(ctx, conn, connect, clientId, keepAlive, connackProps);
  // in a cluster, another node may hold the session (or the live connection): it closes
  // the connection there and hands the session over before this one goes on [MQTT-3.1.4-2]
  conn.hold();
  cluster.link.claimSession(clientId).then(
    (session) => {
      if (session !== undefined) ctx.adoptSession(session);
      if (conn.state === 'closed') return;
      conn.state = 'new';
      if (settle(ctx, conn, connect, clientId, keepAlive, connackProps)) conn.release();
    },
    (err: unknown) => {
      ctx.deps.logger.error({ err, clientId }, 'cluster session claim failed');
      if (conn.state === 'closed') return;
      conn.state = 'new';
      if (settle(ctx, conn, connect, clientId, keepAlive, connackProps)) conn.release();
    },
  );
  return false;
}

/** The client is authenticated (and, in a cluster, its session is here): bind it to its session. */
function settle(ctx: BrokerContext, conn: Connection, connect: ConnectPacket, clientId: string, keepAlive: number, connackProps: Properties): boolean {
  // take over a live connection with the same id [MQTT-3.1.4-2]
  let client = ctx.clients.get(clientId);
  if (client?.connection !== undefined) {
    client.connection.close('session_taken_over', {
      sendWill: true,
      disconnectCode: ReasonCode.SESSION_TAKEN_OVER,
      detail: `client id reused by connection ${conn.id}`,
    });
  }
  client = ctx.clients.get(clientId);

  const v5 = connect.protocolVersion === 5;
  const expiryInterval = sessionExpiry(ctx, connect, connackProps);
  // clean start discards any previous session [MQTT-3.1.2-4, v5 MQTT-3.1.2-4]
  if (client !== undefined && connect.cleanStart) {
    ctx.discardSession(client);
    client = undefined;
  }
  const sessionPresent = client !== undefined;
  if (client === undefined) {
    const state = createSessionState(clientId, expiryInterval);
    ctx.deps.sessions.set(state);
    client = createClientRef(state);
    ctx.clients.set(clientId, client);
  } else {
    client.state.expiryInterval = expiryInterval;
    // back before the session expired or the will delay passed [MQTT-3.1.3-9]
    ctx.resumeSessionTimers(client);
  }
  client.state.owner = { clientId, username: connect.username, identity: conn.identity };
  ctx.durability.sessionChanged(client.state, undefined);
  if (v5) readClientLimits(conn, connect.properties);
  bind(ctx, conn, client, connect, keepAlive);

  if (v5) addCapabilities(ctx, connect, clientId, connackProps);
  // CONNACK is the first packet the server sends [MQTT-3.2.0-1]; session present per [MQTT-3.2.2-1..3]
  conn.send({
    type: PacketType.CONNACK,
    sessionPresent,
    reasonCode: 0,
    ...(v5 && Object.keys(connackProps).length > 0 ? { properties: connackProps } : {}),
  });
  ctx.events.emit('clientConnected', clientInfo(conn), sessionPresent);
  if (sessionPresent) resumeSession(ctx, client, conn);
  return true;
}

/**
 * How long the session outlives the connection, in seconds. v5 asks with Session Expiry
 * Interval (capped by max_session_expiry_interval, and then the CONNACK says so); 3.x
 * persistent sessions live for persistent_client_expiration (0 = forever).
 */
function sessionExpiry(ctx: BrokerContext, connect: ConnectPacket, connackProps: Properties): number {
  if (connect.protocolVersion !== 5) {
    if (connect.cleanStart) return 0;
    const limit = ctx.settings.persistentClientExpiration;
    return limit === 0 ? NEVER_EXPIRES : limit;
  }
  const asked = connect.properties?.sessionExpiryInterval ?? 0;
  const cap = ctx.settings.maxSessionExpiryInterval;
  if (cap > 0 && asked > cap) {
    connackProps.sessionExpiryInterval = cap;
    return cap;
  }
  return asked;
}

/** A v5 client's own limits: we must respect them when sending [MQTT-3.1.2-24..27]. */
function readClientLimits(conn: Connection, properties: Properties | undefined): void {
  if (properties === undefined) return;
  if (properties.receiveMaximum !== undefined) conn.clientReceiveMaximum = properties.receiveMaximum;
  if (properties.maximumPacketSize !== undefined) conn.clientMaximumPacketSize = properties.maximumPacketSize;
  if (properties.topicAliasMaximum !== undefined) conn.clientTopicAliasMaximum = properties.topicAliasMaximum;
}

/** What this broker offers, in the v5 CONNACK (section 3.2.2.3). */
function addCapabilities(ctx: BrokerContext, connect: ConnectPacket, clientId: string, props: Properties): void {
  const s = ctx.settings;
  props.maximumPacketSize = s.maxPacketSize;
  if (s.maxInflightMessages > 0) props.receiveMaximum = Math.min(s.maxInflightMessages, 65535);
  props.topicAliasMaximum = s.maxTopicAlias;
  if (!s.retainAvailable) props.retainAvailable = 0;
  if (s.maxQos < 2) props.maximumQoS = s.maxQos;
  props.sharedSubscriptionAvailable = 1;
  if (connect.properties?.requestResponseInformation === 1 && s.responseInformationPrefix !== '') {
    props.responseInformation = `${s.responseInformationPrefix}${clientId}/`;
  }
}

function bind(ctx: BrokerContext, conn: Connection, client: ClientRef, connect: ConnectPacket, keepAlive: number): void {
  client.connection = conn;
  conn.client = client;
  // the will lives as long as the connection: copy it out of the read chunk it points into
  conn.will = connect.will === undefined ? undefined : { ...connect.will, payload: Buffer.from(connect.will.payload) };
  ownBinaryProperties(conn.will?.properties);
  // a crash is a lost connection too: the will is stored so a restart can send it
  const will = conn.will;
  if (will !== undefined) {
    const { topic, payload, qos, retain, properties } = will;
    ctx.durability.willSaved({ clientId: client.state.clientId, topic, payload, qos, retain, properties, fireAt: undefined });
  } else ctx.durability.willGone(client.state.clientId);
  conn.markConnected();
  conn.startKeepalive(keepAlive);
  ctx.stats.clientsConnected++;
  if (ctx.stats.clientsConnected > ctx.stats.clientsMaximum) ctx.stats.clientsMaximum = ctx.stats.clientsConnected;
}

/**
 * Refuses the connection with a CONNACK return code [MQTT-3.2.2-4/5], then closes it.
 * `v5Code` overrides the 5.0 code derived from the 3.1.1 one.
 */
function refuse(ctx: BrokerContext, conn: Connection, returnCode: number, detail: string, v5Code?: number, logDetail = detail): void {
  const v5 = conn.protocolVersion === 5;
  conn.send({
    type: PacketType.CONNACK,
    sessionPresent: false,
    reasonCode: v5 ? (v5Code ?? V5_REFUSAL[returnCode] ?? ReasonCode.UNSPECIFIED_ERROR) : returnCode,
    // a v5 refusal says why (Reason String, section 3.2.2.3.7)
    ...(v5 ? { properties: { reasonString: reasonStringOf(detail) } } : {}),
  });
  conn.close(REFUSAL_REASON[returnCode] ?? 'not_authorized', { sendWill: false, detail: logDetail });
  ctx.deps.logger.info({ clientId: conn.clientId, remoteAddress: conn.remoteAddress, returnCode, detail: logDetail }, 'connection refused');
}
