// Routing one message to every matching subscription. Overlapping subscriptions of one
// client yield one delivery at the highest granted QoS [MQTT-3.3.5-1], carrying every
// matching subscription identifier (v5). Scratch fields on ClientRef stand in for a
// per-publish Map, so routing allocates only the list it reuses. Shared subscriptions
// ($share/...) are routed separately, one member per group (shared-subscriptions.ts): a
// session that also has a plain matching subscription gets the message both ways.
import type { TopicTrie } from '../topic/index.js';
import type { QoS } from '../protocol/types.js';
import type { BrokerContext, ClientRef, SubscriberEntry } from './context.js';
import type { Message } from './message.js';
import { deliver } from './delivery.js';

export class Router {
  readonly #trie: TopicTrie<SubscriberEntry>;
  #epoch = 0;
  readonly #matched: ClientRef[] = [];
  #message: Message | undefined;
  readonly #visit = (entry: SubscriberEntry): void => this.#collect(entry);

  constructor(trie: TopicTrie<SubscriberEntry>) {
    this.#trie = trie;
  }

  route(ctx: BrokerContext, message: Message): number {
    return this.routePlain(ctx, message) + ctx.sharedSubscriptions.route(ctx, message);
  }

  /** The plain (not shared) subscriptions only: a cluster routes the shared ones itself. */
  routePlain(ctx: BrokerContext, message: Message): number {
    this.#epoch = (this.#epoch + 1) | 0;
    this.#message = message;
    const matched = this.#matched;
    matched.length = 0;
    this.#trie.match(message.topic, this.#visit);
    this.#message = undefined;
    const count = matched.length;
    for (let i = 0; i < count; i++) {
      const client = matched[i] as ClientRef;
      const qos = Math.min(message.qos, client.routeQos) as QoS;
      deliver(ctx, client, { message, qos, retain: client.routeRetain, subscriptionIdentifiers: client.routeSubIds });
    }
    matched.length = 0;
    return count;
  }

  #collect(entry: SubscriberEntry): void {
    const message = this.#message as Message;
    const options = entry.options;
    const client = entry.client;
    // v5 No Local: not back to the publisher [MQTT-3.8.3-3]
    if (options.noLocal && message.origin === client.state.clientId) return;
    // 3.1.1 forwards with RETAIN 0 [MQTT-3.3.1-9]; v5 keeps it only with Retain As Published
    const retain = options.retainAsPublished && message.retain;
    const subId = options.subscriptionIdentifier;
    if (client.routeEpoch !== this.#epoch) {
      client.routeEpoch = this.#epoch;
      client.routeQos = options.qos;
      client.routeRetain = retain;
      client.routeSubIds = subId === undefined ? undefined : [subId];
      this.#matched.push(client);
      return;
    }
    if (options.qos > client.routeQos) client.routeQos = options.qos;
    if (retain) client.routeRetain = true;
    if (subId !== undefined) {
      if (client.routeSubIds === undefined) client.routeSubIds = [subId];
      else client.routeSubIds.push(subId);
    }
  }
}
