// A copy of a cluster node's durable sessions in Redis, so that when the node dies another
// node can take a client's session over (takeSession) instead of starting it empty.
//
// The node's own store (SQLite) stays the source of truth; this is a DurableStore that
// the broker writes alongside it. commit() sends the turn's batch as one MULTI/EXEC and
// does not wait: a slow or absent Redis never holds back an acknowledgement.
//
// Layout: one HASH per session, culex:s:<clientId>
//   owner           node id that wrote the copy
//   meta            SessionRecord JSON
//   sub:<filter>    SubscriptionOptions JSON
//   d:<seq>         [u32 json length][DeliveryRecord JSON minus packetId/stage][message frame (wire.ts)]
//   p:<seq>         "<packetId>:<stage>" of an in-flight delivery (absent: queued)
//   in:<packetId>   "1": an incoming QoS 2 id not yet released
// An offline session's key expires 60 s after the session would; an online one's persists.
//
// A copy is only worth taking if it is whole: one that is missing writes would hand a
// client a session with, say, a subscription gone, and sessionPresent=1 tells the client
// not to subscribe again. So a copy is started from nothing (the first saveSession DELs
// the key and claims it), every later write is applied by a Lua script only while the key
// is still this node's, and when a batch is lost (Redis away, EXEC failed) the copies it
// touched are deleted rather than left partial. Such a session is not mirrored again until
// it ends and starts anew, or until mirrorSession() writes it whole.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Message } from '../../core/message.js';
import type { ClientIdentity, DeliveryRecord, DurableSnapshot, DurableStore, Logger, SessionRecord, TransferredSession, WillRecord } from '../../core/ports.js';
import type { SubscriptionOptions } from '../../core/session-state.js';
import type { QoS } from '../../protocol/types.js';
import { FrameKind, checkNodeId, decodeMessageFrame, encodeMessageFrame } from './wire.js';

export interface RedisSessionMirrorOptions {
  /** Owned and connected by the caller; best created with enableOfflineQueue: false. */
  redis: Redis;
  nodeId: string;
  logger: Logger;
}

const KEY_PREFIX = 'culex:s:';
const NO_EXPIRY = 0xffffffff;
/** An offline session's copy outlives the session by this much, so the owner's own delete normally comes first. */
const EXPIRY_MARGIN_MS = 60_000;

// The ops of one session in one batch, as ARGV after the node id, applied in order:
//   N               start a new copy: DEL the key, HSET owner = this node
//   K               delete the key if this node owns it
//   S field value   HSET      H field   HDEL
//   X ms            PEXPIRE   P         PERSIST
// S, H, X and P apply only while the key is this node's: after a handover or a Redis
// restart they change nothing (rather than leave a copy without owner, meta or TTL).
const APPLY = `
local key, me = KEYS[1], ARGV[1]
local mine = redis.call('HGET', key, 'owner') == me
local i = 2
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'N' then
    redis.call('DEL', key)
    redis.call('HSET', key, 'owner', me)
    mine = true
    i = i + 1
  elseif op == 'K' then
    if redis.call('HGET', key, 'owner') == me then redis.call('DEL', key) end
    mine = false
    i = i + 1
  elseif op == 'S' then
    if mine then redis.call('HSET', key, ARGV[i + 1], ARGV[i + 2]) end
    i = i + 3
  elseif op == 'H' then
    if mine then redis.call('HDEL', key, ARGV[i + 1]) end
    i = i + 2
  elseif op == 'X' then
    if mine then redis.call('PEXPIRE', key, ARGV[i + 1]) end
    i = i + 2
  elseif op == 'P' then
    if mine then redis.call('PERSIST', key) end
    i = i + 1
  else
    return redis.error_reply('ERR culex session mirror: unknown op ' .. tostring(op))
  end
end
if mine then return 1 else return 0 end
`;

type Arg = string | Buffer;

export class RedisSessionMirror implements DurableStore {
  readonly #redis: Redis;
  readonly #nodeId: string;
  readonly #logger: Logger;
  readonly #sha: string;
  /** Connections (ioredis streams) that have run APPLY once, so EVALSHA finds it cached. */
  readonly #scriptOn = new WeakSet<object>();
  /** Clients whose copy this mirror started (N): later writes go to it (and change nothing once it is gone or another node's). */
  readonly #copied = new Set<string>();
  /** Encoded messages by store id, while some stored delivery carries them (durability.ts deletes them with the last). */
  readonly #frames = new Map<number, Buffer>();
  /** The open batch: each session's ops in order. */
  #batch = new Map<string, Arg[]>();
  #outage = false;
  /** Batches not sent because Redis was not ready. */
  droppedBatches = 0;
  /** Batches sent whose MULTI/EXEC (or part of it) failed. */
  failedBatches = 0;

  constructor(options: RedisSessionMirrorOptions) {
    // the id is written into every message frame (u8 length) and compared by the script
    checkNodeId(options.nodeId);
    this.#redis = options.redis;
    this.#nodeId = options.nodeId;
    this.#logger = options.logger;
    this.#sha = sha1(APPLY);
  }

  /** A node restores from its own store; the mirror is only read by takeSession. */
  load(): DurableSnapshot {
    return { sessions: [], retained: [], wills: [], maxMessageId: 0, lastAlive: undefined };
  }

  saveSession(r: SessionRecord): void {
    const ops: Arg[] = [];
    if (!this.#copied.has(r.clientId)) {
      // a new copy: nothing of an earlier owner's copy may mix into it
      this.#copied.add(r.clientId);
      ops.push('N');
    }
    ops.push('S', 'meta', JSON.stringify(r));
    if (r.disconnectedAt !== undefined && r.expiryInterval !== NO_EXPIRY) {
      const remaining = r.disconnectedAt + r.expiryInterval * 1000 - Date.now();
      ops.push('X', String(Math.max(0, Math.ceil(remaining)) + EXPIRY_MARGIN_MS));
    } else ops.push('P');
    this.#push(r.clientId, ...ops);
  }

  deleteSession(clientId: string): void {
    this.#copied.delete(clientId);
    // owner-checked: a node that handed the session over may send this after the new owner wrote its copy
    this.#push(clientId, 'K');
  }

  saveSubscription(clientId: string, filter: string, options: SubscriptionOptions): void {
    this.#write(clientId, 'S', `sub:${filter}`, JSON.stringify(options));
  }

  deleteSubscription(clientId: string, filter: string): void {
    this.#write(clientId, 'H', `sub:${filter}`);
  }

  saveMessage(id: number, message: Message): void {
    this.#frames.set(id, encodeFrame(this.#nodeId, message));
  }

  deleteMessage(id: number): void {
    this.#frames.delete(id);
  }

  saveDelivery(clientId: string, record: DeliveryRecord): void {
    if (!this.#copied.has(clientId)) return;
    const frame = this.#frames.get(record.messageId);
    if (frame === undefined) {
      // stored before this mirror knew it (a restored message not given to mirrorSession): the copy would lack it
      this.#logger.warn({ clientId, messageId: record.messageId }, 'session mirror: delivery of an unknown message; the session is no longer mirrored');
      // after what this batch already holds for it: a copy started in this batch goes too
      this.#push(clientId, 'K');
      return;
    }
    this.#pushDelivery(clientId, record, frame);
  }

  updateDelivery(clientId: string, seq: number, packetId: number, stage: 'publish' | 'pubrel'): void {
    this.#write(clientId, 'S', `p:${seq}`, `${packetId}:${stage}`);
  }

  deleteDelivery(clientId: string, seq: number): void {
    this.#write(clientId, 'H', `d:${seq}`, 'H', `p:${seq}`);
  }

  saveIncomingQos2(clientId: string, packetId: number): void {
    this.#write(clientId, 'S', `in:${packetId}`, '1');
  }

  deleteIncomingQos2(clientId: string, packetId: number): void {
    this.#write(clientId, 'H', `in:${packetId}`);
  }

  // Retained messages travel with the cluster link; wills and liveness are the node's own.
  saveRetained(_message: Message): void {}
  deleteRetained(_topic: string): void {}
  saveWill(_record: WillRecord): void {}
  deleteWill(_clientId: string): void {}
  markAlive(_now: number): void {}

  /**
   * Writes a whole session as a new copy (replacing whatever Redis holds for it): for the
   * sessions a node restored from its own store at startup, which the broker does not
   * write again in full, or to repair a copy after Redis was away. Sent by the next commit().
   */
  rewriteSession(session: TransferredSession): void {
    this.mirrorSession(session);
  }

  mirrorSession(session: TransferredSession): void {
    const clientId = session.record.clientId;
    this.#copied.delete(clientId);
    this.#batch.delete(clientId);
    this.saveSession(session.record);
    for (const [filter, options] of session.subscriptions) this.saveSubscription(clientId, filter, options);
    for (const { record, message } of session.deliveries) {
      const frame = encodeFrame(this.#nodeId, message);
      // later deliveries of the same stored message (restored ids) find it here
      if (record.messageId !== 0) this.#frames.set(record.messageId, frame);
      this.#pushDelivery(clientId, record, frame);
    }
    for (const id of session.incomingQos2) this.saveIncomingQos2(clientId, id);
  }

  /** Sends the batch without waiting; never throws. A lost batch is counted and its copies deleted. */
  commit(): void {
    const batch = this.#batch;
    if (batch.size === 0) return;
    this.#batch = new Map();
    const redis = this.#redis;
    if (redis.status !== 'ready') {
      this.droppedBatches++;
      this.#lost(batch.keys(), 'session mirror: Redis not ready; the session copies written meanwhile are dropped', { status: redis.status });
      return;
    }
    const clients = [...batch.keys()];
    let sent: Promise<[Error | null, unknown][] | null>;
    try {
      const stream = redis.stream as object;
      let loaded = this.#scriptOn.has(stream);
      const multi = redis.multi();
      for (const [clientId, ops] of batch) {
        const key = KEY_PREFIX + clientId;
        // the first use on a connection sends the script itself (it may be a restarted, empty Redis)
        if (loaded) multi.evalsha(this.#sha, 1, key, this.#nodeId, ...ops);
        else multi.eval(APPLY, 1, key, this.#nodeId, ...ops);
        loaded = true;
      }
      this.#scriptOn.add(stream);
      sent = multi.exec();
    } catch (err) {
      this.#failed(clients, err);
      return;
    }
    sent.then(
      (results) => this.#settled(clients, results),
      (err: unknown) => this.#failed(clients, err),
    );
  }

  /**
   * Reads a session's copy and deletes it, atomically (one node takes it); undefined when
   * there is none, or when Redis cannot be read (logged). Fields that cannot be read are
   * skipped with a warning. Records carry messageId 0: the taker stores the messages anew.
   */
  async takeSession(clientId: string): Promise<TransferredSession | undefined> {
    const key = KEY_PREFIX + clientId;
    let results: [Error | null, unknown][] | null;
    try {
      results = await this.#redis.multi().hgetallBuffer(key).del(key).exec();
    } catch (err) {
      this.#logger.warn({ clientId, err: errorText(err) }, 'session mirror: could not take the session copy');
      return undefined;
    }
    const [read] = results ?? [];
    if (read === undefined || read[0] !== null) {
      this.#logger.warn({ clientId, err: errorText(read?.[0]) }, 'session mirror: could not take the session copy');
      return undefined;
    }
    // this node no longer writes a copy it started: the next one starts anew
    this.#copied.delete(clientId);
    return this.#rebuild(clientId, read[1] as Record<string, Buffer>);
  }

  #rebuild(clientId: string, fields: Record<string, Buffer>): TransferredSession | undefined {
    if (Object.keys(fields).length === 0) return undefined;
    const skip = (field: string, reason: string): void => {
      this.#logger.warn({ clientId, field, reason }, 'session mirror: unreadable field of a session copy skipped');
    };
    const meta = fields.meta;
    const record = meta === undefined ? undefined : parseOr(() => sessionFromJson(meta.toString('utf8'), clientId));
    if (record === undefined) {
      this.#logger.warn({ clientId, reason: meta === undefined ? 'missing' : 'not a session record' }, 'session mirror: a session copy without its record cannot be taken');
      return undefined;
    }
    const subscriptions: TransferredSession['subscriptions'] = [];
    const deliveries = new Map<number, { record: DeliveryRecord; message: Message; storedId: number }>();
    const stages = new Map<number, { packetId: number; stage: 'publish' | 'pubrel' }>();
    const incomingQos2: number[] = [];
    for (const [field, value] of Object.entries(fields)) {
      if (field === 'owner' || field === 'meta') continue;
      const colon = field.indexOf(':');
      const kind = field.slice(0, colon);
      const rest = field.slice(colon + 1);
      if (colon < 0) skip(field, 'unknown field');
      else if (kind === 'sub') {
        const options = parseOr(() => subscriptionFromJson(value.toString('utf8')));
        if (options === undefined) skip(field, 'not subscription options');
        else subscriptions.push([rest, options]);
      } else if (kind === 'd') {
        const seq = toInt(rest, 0, Number.MAX_SAFE_INTEGER);
        const delivery = seq === undefined ? undefined : parseOr(() => decodeDelivery(seq, value));
        if (delivery === undefined) skip(field, 'not a delivery');
        else deliveries.set(delivery.record.seq, delivery);
      } else if (kind === 'p') {
        const seq = toInt(rest, 0, Number.MAX_SAFE_INTEGER);
        const [id, stage] = value.toString('latin1').split(':');
        const packetId = toInt(id, 1, 65535);
        if (seq === undefined || packetId === undefined || (stage !== 'publish' && stage !== 'pubrel')) skip(field, 'not a packet id and stage');
        else stages.set(seq, { packetId, stage });
      } else if (kind === 'in') {
        const packetId = toInt(rest, 1, 65535);
        if (packetId === undefined) skip(field, 'not a packet id');
        else incomingQos2.push(packetId);
      } else skip(field, 'unknown field');
    }
    // one Message object per stored message, as a store's snapshot has it
    const messages = new Map<number, Message>();
    const ordered: TransferredSession['deliveries'] = [];
    for (const seq of [...deliveries.keys()].sort((a, b) => a - b)) {
      const d = deliveries.get(seq) as { record: DeliveryRecord; message: Message; storedId: number };
      let message = d.message;
      if (d.storedId !== 0) {
        const seen = messages.get(d.storedId);
        if (seen === undefined) messages.set(d.storedId, message);
        else message = seen;
      }
      const stage = stages.get(seq);
      if (stage !== undefined) {
        d.record.packetId = stage.packetId;
        d.record.stage = stage.stage;
      }
      ordered.push({ record: d.record, message });
    }
    subscriptions.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    incomingQos2.sort((a, b) => a - b);
    return { record, subscriptions, deliveries: ordered, incomingQos2 };
  }

  /** A write to a copy this mirror started; none for one it did not (a restored session the broker does not write whole). */
  #write(clientId: string, ...ops: Arg[]): void {
    if (this.#copied.has(clientId)) this.#push(clientId, ...ops);
  }

  #pushDelivery(clientId: string, record: DeliveryRecord, frame: Buffer): void {
    this.#push(clientId, 'S', `d:${record.seq}`, encodeDelivery(record, frame));
    // a queued delivery has no p: field (packet id 0, 'publish' when taken)
    if (record.packetId !== 0 || record.stage !== 'publish') this.#push(clientId, 'S', `p:${record.seq}`, `${record.packetId}:${record.stage}`);
  }

  #push(clientId: string, ...ops: Arg[]): void {
    let list = this.#batch.get(clientId);
    if (list === undefined) this.#batch.set(clientId, (list = []));
    list.push(...ops);
  }

  /**
   * The copy missed writes: the next batch deletes it first. What follows changes nothing
   * (the key is gone) unless it starts a new copy (N), which is then whole.
   */
  #break(clientId: string): void {
    const ops = this.#batch.get(clientId);
    if (ops === undefined) this.#batch.set(clientId, ['K']);
    else ops.unshift('K');
  }

  #lost(clients: Iterable<string>, message: string, fields: object): void {
    if (!this.#outage) this.#logger.warn(fields, message);
    this.#outage = true;
    for (const clientId of clients) this.#break(clientId);
  }

  #failed(clients: readonly string[], err: unknown): void {
    this.failedBatches++;
    // the whole MULTI may or may not have run: every copy it touched is suspect
    this.#lost(clients, 'session mirror: a batch to Redis failed; the session copies it touched are dropped', { err: errorText(err) });
  }

  #settled(clients: readonly string[], results: [Error | null, unknown][] | null): void {
    if (results === null) {
      this.#failed(clients, new Error('EXEC aborted'));
      return;
    }
    const broken: string[] = [];
    let err: Error | undefined;
    results.forEach(([e], i) => {
      if (e === null) return;
      err = e;
      // a server that lost its script cache (SCRIPT FLUSH): send the script itself next time
      if (e.message.includes('NOSCRIPT')) this.#scriptOn.delete(this.#redis.stream as object);
      const clientId = clients[i];
      if (clientId !== undefined) broken.push(clientId);
    });
    if (err !== undefined) {
      this.#failed(broken, err);
      return;
    }
    if (this.#outage) this.#logger.info({}, 'session mirror: Redis writes again');
    this.#outage = false;
  }
}

function encodeFrame(nodeId: string, message: Message): Buffer {
  return encodeMessageFrame(FrameKind.Message, nodeId, message, false, []);
}

/** [u32 json length][json][message frame] */
function encodeDelivery(record: DeliveryRecord, frame: Buffer): Buffer {
  const { packetId: _packetId, stage: _stage, ...rest } = record;
  const json = Buffer.from(JSON.stringify(rest));
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(json.length, 0);
  return Buffer.concat([head, json, frame]);
}

function decodeDelivery(seq: number, b: Buffer): { record: DeliveryRecord; message: Message; storedId: number } {
  const n = b.readUInt32BE(0);
  if (4 + n > b.length) throw new Error('truncated');
  const j = JSON.parse(b.toString('utf8', 4, 4 + n)) as Record<string, unknown>;
  const ids = j.subscriptionIdentifiers;
  if (!isQos(j.qos) || typeof j.retain !== 'boolean') throw new Error('bad record');
  if (ids !== undefined && !(Array.isArray(ids) && ids.every((x) => Number.isInteger(x)))) throw new Error('bad subscription identifiers');
  if (j.shareGroup !== undefined && typeof j.shareGroup !== 'string') throw new Error('bad share group');
  const message = decodeMessageFrame(b.subarray(4 + n)).message;
  const record: DeliveryRecord = {
    seq,
    messageId: 0,
    qos: j.qos,
    retain: j.retain,
    subscriptionIdentifiers: ids as number[] | undefined,
    shareGroup: j.shareGroup as string | undefined,
    packetId: 0,
    stage: 'publish',
  };
  return { record, message, storedId: typeof j.messageId === 'number' ? j.messageId : 0 };
}

function sessionFromJson(text: string, clientId: string): SessionRecord {
  const j = JSON.parse(text) as Record<string, unknown>;
  if (j.clientId !== clientId || typeof j.expiryInterval !== 'number') throw new Error('bad record');
  if (j.disconnectedAt !== undefined && typeof j.disconnectedAt !== 'number') throw new Error('bad disconnectedAt');
  let owner: ClientIdentity | undefined;
  if (j.owner !== undefined && j.owner !== null) {
    const o = j.owner as Record<string, unknown>;
    if (typeof o.clientId !== 'string') throw new Error('bad owner');
    // JSON drops undefined fields: give them back, so the record has the shape the broker made
    owner = { clientId: o.clientId, username: optionalString(o.username), identity: optionalString(o.identity) };
  }
  return { clientId, expiryInterval: j.expiryInterval, owner, disconnectedAt: j.disconnectedAt as number | undefined };
}

function subscriptionFromJson(text: string): SubscriptionOptions {
  const j = JSON.parse(text) as Record<string, unknown>;
  const rh = j.retainHandling;
  const id = j.subscriptionIdentifier;
  if (!isQos(j.qos) || typeof j.noLocal !== 'boolean' || typeof j.retainAsPublished !== 'boolean' || (rh !== 0 && rh !== 1 && rh !== 2)) throw new Error('bad options');
  if (id !== undefined && !Number.isInteger(id)) throw new Error('bad subscription identifier');
  return { qos: j.qos, noLocal: j.noLocal, retainAsPublished: j.retainAsPublished, retainHandling: rh, subscriptionIdentifier: id as number | undefined };
}

function optionalString(x: unknown): string | undefined {
  if (x === undefined || x === null) return undefined;
  if (typeof x !== 'string') throw new Error('not a string');
  return x;
}

function isQos(x: unknown): x is QoS {
  return x === 0 || x === 1 || x === 2;
}

function toInt(text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined || !/^\d{1,16}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

function parseOr<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch {
    return undefined;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}
