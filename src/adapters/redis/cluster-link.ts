// The cluster transport over one Redis server (ports.ts ClusterLink).
//
// Keys (all under `culex:`), each bounded:
//   nodes              ZSET node -> last heartbeat (ms); entries older than a minute are removed
//   routes:<node>      HASH filter -> 1: that node's routes; expires 30 s after its last heartbeat
//   retained           HASH topic -> message frame: one entry per retained topic (max_retained_messages)
//   session:<client>   STRING node holding the session; deleted when the session ends, and
//                      set to expire with an offline session's expiry interval
// Channels: node:<node> (messages and takeovers for one node), routes (route changes),
// retained (retained updates), hello (a node (re)joined or left).
//
// Redis pub/sub delivers at most once: while a node's connection to Redis is down, what
// others send it is lost, and it sends nothing (forwards are dropped and counted rather
// than queued, so memory stays bounded). When a connection comes back, the node announces
// its routes, retained messages and sessions again, and reloads the others'.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Message } from '../../core/message.js';
import type { ClusterHandlers, ClusterLink, Logger, TransferredSession } from '../../core/ports.js';
import {
  ClusterConfigError,
  FrameKind,
  checkNodeId,
  decodeBatch,
  decodeJsonFrame,
  encodeBatch,
  decodeMessageFrame,
  encodeJsonFrame,
  encodeMessageFrame,
  redisOptions,
  sessionFromJson,
  sessionToJson,
} from './wire.js';

export { ClusterConfigError };

export interface RedisClusterLinkOptions {
  url: string;
  nodeId: string;
  logger: Logger;
  /** Heartbeat period (default 1000 ms). */
  heartbeatMs?: number;
  /** A node without a heartbeat for this long has left (default 5000 ms). */
  nodeTimeoutMs?: number;
  /** How long a connecting client waits for another node to hand its session over (default 3000 ms). */
  claimTimeoutMs?: number;
  /** Where a session held by a node that died can be taken from (the session mirror). */
  orphans?: { takeSession(clientId: string): Promise<TransferredSession | undefined> };
}

const P = 'culex:';
const MAX_GROUPS_PER_FRAME = 255;
// compare-and-delete: only the holder named in the registry may remove the entry
const CAD = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
const EXPIRE_IF_MINE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) else return 0 end";

interface PendingClaim {
  resolve: (s: TransferredSession | undefined) => void;
  timer: NodeJS.Timeout;
}

export class RedisClusterLink implements ClusterLink {
  readonly nodeId: string;
  readonly #url: string;
  readonly #logger: Logger;
  readonly #heartbeatMs: number;
  readonly #nodeTimeoutMs: number;
  readonly #claimTimeoutMs: number;
  readonly #orphans: RedisClusterLinkOptions['orphans'];
  #cmd: Redis | undefined;
  #sub: Redis | undefined;
  #handlers: ClusterHandlers | undefined;
  #ready = false;
  #joined = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  /** Other live nodes. */
  readonly #live = new Set<string>();
  readonly #claims = new Map<string, PendingClaim>();
  /** Frames per node waiting for the end of the turn (at most one turn's worth). */
  readonly #batches = new Map<string, Buffer[]>();
  #flushScheduled = false;
  /** Forwards dropped because Redis was unreachable (for $SYS and tests). */
  dropped = 0;

  constructor(options: RedisClusterLinkOptions) {
    checkNodeId(options.nodeId);
    if (!/^rediss?:\/\//.test(options.url)) throw new ClusterConfigError(`cluster "${options.url}": expected redis://host:port`);
    this.nodeId = options.nodeId;
    this.#url = options.url;
    this.#logger = options.logger;
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    this.#nodeTimeoutMs = options.nodeTimeoutMs ?? 5000;
    this.#claimTimeoutMs = options.claimTimeoutMs ?? 3000;
    this.#orphans = options.orphans;
  }

  start(handlers: ClusterHandlers): void {
    this.#handlers = handlers;
    const options = redisOptions();
    const cmd = new Redis(this.#url, options);
    const sub = new Redis(this.#url, options);
    this.#cmd = cmd;
    this.#sub = sub;
    let warned = false;
    const onError = (err: Error): void => {
      // ioredis reports every failed reconnect; say it once per outage
      if (!warned) this.#logger.warn({ err: err.message, cluster: this.#url }, 'cluster: Redis unreachable; retrying');
      warned = true;
    };
    cmd.on('error', onError);
    sub.on('error', onError);
    cmd.on('close', () => {
      if (this.#ready) this.#logger.warn({ cluster: this.#url }, 'cluster: lost Redis; serving local clients only until it is back');
      this.#ready = false;
    });
    sub.on('ready', () => {
      sub.subscribe(`${P}node:${this.nodeId}`, `${P}routes`, `${P}retained`, `${P}hello`).catch((err: Error) => onError(err));
    });
    sub.on('messageBuffer', (channel: Buffer, data: Buffer) => this.#onMessage(channel.toString(), data));
    cmd.on('ready', () => {
      warned = false;
      this.#sync().catch((err: Error) => this.#logger.warn({ err: err.message }, 'cluster: sync with Redis failed; retrying at the next heartbeat'));
    });
    this.#timer = setInterval(() => this.#heartbeat(), this.#heartbeatMs);
    this.#timer.unref();
  }

  members(): readonly string[] {
    return [this.nodeId, ...this.#live];
  }

  routeAdded(filter: string): void {
    if (!this.#ready) return;
    const cmd = this.#cmd as Redis;
    this.#quiet(cmd.hset(`${P}routes:${this.nodeId}`, filter, '1'));
    this.#quiet(cmd.publish(`${P}routes`, `${this.nodeId}\u0000+${filter}`));
  }

  routeRemoved(filter: string): void {
    if (!this.#ready) return;
    const cmd = this.#cmd as Redis;
    this.#quiet(cmd.hdel(`${P}routes:${this.nodeId}`, filter));
    this.#quiet(cmd.publish(`${P}routes`, `${this.nodeId}\u0000-${filter}`));
  }

  forward(node: string, message: Message, plain: boolean, groups: readonly string[]): void {
    if (!this.#ready) {
      this.dropped++;
      return;
    }
    if (groups.length <= MAX_GROUPS_PER_FRAME) {
      this.#queue(node, encodeMessageFrame(FrameKind.Message, this.nodeId, message, plain, groups));
      return;
    }
    for (let i = 0; i < groups.length; i += MAX_GROUPS_PER_FRAME) {
      const part = groups.slice(i, i + MAX_GROUPS_PER_FRAME);
      this.#queue(node, encodeMessageFrame(FrameKind.Message, this.nodeId, message, plain && i === 0, part));
    }
  }

  /** Frames for one node collect during the event-loop turn and leave as one PUBLISH. */
  #queue(node: string, frame: Buffer): void {
    let list = this.#batches.get(node);
    if (list === undefined) this.#batches.set(node, (list = []));
    list.push(frame);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
  }

  flush(): void {
    if (this.#batches.size > 0) this.#flush();
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const cmd = this.#cmd;
    for (const [node, frames] of this.#batches) {
      if (cmd === undefined || !this.#ready) this.dropped += frames.length;
      else this.#quiet(cmd.publish(`${P}node:${node}`, frames.length === 1 ? (frames[0] as Buffer) : encodeBatch(frames)));
    }
    this.#batches.clear();
  };

  retained(message: Message): void {
    if (!this.#ready) return;
    const cmd = this.#cmd as Redis;
    const frame = encodeMessageFrame(FrameKind.RetainedSet, this.nodeId, message, false, []);
    this.#quiet(cmd.hset(`${P}retained`, message.topic, frame));
    this.#quiet(cmd.publish(`${P}retained`, frame));
  }

  unretained(topic: string): void {
    if (!this.#ready) return;
    const cmd = this.#cmd as Redis;
    this.#quiet(cmd.hdel(`${P}retained`, topic));
    this.#quiet(cmd.publish(`${P}retained`, encodeJsonFrame(FrameKind.RetainedDelete, { node: this.nodeId, topic })));
  }

  async claimSession(clientId: string): Promise<TransferredSession | undefined> {
    if (!this.#ready) return undefined;
    const cmd = this.#cmd as Redis;
    let previous: string | null;
    try {
      previous = (await cmd.call('SET', `${P}session:${clientId}`, this.nodeId, 'GET')) as string | null;
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message, clientId }, 'cluster: session registry unreachable; the client connects here without a handover');
      return undefined;
    }
    if (previous === null || previous === this.nodeId) return undefined;
    if (!this.#live.has(previous)) {
      // its node died: take the session from the mirror it kept in Redis, if any
      if (this.#orphans === undefined) return undefined;
      try {
        const session = await this.#orphans.takeSession(clientId);
        if (session !== undefined) this.#logger.info({ clientId, node: previous }, 'cluster: session taken over from a node that left');
        return session;
      } catch (err) {
        this.#logger.warn({ err: (err as Error).message, clientId }, 'cluster: could not read the session mirror');
        return undefined;
      }
    }
    const id = randomBytes(8).toString('hex');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#claims.delete(id);
        this.#logger.warn({ clientId, node: previous }, 'cluster: no session handover in time; the client starts here without it');
        resolve(undefined);
      }, this.#claimTimeoutMs);
      this.#claims.set(id, { resolve, timer });
      cmd.publish(`${P}node:${previous}`, encodeJsonFrame(FrameKind.TakeoverRequest, { id, clientId, from: this.nodeId })).catch(() => {
        clearTimeout(timer);
        this.#claims.delete(id);
        resolve(undefined);
      });
    });
  }

  sessionEnded(clientId: string): void {
    if (!this.#ready) return;
    this.#quiet((this.#cmd as Redis).eval(CAD, 1, `${P}session:${clientId}`, this.nodeId));
  }

  sessionOffline(clientId: string, seconds: number): void {
    if (!this.#ready) return;
    // a margin over the session's own expiry; a reconnect's SET clears it
    this.#quiet((this.#cmd as Redis).eval(EXPIRE_IF_MINE, 1, `${P}session:${clientId}`, this.nodeId, String(seconds + 60)));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    for (const [, claim] of this.#claims) {
      clearTimeout(claim.timer);
      claim.resolve(undefined);
    }
    this.#claims.clear();
    const cmd = this.#cmd;
    if (cmd !== undefined && this.#ready) {
      try {
        await cmd.zrem(`${P}nodes`, this.nodeId);
        await cmd.del(`${P}routes:${this.nodeId}`);
        await cmd.publish(`${P}hello`, `bye\u0000${this.nodeId}`);
      } catch {
        // leaving anyway: the others notice the missing heartbeat
      }
    }
    this.#ready = false;
    cmd?.disconnect();
    this.#sub?.disconnect();
  }

  /** After every (re)connection: announce this node's state, load the others'. */
  async #sync(): Promise<void> {
    const cmd = this.#cmd as Redis;
    const handlers = this.#handlers as ClusterHandlers;
    const now = Date.now();
    await cmd.zadd(`${P}nodes`, now, this.nodeId);
    const routesKey = `${P}routes:${this.nodeId}`;
    await cmd.del(routesKey);
    const routes = [...handlers.localRoutes()];
    for (let i = 0; i < routes.length; i += 500) {
      const args: string[] = [];
      for (const f of routes.slice(i, i + 500)) args.push(f, '1');
      await cmd.hset(routesKey, ...args);
    }
    await cmd.pexpire(routesKey, 30_000);
    for (const message of handlers.localRetained()) {
      await cmd.hset(`${P}retained`, message.topic, encodeMessageFrame(FrameKind.RetainedSet, this.nodeId, message, false, []));
    }
    await this.#refreshMembers(true);
    for (const clientId of [...handlers.localSessions()]) {
      const key = `${P}session:${clientId}`;
      const holder = await cmd.get(key);
      if (holder !== null && holder !== this.nodeId && this.#live.has(holder)) handlers.dropSession(clientId);
      else {
        await cmd.set(key, this.nodeId);
        handlers.sessionKept(clientId);
      }
    }
    const retained = await cmd.hgetallBuffer(`${P}retained`);
    for (const frame of Object.values(retained)) {
      try {
        const f = decodeMessageFrame(frame);
        if (f.node !== this.nodeId) handlers.retained(f.message);
      } catch (err) {
        this.#logger.warn({ err: (err as Error).message }, 'cluster: unreadable retained entry skipped');
      }
    }
    this.#ready = true;
    await cmd.publish(`${P}hello`, `hi\u0000${this.nodeId}`);
    this.#logger.info({ node: this.nodeId, nodes: this.members() }, this.#joined ? 'cluster rejoined' : 'cluster joined');
    this.#joined = true;
  }

  #heartbeat(): void {
    if (!this.#ready) return;
    const cmd = this.#cmd as Redis;
    const now = Date.now();
    this.#quiet(cmd.zadd(`${P}nodes`, now, this.nodeId));
    this.#quiet(cmd.pexpire(`${P}routes:${this.nodeId}`, 30_000));
    this.#quiet(cmd.zremrangebyscore(`${P}nodes`, '-inf', now - 60_000));
    this.#refreshMembers(false).catch(() => undefined);
  }

  /** Live nodes from the heartbeats: newcomers' routes are loaded, the departed ones' dropped. */
  async #refreshMembers(reloadAll: boolean): Promise<void> {
    const cmd = this.#cmd as Redis;
    const handlers = this.#handlers as ClusterHandlers;
    const live = new Set(await cmd.zrangebyscore(`${P}nodes`, Date.now() - this.#nodeTimeoutMs, '+inf'));
    live.delete(this.nodeId);
    for (const node of [...this.#live]) {
      if (!live.has(node)) {
        this.#live.delete(node);
        handlers.nodeGone(node);
        this.#logger.warn({ node }, 'cluster: node left (no heartbeat)');
      }
    }
    for (const node of live) {
      if (this.#live.has(node) && !reloadAll) continue;
      this.#live.add(node);
      await this.#loadRoutes(node);
    }
  }

  async #loadRoutes(node: string): Promise<void> {
    const handlers = this.#handlers as ClusterHandlers;
    const filters = await (this.#cmd as Redis).hkeys(`${P}routes:${node}`);
    handlers.nodeGone(node);
    for (const filter of filters) handlers.routeAdded(node, filter);
  }

  #onMessage(channel: string, data: Buffer): void {
    const handlers = this.#handlers;
    if (handlers === undefined || this.#closed) return;
    try {
      if (channel === `${P}node:${this.nodeId}`) this.#onDirect(handlers, data);
      else if (channel === `${P}routes`) {
        const text = data.toString();
        const sep = text.indexOf('\u0000');
        const node = text.slice(0, sep);
        if (node === this.nodeId || sep < 0) return;
        const filter = text.slice(sep + 2);
        if (text[sep + 1] === '+') handlers.routeAdded(node, filter);
        else handlers.routeRemoved(node, filter);
      } else if (channel === `${P}retained`) {
        if (data[0] === FrameKind.RetainedDelete) {
          const { node, topic } = decodeJsonFrame<{ node: string; topic: string }>(data);
          if (node !== this.nodeId) handlers.unretained(topic);
          return;
        }
        const f = decodeMessageFrame(data);
        if (f.node !== this.nodeId) handlers.retained(f.message);
      } else if (channel === `${P}hello`) {
        const [what, node] = data.toString().split('\u0000');
        if (node === undefined || node === this.nodeId) return;
        if (what === 'bye') {
          this.#live.delete(node);
          handlers.nodeGone(node);
        } else {
          this.#live.add(node);
          this.#loadRoutes(node).catch(() => undefined);
        }
      }
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message, channel }, 'cluster: frame ignored');
    }
  }

  #onDirect(handlers: ClusterHandlers, data: Buffer): void {
    const kind = data[0];
    if (kind === FrameKind.Batch) {
      for (const frame of decodeBatch(data)) this.#onDirect(handlers, frame);
    } else if (kind === FrameKind.Message) {
      const f = decodeMessageFrame(data);
      handlers.message(f.message, f.plain, f.groups);
    } else if (kind === FrameKind.TakeoverRequest) {
      const { id, clientId, from } = decodeJsonFrame<{ id: string; clientId: string; from: string }>(data);
      const session = handlers.takeover(clientId);
      this.#quiet(
        (this.#cmd as Redis).publish(`${P}node:${from}`, encodeJsonFrame(FrameKind.TakeoverReply, { id, session: session === undefined ? null : sessionToJson(session) })),
      );
    } else if (kind === FrameKind.TakeoverReply) {
      const { id, session } = decodeJsonFrame<{ id: string; session: unknown }>(data);
      const claim = this.#claims.get(id);
      if (claim === undefined) return;
      this.#claims.delete(id);
      clearTimeout(claim.timer);
      claim.resolve(session === null ? undefined : sessionFromJson(session));
    }
  }

  /** Fire-and-forget commands: a failure (Redis away) is already reported by the connection. */
  #quiet(p: Promise<unknown>): void {
    p.catch(() => undefined);
  }
}
