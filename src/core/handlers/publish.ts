// Inbound PUBLISH: topic checks, authorization, QoS 1/2 acknowledgement and routing
// [MQTT-3.3, MQTT-4.3].
import { ReasonCode } from '../../protocol/reason-codes.js';
import { PacketType, type Packet, type Properties, type PublishPacket } from '../../protocol/types.js';
import { validateTopicName } from '../../topic/index.js';
import type { BrokerContext } from '../context.js';
import type { Connection } from '../connection.js';
import { BrokerError } from '../errors.js';
import { createMessage } from '../message.js';
import { clientInfo } from './client-info.js';

export function handlePublish(ctx: BrokerContext, conn: Connection, packet: Packet): void {
  const publish = packet as PublishPacket;
  ctx.stats.publishReceived++;
  const topic = publish.topic;
  if (publish.properties?.topicAlias !== undefined) {
    // we announce Topic Alias Maximum 0 (aliases arrive with the MQTT 5 issue) [MQTT-3.3.2-9]
    throw new BrokerError('TOPIC_ALIAS_INVALID', 'topic aliases are not accepted (Topic Alias Maximum is 0)');
  }
  // [MQTT-3.3.2-1/2] a topic name without wildcards, at least one character
  const invalid = validateTopicName(topic);
  if (invalid !== undefined) throw new BrokerError('TOPIC_NAME_INVALID', `PUBLISH topic "${topic}": ${invalid.message}`);

  const client = conn.client;
  if (client === undefined) throw new BrokerError('PROTOCOL_ERROR', 'PUBLISH before CONNECT');
  const qos = publish.qos;
  const allowed = ctx.deps.authorizer.canPublish(
    { clientId: client.state.clientId, username: conn.username, identity: conn.identity },
    topic,
    qos,
    publish.retain,
  );

  if (qos === 2) {
    const incoming = client.state.incomingQos2;
    // a re-sent QoS 2 PUBLISH before PUBREL is not delivered again [MQTT-4.3.3-2]
    if (incoming.has(publish.packetId as number)) {
      conn.send({ type: PacketType.PUBREC, packetId: publish.packetId as number, reasonCode: 0 });
      return;
    }
    incoming.add(publish.packetId as number);
  }

  if (allowed) {
    const message = createMessage(topic, publish.payload, qos, publish.retain, forwardable(publish.properties), client.state.clientId);
    ctx.publish(message);
    if (ctx.events.listenerCount('publish') > 0) ctx.events.emit('publish', message, clientInfo(conn));
  }

  if (qos === 1) {
    conn.send({ type: PacketType.PUBACK, packetId: publish.packetId as number, reasonCode: ackCode(conn, allowed) });
  } else if (qos === 2) {
    conn.send({ type: PacketType.PUBREC, packetId: publish.packetId as number, reasonCode: ackCode(conn, allowed) });
  }
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
