// Inbound PUBLISH: topic checks, authorization, QoS 1/2 acknowledgement and routing
// [MQTT-3.3, MQTT-4.3].
import { isUtf8 } from 'node:buffer';
import { ReasonCode } from '../../protocol/reason-codes.js';
import { PacketType, type Packet, type Properties, type PublishPacket } from '../../protocol/types.js';
import { validateTopicName } from '../../topic/index.js';
import type { BrokerContext } from '../context.js';
import type { Connection } from '../connection.js';
import { BrokerError } from '../errors.js';
import { createMessage } from '../message.js';
import { addIncomingQos2 } from '../session-state.js';
import { clientInfo } from './client-info.js';

export function handlePublish(ctx: BrokerContext, conn: Connection, packet: Packet): void {
  const publish = packet as PublishPacket;
  ctx.stats.publishReceived++;
  conn.notePublish(publish.topic.length + publish.payload.length);
  const v5 = conn.protocolVersion === 5;
  const topic = v5 ? resolveTopicAlias(ctx, conn, publish) : publish.topic;
  // [MQTT-3.3.2-1/2] a topic name without wildcards, at least one character
  const invalid = validateTopicName(topic);
  if (invalid !== undefined) throw new BrokerError('TOPIC_NAME_INVALID', `PUBLISH topic "${topic}": ${invalid.message}`);

  const client = conn.client;
  if (client === undefined) throw new BrokerError('PROTOCOL_ERROR', 'PUBLISH before CONNECT');
  const qos = publish.qos;
  // what the CONNACK announced is binding on the client [MQTT-3.2.2-11/14]
  if (qos > ctx.settings.maxQos) throw new BrokerError('QOS_NOT_SUPPORTED', `QoS ${qos} above Maximum QoS ${ctx.settings.maxQos}`);
  if (publish.retain && !ctx.settings.retainAvailable) throw new BrokerError('RETAIN_NOT_SUPPORTED', 'retained messages are not available');
  // the session owner (set at CONNECT) is this connection's identity: no object per PUBLISH
  const owner = client.state.owner ?? { clientId: client.state.clientId, username: conn.username, identity: conn.identity };
  const verdict = ctx.deps.authorizer.canPublish(
    owner,
    topic,
    qos,
    publish.retain,
  );
  // a topic table with deny_action "disconnect" ends the connection (v5: DISCONNECT 0x87)
  if (verdict === 'disconnect') throw new BrokerError('NOT_AUTHORIZED', `PUBLISH to "${topic}" not authorized`);
  const allowed = verdict === 'allow';
  // Payload Format Indicator 1 promises UTF-8 (section 3.3.2.3.2); we check it (v5 0x99)
  const formatOk = publish.properties?.payloadFormatIndicator !== 1 || isUtf8(publish.payload);
  if (!formatOk && qos === 0) throw new BrokerError('PAYLOAD_FORMAT_INVALID', 'payload is not UTF-8 but Payload Format Indicator is 1');

  if (qos === 2) {
    const incoming = client.state.incomingQos2;
    const packetId = publish.packetId as number;
    // a re-sent QoS 2 PUBLISH before PUBREL is not delivered again [MQTT-4.3.3-2]
    if (incoming.has(packetId)) {
      conn.send({ type: PacketType.PUBREC, packetId, reasonCode: 0 });
      return;
    }
    // v5 flow control: no more unreleased QoS 2 than our Receive Maximum [MQTT-3.3.4-7]
    if (v5 && ctx.settings.maxInflightMessages > 0 && incoming.size >= ctx.settings.maxInflightMessages) {
      throw new BrokerError('RECEIVE_MAXIMUM_EXCEEDED', `more than ${ctx.settings.maxInflightMessages} QoS 2 messages unreleased`);
    }
    if (allowed && formatOk) {
      addIncomingQos2(client.state, packetId);
      if (client.state.durable) ctx.durability.incomingAdded(client.state, packetId);
    }
  }

  if (allowed && formatOk) {
    const properties = forwardable(publish.properties);
    const seconds = properties?.messageExpiryInterval;
    const expiresAt = seconds === undefined ? undefined : ctx.deps.clock.now() + seconds * 1000;
    const message = createMessage(topic, publish.payload, qos, publish.retain, properties, client.state.clientId, expiresAt);
    ctx.publish(message);
    if (ctx.events.listenerCount('publish') > 0) ctx.events.emit('publish', message, clientInfo(conn));
  }

  if (qos > 0) {
    const code = !formatOk && v5 ? ReasonCode.PAYLOAD_FORMAT_INVALID : ackCode(conn, allowed);
    conn.send({ type: qos === 1 ? PacketType.PUBACK : PacketType.PUBREC, packetId: publish.packetId as number, reasonCode: code });
  }
}

/**
 * v5 Topic Alias [MQTT-3.3.2-7..12]: a PUBLISH with a topic and an alias sets the alias;
 * one with an empty topic and an alias uses it. Aliases are per connection.
 */
function resolveTopicAlias(ctx: BrokerContext, conn: Connection, publish: PublishPacket): string {
  const alias = publish.properties?.topicAlias;
  if (alias === undefined) {
    // an empty topic needs an alias to stand for it (section 3.3.2.1)
    if (publish.topic === '') throw new BrokerError('PROTOCOL_ERROR', 'empty topic name without a topic alias');
    return publish.topic;
  }
  if (alias === 0 || alias > ctx.settings.maxTopicAlias) {
    throw new BrokerError('TOPIC_ALIAS_INVALID', `topic alias ${alias} outside 1..${ctx.settings.maxTopicAlias}`);
  }
  if (publish.topic !== '') {
    (conn.topicAliasesIn ??= new Map()).set(alias, publish.topic);
    return publish.topic;
  }
  const topic = conn.topicAliasesIn?.get(alias);
  if (topic === undefined) throw new BrokerError('PROTOCOL_ERROR', `topic alias ${alias} used before it was set`);
  return topic;
}

/** 3.x cannot say "refused" in an ack: it acks and drops, as mosquitto does. v5 says 0x87. */
function ackCode(conn: Connection, allowed: boolean): number {
  return allowed || conn.protocolVersion !== 5 ? ReasonCode.SUCCESS : ReasonCode.NOT_AUTHORIZED;
}

/** Properties that travel to subscribers: topic alias and subscription ids are per hop. */
function forwardable(properties: Properties | undefined): Properties | undefined {
  if (properties === undefined) return undefined;
  if (properties.topicAlias === undefined && properties.subscriptionIdentifiers === undefined) return properties;
  const { topicAlias: _alias, subscriptionIdentifiers: _ids, ...rest } = properties;
  return Object.keys(rest).length > 0 ? rest : undefined;
}
