// Several brokers acting as one: the routing decisions, made here; the transport between
// nodes (ports.ts ClusterLink, adapters/redis) only carries them.
//
// - Routes: every node announces the filters its sessions hold (plain or `$share/...`),
//   counted here so only the first and the last subscription to a filter are announced.
//   Other nodes' filters sit in one trie (plain ones by filter, shared ones by their inner
//   filter), keyed by node.
// - A message published here goes once to each other node with a matching plain filter.
//   Each matching shared group, local or remote, gets it exactly once cluster-wide: a
//   rotating choice among the nodes whose sessions are members (this one included) picks
//   the node, and that node picks the member (shared-subscriptions.ts).
// - A message from another node is routed to local plain subscribers (if it says so) and to
//   the groups it names; it is never forwarded again, nor retained here (the node it came
//   from stores retained messages cluster-wide). `$SYS/` topics stay on their node.
import { parseSharedSubscription, TopicTrie } from '../topic/index.js';
import type { BrokerContext } from './context.js';
import type { Message } from './message.js';
import type { ClusterLink } from './ports.js';

const MAX_ROTATIONS = 100_000;

interface RemoteRoute {
  readonly node: string;
  /** The `$share/...` key for a shared subscription; undefined for a plain one. */
  readonly group: string | undefined;
}

interface Outgoing {
  plain: boolean;
  groups: string[];
}

export class Cluster {
  readonly link: ClusterLink;
  /** Local subscriptions per filter (plain or `$share/...`): the routes this node announces. */
  readonly #local = new Map<string, number>();
  readonly #remote = new TopicTrie<RemoteRoute>();
  /** Node -> the filters it announced (to drop them when it leaves). */
  readonly #byNode = new Map<string, Set<string>>();
  /** Shared group -> rotation counter (which holder node gets the next message). */
  readonly #rotation = new Map<string, number>();
  // scratch for one publish
  readonly #out = new Map<string, Outgoing>();
  readonly #groupNodes = new Map<string, string[]>();
  readonly #visitRemote = (route: RemoteRoute): void => this.#collect(route);

  constructor(link: ClusterLink) {
    this.link = link;
  }

  get nodeId(): string {
    return this.link.nodeId;
  }

  /** The filters this node announces (for the link to re-announce after a reconnect). */
  localRoutes(): IterableIterator<string> {
    return this.#local.keys();
  }

  // --- local routes -------------------------------------------------------------------

  subscribed(filter: string): void {
    const n = this.#local.get(filter) ?? 0;
    this.#local.set(filter, n + 1);
    if (n === 0) this.link.routeAdded(filter);
  }

  unsubscribed(filter: string): void {
    const n = this.#local.get(filter);
    if (n === undefined) return;
    if (n > 1) this.#local.set(filter, n - 1);
    else {
      this.#local.delete(filter);
      this.link.routeRemoved(filter);
    }
  }

  // --- remote routes ------------------------------------------------------------------

  remoteRouteAdded(node: string, filter: string): void {
    if (node === this.nodeId) return;
    let filters = this.#byNode.get(node);
    if (filters === undefined) this.#byNode.set(node, (filters = new Set()));
    if (filters.has(filter)) return;
    const shared = parseSharedSubscription(filter);
    if (shared !== undefined && !shared.valid) return;
    filters.add(filter);
    this.#remote.add(shared === undefined ? filter : shared.filter, `${node}\u0000${filter}`, { node, group: shared === undefined ? undefined : filter });
  }

  remoteRouteRemoved(node: string, filter: string): void {
    const filters = this.#byNode.get(node);
    if (filters === undefined || !filters.delete(filter)) return;
    const shared = parseSharedSubscription(filter);
    this.#remote.remove(shared?.valid === true ? shared.filter : filter, `${node}\u0000${filter}`);
  }

  /** A node left the cluster (or is being reloaded): forget its routes. */
  nodeGone(node: string): void {
    const filters = this.#byNode.get(node);
    if (filters === undefined) return;
    for (const filter of [...filters]) this.remoteRouteRemoved(node, filter);
    this.#byNode.delete(node);
  }

  /** Nodes that announced at least one route. */
  get knownNodes(): number {
    return this.#byNode.size;
  }

  // --- routing ------------------------------------------------------------------------

  /**
   * Sends a message published on this node to the other nodes that need it, and hands each
   * matching shared group to exactly one node (this one: dispatched here and now).
   */
  route(ctx: BrokerContext, message: Message): void {
    if (message.topic.startsWith('$SYS/')) {
      ctx.sharedSubscriptions.route(ctx, message);
      return;
    }
    const out = this.#out;
    const groupNodes = this.#groupNodes;
    this.#remote.match(message.topic, this.#visitRemote);
    ctx.sharedSubscriptions.matchGroups(message.topic, (key) => {
      const nodes = groupNodes.get(key);
      if (nodes === undefined) groupNodes.set(key, [this.nodeId]);
      else nodes.push(this.nodeId);
    });
    for (const [key, nodes] of groupNodes) {
      const turn = this.#rotation.get(key) ?? 0;
      // one counter per group seen; bounded by starting over when there are very many
      if (this.#rotation.size >= MAX_ROTATIONS) this.#rotation.clear();
      this.#rotation.set(key, turn + 1 >= 1_000_000 ? 0 : turn + 1);
      // nodes in a stable order, so the rotation is fair
      nodes.sort();
      const chosen = nodes[turn % nodes.length] as string;
      if (chosen === this.nodeId) ctx.sharedSubscriptions.dispatchGroup(ctx, key, message);
      else this.#outgoing(chosen).groups.push(key);
    }
    groupNodes.clear();
    for (const [node, o] of out) this.link.forward(node, message, o.plain, o.groups);
    out.clear();
  }

  #collect(route: RemoteRoute): void {
    if (route.group === undefined) {
      this.#outgoing(route.node).plain = true;
      return;
    }
    const nodes = this.#groupNodes.get(route.group);
    if (nodes === undefined) this.#groupNodes.set(route.group, [route.node]);
    else if (!nodes.includes(route.node)) nodes.push(route.node);
  }

  #outgoing(node: string): Outgoing {
    let o = this.#out.get(node);
    if (o === undefined) this.#out.set(node, (o = { plain: false, groups: [] }));
    return o;
  }
}
