// SUBSCRIBE and UNSUBSCRIBE [MQTT-3.8, MQTT-3.10]: the subscription index, SUBACK
// codes, and the retained messages a new subscription receives.
import { ReasonCode, SUBACK_FAILURE } from '../../protocol/reason-codes.js';
import { PacketType, type Packet, type QoS, type SubscribePacket, type UnsubscribePacket } from '../../protocol/types.js';
import { validateTopicFilter } from '../../topic/index.js';
import type { BrokerContext, ClientRef } from '../context.js';
import type { Connection } from '../connection.js';
import { BrokerError } from '../errors.js';
import { deliver } from '../delivery.js';
import type { SubscriptionOptions } from '../session-state.js';
import { clientInfo } from './client-info.js';

export function handleSubscribe(ctx: BrokerContext, conn: Connection, packet: Packet): void {
  const subscribe = packet as SubscribePacket;
  const client = requireClient(conn);
  const v5 = conn.protocolVersion === 5;
  const identity = { clientId: client.state.clientId, username: conn.username, identity: conn.identity };
  const subscriptionIdentifier = subscribe.properties?.subscriptionIdentifiers?.[0];
  const reasonCodes: number[] = [];
  const granted: { filter: string; options: SubscriptionOptions; existed: boolean }[] = [];

  for (const request of subscribe.subscriptions) {
    const filter = request.topicFilter;
    const invalid = validateTopicFilter(filter);
    if (invalid !== undefined) {
      // MQTT 3.1 has no failure return code: the only answer is to close
      if (conn.protocolVersion === 3) throw new BrokerError('TOPIC_FILTER_INVALID', `SUBSCRIBE filter "${filter}": ${invalid.message}`);
      reasonCodes.push(v5 ? ReasonCode.TOPIC_FILTER_INVALID : SUBACK_FAILURE);
      continue;
    }
    if (v5 && filter.startsWith('$share/')) {
      // announced as unavailable in CONNACK (Shared Subscription Available 0) until they land
      reasonCodes.push(ReasonCode.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED);
      continue;
    }
    if (!ctx.deps.authorizer.canSubscribe(identity, filter, request.qos)) {
      if (conn.protocolVersion === 3) throw new BrokerError('NOT_AUTHORIZED', `SUBSCRIBE to "${filter}" not authorized`);
      reasonCodes.push(v5 ? ReasonCode.NOT_AUTHORIZED : SUBACK_FAILURE);
      continue;
    }
    const options: SubscriptionOptions = {
      qos: request.qos,
      noLocal: request.noLocal,
      retainAsPublished: request.retainAsPublished,
      retainHandling: request.retainHandling,
      subscriptionIdentifier,
    };
    // a subscription to an existing filter replaces it [MQTT-3.8.4-3]
    const existed = client.state.subscriptions.has(filter);
    client.state.subscriptions.set(filter, options);
    ctx.subscriptions.add(filter, client.state.clientId, { client, options });
    reasonCodes.push(request.qos);
    granted.push({ filter, options, existed });
  }

  // SUBACK before the retained messages, in request order [MQTT-3.8.4-1/5]
  conn.send({ type: PacketType.SUBACK, packetId: subscribe.packetId, reasonCodes });
  for (const { filter, options, existed } of granted) sendRetained(ctx, client, filter, options, existed);
  if (granted.length > 0 && ctx.events.listenerCount('subscribe') > 0) {
    ctx.events.emit('subscribe', subscribe.subscriptions, clientInfo(conn));
  }
}

export function handleUnsubscribe(ctx: BrokerContext, conn: Connection, packet: Packet): void {
  const unsubscribe = packet as UnsubscribePacket;
  const client = requireClient(conn);
  const reasonCodes: number[] = [];
  for (const filter of unsubscribe.topicFilters) {
    const existed = client.state.subscriptions.delete(filter);
    if (existed) ctx.subscriptions.remove(filter, client.state.clientId);
    reasonCodes.push(existed ? ReasonCode.SUCCESS : ReasonCode.NO_SUBSCRIPTION_EXISTED);
  }
  // [MQTT-3.10.4-4] UNSUBACK even when nothing was subscribed; 3.x has no payload
  conn.send({
    type: PacketType.UNSUBACK,
    packetId: unsubscribe.packetId,
    reasonCodes: conn.protocolVersion === 5 ? reasonCodes : [],
  });
  if (ctx.events.listenerCount('unsubscribe') > 0) ctx.events.emit('unsubscribe', unsubscribe.topicFilters, clientInfo(conn));
}

/**
 * Retained messages for a new subscription, RETAIN set [MQTT-3.3.1-8]. 3.x sends them
 * on every SUBSCRIBE [MQTT-3.8.4-3]; v5 follows Retain Handling (0 always, 1 only for a
 * new subscription, 2 never).
 */
function sendRetained(ctx: BrokerContext, client: ClientRef, filter: string, options: SubscriptionOptions, existed: boolean): void {
  if (options.retainHandling === 2 || (options.retainHandling === 1 && existed)) return;
  const ids = options.subscriptionIdentifier === undefined ? undefined : [options.subscriptionIdentifier];
  ctx.deps.retained.match(filter, (message) => {
    const qos = Math.min(message.qos, options.qos) as QoS;
    deliver(ctx, client, { message, qos, retain: true, subscriptionIdentifiers: ids });
  });
}

function requireClient(conn: Connection): ClientRef {
  if (conn.client === undefined) throw new BrokerError('PROTOCOL_ERROR', 'packet before CONNECT');
  return conn.client;
}
