// SUBSCRIBE and UNSUBSCRIBE [MQTT-3.8, MQTT-3.10]: the subscription index, SUBACK
// codes, and the retained messages a new subscription receives. `$share/{name}/{filter}`
// joins a shared subscription (section 4.8.2, shared-subscriptions.ts) from any protocol
// version, as mosquitto and EMQX accept it from 3.1.1 clients too.
import { ReasonCode, SUBACK_FAILURE } from '../../protocol/reason-codes.js';
import { PacketType, type Packet, type QoS, type SubscribePacket, type UnsubscribePacket } from '../../protocol/types.js';
import { isSharedSubscription, parseSharedSubscription, validateTopicFilter } from '../../topic/index.js';
import type { BrokerContext, ClientRef } from '../context.js';
import type { Connection } from '../connection.js';
import { BrokerError } from '../errors.js';
import { deliver } from '../delivery.js';
import { deleteSubscription, setSubscription, type SubscriptionOptions } from '../session-state.js';
import { clientInfo } from './client-info.js';

export function handleSubscribe(ctx: BrokerContext, conn: Connection, packet: Packet): void {
  const subscribe = packet as SubscribePacket;
  const client = requireClient(conn);
  const v5 = conn.protocolVersion === 5;
  const identity = { clientId: client.state.clientId, username: conn.username, identity: conn.identity };
  const subscriptionIdentifier = subscribe.properties?.subscriptionIdentifiers?.[0];
  const reasonCodes: number[] = [];
  const granted: { filter: string; options: SubscriptionOptions; existed: boolean }[] = [];
  let accepted = 0;

  if (v5) {
    // [MQTT-3.8.3-4] No Local on a shared subscription is a Protocol Error: checked before
    // any filter of the packet takes effect
    for (const request of subscribe.subscriptions) {
      if (request.noLocal && isSharedSubscription(request.topicFilter)) {
        throw new BrokerError('PROTOCOL_ERROR', `SUBSCRIBE "${request.topicFilter}": No Local on a shared subscription`);
      }
    }
  }

  for (const request of subscribe.subscriptions) {
    const filter = request.topicFilter;
    // [MQTT-4.8.2-1/2] a shared subscription is checked as ShareName + inner filter
    const shared = parseSharedSubscription(filter);
    const invalid = shared === undefined ? validateTopicFilter(filter) : shared.valid ? undefined : shared.error;
    if (invalid !== undefined) {
      // MQTT 3.1 has no failure return code: the only answer is to close
      if (conn.protocolVersion === 3) throw new BrokerError('TOPIC_FILTER_INVALID', `SUBSCRIBE filter "${filter}": ${invalid.message}`);
      reasonCodes.push(v5 ? ReasonCode.TOPIC_FILTER_INVALID : SUBACK_FAILURE);
      continue;
    }
    // rules are about topics: a shared subscription is authorized on the filter it shares
    const matched = shared?.valid === true ? shared.filter : filter;
    const verdict = ctx.deps.authorizer.canSubscribe(identity, matched, request.qos);
    if (verdict !== 'allow') {
      if (conn.protocolVersion === 3 || verdict === 'disconnect') throw new BrokerError('NOT_AUTHORIZED', `SUBSCRIBE to "${filter}" not authorized`);
      reasonCodes.push(v5 ? ReasonCode.NOT_AUTHORIZED : SUBACK_FAILURE);
      continue;
    }
    const options: SubscriptionOptions = {
      // granted QoS never above what this broker supports (max_qos)
      qos: Math.min(request.qos, ctx.settings.maxQos) as QoS,
      noLocal: request.noLocal,
      retainAsPublished: request.retainAsPublished,
      retainHandling: request.retainHandling,
      subscriptionIdentifier,
    };
    accepted++;
    reasonCodes.push(options.qos);
    // a subscription to an existing filter replaces it [MQTT-3.8.4-3]
    const existed = setSubscription(client.state, filter, options);
    if (client.state.durable) ctx.durability.subscribed(client.state, filter, options);
    if (!existed) ctx.cluster?.subscribed(filter);
    if (shared?.valid === true) {
      // the session joins the group (or updates its options there); no retained
      // messages for a shared subscription (section 3.8.4)
      ctx.sharedSubscriptions.join(filter, shared.filter, client, options);
      continue;
    }
    ctx.subscriptions.add(filter, client.state.clientId, { client, options });
    granted.push({ filter, options, existed });
  }

  // SUBACK before the retained messages, in request order [MQTT-3.8.4-1/5]
  conn.send({ type: PacketType.SUBACK, packetId: subscribe.packetId, reasonCodes });
  for (const { filter, options, existed } of granted) sendRetained(ctx, client, filter, options, existed);
  if (accepted > 0 && ctx.events.listenerCount('subscribe') > 0) {
    ctx.events.emit('subscribe', subscribe.subscriptions, clientInfo(conn));
  }
}

export function handleUnsubscribe(ctx: BrokerContext, conn: Connection, packet: Packet): void {
  const unsubscribe = packet as UnsubscribePacket;
  const client = requireClient(conn);
  const reasonCodes: number[] = [];
  for (const filter of unsubscribe.topicFilters) {
    const existed = deleteSubscription(client.state, filter);
    if (existed) {
      if (client.state.durable) ctx.durability.unsubscribed(client.state, filter);
      ctx.cluster?.unsubscribed(filter);
      // leaving a shared subscription; the group goes with its last member (section 3.10.4)
      if (isSharedSubscription(filter)) ctx.sharedSubscriptions.leave(filter, client);
      else ctx.subscriptions.remove(filter, client.state.clientId);
    }
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
  ctx.matchRetained(filter, (message) => {
    const qos = Math.min(message.qos, options.qos) as QoS;
    deliver(ctx, client, { message, qos, retain: true, subscriptionIdentifiers: ids });
  });
}

function requireClient(conn: Connection): ClientRef {
  if (conn.client === undefined) throw new BrokerError('PROTOCOL_ERROR', 'packet before CONNECT');
  return conn.client;
}
