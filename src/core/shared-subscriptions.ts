// Shared subscriptions, `$share/{ShareName}/{filter}` (MQTT 5.0 section 4.8.2; also taken
// from 3.1/3.1.1 clients, as mosquitto and EMQX do).
//
// A group is one Shared Subscription: a ShareName and the filter it shares, identified by
// its whole `$share/...` string (the key a member's session stores it under). Members are
// sessions, not connections: an offline persistent session stays a member. Each matching
// message goes to exactly one member of each matching group:
//
// - round robin over the members that are online;
// - when none is online, round robin over the offline members that can queue it
//   (QoS 1/2 and granted QoS > 0, queue not full); a QoS 0 message is dropped;
// - each member's own granted QoS, Retain As Published and Subscription Identifier apply
//   [MQTT-4.8.2-3].
//
// Deliveries handed out by a group carry `shareGroup` (its key), so a member's unfinished
// ones can be found when it goes away:
//
// - member goes offline (session persists): its queued shared deliveries and its unacked
//   QoS 1 ones are handed to another ONLINE member (section 4.8.2 allows this "as soon as
//   it loses its connection"); with nobody online they stay with the session;
// - member's session ends: the same, falling back to offline members;
// - a QoS 2 message already sent (PUBLISH or PUBREL stage) stays with its session and is
//   completed on reconnect [MQTT-4.8.2-4]; if that session ends it goes to nobody else
//   [MQTT-4.8.2-5];
// - a PUBACK/PUBREC >= 0x80 ends the message there [MQTT-4.8.2-6] (handlers/acks.ts
//   simply drops the inflight entry; nothing here re-sends it).
//
// Memory: one group per distinct `$share/...` filter held by some session and one member
// entry per such session subscription; a group is deleted with its last member. So this
// is bounded by the subscriptions that create it, like the plain subscription trie.
import { isSharedSubscription, parseSharedSubscription, TopicTrie } from '../topic/index.js';
import type { QoS } from '../protocol/types.js';
import type { BrokerContext, ClientRef } from './context.js';
import { deliver } from './delivery.js';
import type { Message } from './message.js';
import { deleteSubscription, type Delivery, type OutgoingInflight, type SubscriptionOptions } from './session-state.js';

interface ShareMember {
  readonly client: ClientRef;
  options: SubscriptionOptions;
}

function isOnline(client: ClientRef): boolean {
  const conn = client.connection;
  return conn !== undefined && conn.state === 'connected';
}

class ShareGroup {
  readonly key: string;
  readonly members: ShareMember[] = [];
  #next = 0;

  constructor(key: string) {
    this.key = key;
  }

  indexOf(client: ClientRef): number {
    const id = client.state.clientId;
    const members = this.members;
    for (let i = 0; i < members.length; i++) if ((members[i] as ShareMember).client.state.clientId === id) return i;
    return -1;
  }

  remove(index: number): void {
    this.members.splice(index, 1);
    // keep the rotation where it was: the member after the removed one is next
    if (index < this.#next) this.#next--;
    if (this.#next >= this.members.length) this.#next = 0;
  }

  /**
   * The member that gets the next message: round robin over online members, else (QoS > 0
   * only, unless `onlineOnly`) over offline members that can queue it. Never `exclude`.
   */
  pick(ctx: BrokerContext, qos: QoS, exclude: ClientRef | undefined, onlineOnly: boolean): ShareMember | undefined {
    const members = this.members;
    const n = members.length;
    for (let i = 0; i < n; i++) {
      const index = (this.#next + i) % n;
      const member = members[index] as ShareMember;
      if (member.client !== exclude && isOnline(member.client)) {
        this.#next = (index + 1) % n;
        return member;
      }
    }
    if (onlineOnly || qos === 0) return undefined;
    const maxQueued = ctx.settings.maxQueuedMessages;
    for (let i = 0; i < n; i++) {
      const index = (this.#next + i) % n;
      const member = members[index] as ShareMember;
      const state = member.client.state;
      if (member.client !== exclude && state.expiryInterval !== 0 && member.options.qos > 0 && state.queue.length < maxQueued) {
        this.#next = (index + 1) % n;
        return member;
      }
    }
    return undefined;
  }
}

export class SharedSubscriptions {
  /** `$share/{name}/{filter}` -> group. */
  readonly #groups = new Map<string, ShareGroup>();
  /** Inner filter -> groups, keyed by the whole `$share/...` string. */
  readonly #trie = new TopicTrie<ShareGroup>();
  readonly #matched: ShareGroup[] = [];
  readonly #visit = (group: ShareGroup): void => {
    this.#matched.push(group);
  };

  /** Number of groups (distinct shared subscriptions) that have at least one member. */
  get groupCount(): number {
    return this.#groups.size;
  }

  /** Member session ids of a group, in rotation order (for tests and the admin API). */
  members(key: string): string[] {
    return this.#groups.get(key)?.members.map((m) => m.client.state.clientId) ?? [];
  }

  /**
   * Adds `client`'s session to the group `key` (`$share/{name}/{filter}`) or replaces its
   * options there. Returns true when the session was not a member yet.
   */
  join(key: string, filter: string, client: ClientRef, options: SubscriptionOptions): boolean {
    let group = this.#groups.get(key);
    if (group === undefined) {
      group = new ShareGroup(key);
      this.#groups.set(key, group);
      this.#trie.add(filter, key, group);
    }
    const index = group.indexOf(client);
    if (index >= 0) {
      (group.members[index] as ShareMember).options = options;
      return false;
    }
    group.members.push({ client, options });
    return true;
  }

  /** Removes `client`'s session from the group `key`; deletes the group when it empties. */
  leave(key: string, client: ClientRef): boolean {
    const group = this.#groups.get(key);
    if (group === undefined) return false;
    const index = group.indexOf(client);
    if (index < 0) return false;
    group.remove(index);
    if (group.members.length === 0) {
      this.#groups.delete(key);
      const parsed = parseSharedSubscription(key);
      if (parsed?.valid === true) this.#trie.remove(parsed.filter, key);
    }
    return true;
  }

  /**
   * Re-adds a stored session's subscription when it is a shared one (broker start with a
   * durable session store). Returns false for a plain filter, which the caller indexes.
   */
  restore(key: string, client: ClientRef, options: SubscriptionOptions): boolean {
    const parsed = parseSharedSubscription(key);
    if (parsed === undefined) return false;
    if (parsed.valid) this.join(key, parsed.filter, client, options);
    return true;
  }

  /** Sends `message` to one member of every matching group; returns how many got it. */
  route(ctx: BrokerContext, message: Message): number {
    if (this.#trie.size === 0) return 0;
    const matched = this.#matched;
    const start = matched.length;
    this.#trie.match(message.topic, this.#visit);
    const end = matched.length;
    let count = 0;
    for (let i = start; i < end; i++) {
      if (this.#dispatch(ctx, matched[i] as ShareGroup, message, undefined, false)) count++;
    }
    matched.length = start;
    return count;
  }

  /** Visits the key of every group whose filter matches `topic` (cluster routing). */
  matchGroups(topic: string, visit: (key: string) => void): void {
    if (this.#trie.size === 0) return;
    this.#trie.match(topic, (group) => visit(group.key));
  }

  /** Sends `message` to one member of the group `key` (the cluster chose this node for it). */
  dispatchGroup(ctx: BrokerContext, key: string, message: Message): boolean {
    const group = this.#groups.get(key);
    if (group === undefined) {
      ctx.stats.publishDropped++;
      return false;
    }
    return this.#dispatch(ctx, group, message, undefined, false);
  }

  /**
   * A member's connection ended and its session persists: hand its queued shared
   * deliveries and unacknowledged QoS 1 ones to another online member of their group.
   * Those no other online member can take stay with the session.
   */
  memberOffline(ctx: BrokerContext, client: ClientRef): void {
    if (this.#groups.size === 0) return;
    this.#handBack(ctx, client, true);
  }

  /**
   * A session ends: leave every group it belongs to, then hand its queued shared
   * deliveries and unacknowledged QoS 1 ones to the other members (online first, then
   * offline ones). QoS 2 already sent goes to nobody else [MQTT-4.8.2-5]; whatever is left
   * is discarded with the session by the caller.
   */
  sessionEnded(ctx: BrokerContext, client: ClientRef): void {
    // a copy of the keys: deleting the last one swaps the map for the shared empty one
    for (const key of [...client.state.subscriptions.keys()]) {
      if (!isSharedSubscription(key)) continue;
      this.leave(key, client);
      deleteSubscription(client.state, key);
    }
    if (this.#groups.size > 0) this.#handBack(ctx, client, false);
  }

  #handBack(ctx: BrokerContext, client: ClientRef, onlineOnly: boolean): void {
    const state = client.state;
    let moved: OutgoingInflight[] | undefined;
    for (const entry of state.inflight.values()) {
      const delivery = entry.delivery;
      // QoS 2 in flight stays with its session [MQTT-4.8.2-4/5]
      if (delivery.shareGroup === undefined || delivery.qos !== 1 || entry.stage !== 'publish') continue;
      const group = this.#groups.get(delivery.shareGroup);
      if (group === undefined) continue;
      if (this.#dispatch(ctx, group, delivery.message, client, onlineOnly)) (moved ??= []).push(entry);
    }
    if (moved !== undefined) {
      for (const entry of moved) {
        state.inflight.delete(entry.packetId);
        if (state.durable) ctx.durability.finished(state, entry.delivery);
      }
    }

    const queue = state.queue;
    const count = queue.length;
    for (let i = 0; i < count; i++) {
      const delivery = queue.shift() as Delivery;
      const group = delivery.shareGroup === undefined ? undefined : this.#groups.get(delivery.shareGroup);
      if (group !== undefined && this.#dispatch(ctx, group, delivery.message, client, onlineOnly)) {
        if (state.durable) ctx.durability.finished(state, delivery);
        continue;
      }
      queue.push(delivery);
    }
  }

  #dispatch(ctx: BrokerContext, group: ShareGroup, message: Message, exclude: ClientRef | undefined, onlineOnly: boolean): boolean {
    const member = group.pick(ctx, message.qos, exclude, onlineOnly);
    if (member === undefined) {
      if (!onlineOnly) ctx.stats.publishDropped++;
      return false;
    }
    const options = member.options;
    const subId = options.subscriptionIdentifier;
    deliver(ctx, member.client, {
      message,
      qos: Math.min(message.qos, options.qos) as QoS,
      // 3.1.1 forwards with RETAIN 0 [MQTT-3.3.1-9]; v5 keeps it only with Retain As Published
      retain: options.retainAsPublished && message.retain,
      subscriptionIdentifiers: subId === undefined ? undefined : [subId],
      shareGroup: group.key,
    });
    return true;
  }
}
