// What a broker does when its cluster link reports something (ports.ts ClusterHandlers):
// messages and retained updates from other nodes, route changes, session handovers.
import { ReasonCode } from '../protocol/reason-codes.js';
import type { Cluster } from './cluster.js';
import type { BrokerContext, ClientRef } from './context.js';
import type { Message } from './message.js';
import type { ClusterHandlers } from './ports.js';
import { exportSession } from './session-transfer.js';

export interface ClusterHandlerHooks {
  /** Routes a message to the local plain subscribers only. */
  routePlain(message: Message): void;
  /** Drops a session that now lives on another node (no will, no hand-back). */
  release(ref: ClientRef): void;
  closed(): boolean;
}

export function createClusterHandlers(ctx: BrokerContext, cluster: Cluster, hooks: ClusterHandlerHooks): ClusterHandlers {
  return {
    routeAdded: (node, filter) => cluster.remoteRouteAdded(node, filter),
    routeRemoved: (node, filter) => cluster.remoteRouteRemoved(node, filter),
    nodeGone: (node) => cluster.nodeGone(node),
    message: (message, plain, groups) => {
      if (hooks.closed()) return;
      if (plain) hooks.routePlain(message);
      for (const key of groups) ctx.sharedSubscriptions.dispatchGroup(ctx, key, message);
    },
    retained: (message) => {
      ctx.deps.retained.set(message);
      ctx.durability.retained(message);
    },
    unretained: (topic) => {
      if (ctx.deps.retained.get(topic) === undefined) return;
      ctx.deps.retained.delete(topic);
      ctx.durability.unretained(topic);
    },
    takeover: (clientId) => {
      const ref = ctx.clients.get(clientId);
      if (ref === undefined) return undefined;
      ref.connection?.close('session_taken_over', {
        sendWill: true,
        disconnectCode: ReasonCode.SESSION_TAKEN_OVER,
        detail: 'client id connected to another node of the cluster',
      });
      // a session that ended with its connection is gone already
      if (ctx.clients.get(clientId) !== ref) return undefined;
      const session = exportSession(ref.state, ctx.deps.clock.now());
      hooks.release(ref);
      return session;
    },
    localRoutes: () => cluster.localRoutes(),
    localRetained: () => {
      const all: Message[] = [];
      ctx.deps.retained.match('#', (m) => all.push(m));
      return all;
    },
    localSessions: () => ctx.clients.keys(),
    sessionKept: (clientId) => {
      const ref = ctx.clients.get(clientId);
      if (ref !== undefined) ctx.durability.rewrite(ref.state, ref.connection === undefined ? ctx.deps.clock.now() : undefined);
    },
    dropSession: (clientId) => {
      const ref = ctx.clients.get(clientId);
      if (ref !== undefined && ref.connection === undefined) hooks.release(ref);
    },
  };
}
