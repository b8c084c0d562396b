// What cluster nodes send each other through Redis: binary frames for messages (the hot
// path: no JSON unless the message has v5 properties), JSON for the rare session handover.
import { createMessage, type Message } from '../../core/message.js';
import type { TransferredSession } from '../../core/ports.js';
import type { QoS } from '../../protocol/types.js';
import type { RedisOptions } from 'ioredis';
import { propertiesFromJson, propertiesToJson } from '../shared/properties-json.js';

export const enum FrameKind {
  /** A published message for the receiving node's subscribers / share groups. */
  Message = 1,
  TakeoverRequest = 2,
  TakeoverReply = 3,
  RetainedSet = 4,
  RetainedDelete = 5,
  /** Several frames for one node, sent in one PUBLISH: [6]([u32 length][frame])* */
  Batch = 6,
}

/** One PUBLISH for all the frames of one event-loop turn to one node. */
export function encodeBatch(frames: readonly Buffer[]): Buffer {
  let size = 1;
  for (const f of frames) size += 4 + f.length;
  const b = Buffer.allocUnsafe(size);
  b[0] = FrameKind.Batch;
  let p = 1;
  for (const f of frames) {
    b.writeUInt32BE(f.length, p);
    f.copy(b, p + 4);
    p += 4 + f.length;
  }
  return b;
}

/** The frames of a batch, as views into it. */
export function decodeBatch(b: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  let p = 1;
  while (p < b.length) {
    if (p + 4 > b.length) throw new WireError('truncated batch');
    const n = b.readUInt32BE(p);
    if (p + 4 + n > b.length) throw new WireError('truncated batch');
    frames.push(b.subarray(p + 4, p + 4 + n));
    p += 4 + n;
  }
  return frames;
}

const F_RETAIN = 4;
const F_PLAIN = 8;
const F_EXPIRY = 16;
const F_ORIGIN = 32;
const F_PROPS = 64;

/** Thrown for a frame this version cannot read (another Culex version, or garbage on the channel). */
export class WireError extends Error {
  readonly code = 'CLUSTER_FRAME_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

/** Thrown for a node id or cluster URL the operator got wrong (the config loader checks both first). */
export class ClusterConfigError extends Error {
  readonly code = 'CLUSTER_CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ClusterConfigError';
  }
}

/** A node id is written into every frame with a one-byte length and compared in Lua scripts. */
export function checkNodeId(nodeId: string): void {
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(nodeId)) throw new ClusterConfigError(`node id "${nodeId}": 1 to 64 characters of A-Z a-z 0-9 . _ : -`);
}

/**
 * ioredis options for every cluster connection: nothing queues while Redis is away (callers
 * see a failure and drop: bounded memory), and nothing is auto-pipelined (a command is
 * written when issued, so forwards leave before the PUBACKs written right after them).
 */
export function redisOptions(): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: false,
    retryStrategy: (times: number) => Math.min(times * 100, 1000),
    lazyConnect: false,
  };
}

export interface MessageFrame {
  kind: FrameKind.Message | FrameKind.RetainedSet;
  /** The node that sent it (retained updates are broadcast to every node, the sender too). */
  node: string;
  message: Message;
  plain: boolean;
  groups: string[];
}

/** [kind][u8 node len][node][flags][u16 topic][topic]([u16 origin][origin])([f64 expiry])([u32 props][json])[u8 groups]([u16][group])*[payload] */
export function encodeMessageFrame(kind: FrameKind.Message | FrameKind.RetainedSet, node: string, m: Message, plain: boolean, groups: readonly string[]): Buffer {
  const props = m.properties === undefined ? null : propertiesToJson(m.properties);
  let size = 1 + 1 + Buffer.byteLength(node) + 1 + 2 + Buffer.byteLength(m.topic) + 1 + m.payload.length;
  if (m.origin !== undefined) size += 2 + Buffer.byteLength(m.origin);
  if (m.expiresAt !== undefined) size += 8;
  if (props !== null) size += 4 + Buffer.byteLength(props);
  for (const g of groups) size += 2 + Buffer.byteLength(g);
  const b = Buffer.allocUnsafe(size);
  let p = 0;
  b[p++] = kind;
  p = writeShort(b, p, node, 1);
  b[p++] = m.qos | (m.retain ? F_RETAIN : 0) | (plain ? F_PLAIN : 0) | (m.expiresAt !== undefined ? F_EXPIRY : 0) | (m.origin !== undefined ? F_ORIGIN : 0) | (props !== null ? F_PROPS : 0);
  p = writeShort(b, p, m.topic, 2);
  if (m.origin !== undefined) p = writeShort(b, p, m.origin, 2);
  if (m.expiresAt !== undefined) p = b.writeDoubleBE(m.expiresAt, p);
  if (props !== null) {
    const n = b.write(props, p + 4);
    b.writeUInt32BE(n, p);
    p += 4 + n;
  }
  b[p++] = groups.length;
  for (const g of groups) p = writeShort(b, p, g, 2);
  m.payload.copy(b, p);
  return b;
}

export function decodeMessageFrame(b: Buffer): MessageFrame {
  try {
    let p = 0;
    const kind = b[p++] as FrameKind;
    if (kind !== FrameKind.Message && kind !== FrameKind.RetainedSet) throw new WireError(`not a message frame (kind ${kind})`);
    const [node, afterNode] = readShort(b, p, 1);
    p = afterNode;
    const flags = b[p++] as number;
    const [topic, afterTopic] = readShort(b, p, 2);
    p = afterTopic;
    let origin: string | undefined;
    if ((flags & F_ORIGIN) !== 0) [origin, p] = readShort(b, p, 2);
    let expiresAt: number | undefined;
    if ((flags & F_EXPIRY) !== 0) {
      expiresAt = b.readDoubleBE(p);
      p += 8;
    }
    let propsText: string | null = null;
    if ((flags & F_PROPS) !== 0) {
      const n = b.readUInt32BE(p);
      propsText = b.toString('utf8', p + 4, p + 4 + n);
      p += 4 + n;
    }
    const count = b[p++] as number;
    const groups: string[] = [];
    for (let i = 0; i < count; i++) {
      let g: string;
      [g, p] = readShort(b, p, 2);
      groups.push(g);
    }
    if (p > b.length) throw new WireError('truncated frame');
    const message = createMessage(topic, b.subarray(p), (flags & 3) as QoS, (flags & F_RETAIN) !== 0, propertiesFromJson(propsText), origin, expiresAt);
    return { kind, node, message, plain: (flags & F_PLAIN) !== 0, groups };
  } catch (err) {
    if (err instanceof WireError) throw err;
    throw new WireError(`unreadable message frame: ${(err as Error).message}`);
  }
}

/** Frames with a small JSON body: [kind][json]. */
export function encodeJsonFrame(kind: FrameKind, body: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(body));
  const b = Buffer.allocUnsafe(1 + json.length);
  b[0] = kind;
  json.copy(b, 1);
  return b;
}

export function decodeJsonFrame<T>(b: Buffer): T {
  try {
    return JSON.parse(b.toString('utf8', 1)) as T;
  } catch (err) {
    throw new WireError(`unreadable frame: ${(err as Error).message}`);
  }
}

interface WireMessage {
  topic: string;
  payload: string;
  qos: QoS;
  retain: boolean;
  properties: string | null;
  origin: string | null;
  expiresAt: number | null;
}

/** A session as JSON for the takeover reply (payloads base64). */
export function sessionToJson(s: TransferredSession): unknown {
  return {
    record: s.record,
    subscriptions: s.subscriptions,
    incomingQos2: s.incomingQos2,
    deliveries: s.deliveries.map((d) => ({ record: d.record, message: messageToJson(d.message) })),
  };
}

export function sessionFromJson(j: unknown): TransferredSession {
  const s = j as { record: TransferredSession['record']; subscriptions: TransferredSession['subscriptions']; incomingQos2: number[]; deliveries: { record: TransferredSession['deliveries'][number]['record']; message: WireMessage }[] };
  if (typeof s?.record?.clientId !== 'string' || !Array.isArray(s.subscriptions) || !Array.isArray(s.deliveries)) throw new WireError('unreadable session');
  return {
    record: { ...s.record, disconnectedAt: s.record.disconnectedAt ?? undefined, owner: s.record.owner ?? undefined },
    subscriptions: s.subscriptions,
    incomingQos2: s.incomingQos2,
    deliveries: s.deliveries.map((d) => ({ record: { ...d.record, subscriptionIdentifiers: d.record.subscriptionIdentifiers ?? undefined, shareGroup: d.record.shareGroup ?? undefined }, message: messageFromJson(d.message) })),
  };
}

function messageToJson(m: Message): WireMessage {
  return {
    topic: m.topic,
    payload: m.payload.toString('base64'),
    qos: m.qos,
    retain: m.retain,
    properties: propertiesToJson(m.properties),
    origin: m.origin ?? null,
    expiresAt: m.expiresAt ?? null,
  };
}

function messageFromJson(w: WireMessage): Message {
  return createMessage(w.topic, Buffer.from(w.payload, 'base64'), w.qos, w.retain, propertiesFromJson(w.properties), w.origin ?? undefined, w.expiresAt ?? undefined);
}

function writeShort(b: Buffer, p: number, s: string, width: 1 | 2): number {
  const n = b.write(s, p + width);
  if (width === 1) b[p] = n;
  else b.writeUInt16BE(n, p);
  return p + width + n;
}

function readShort(b: Buffer, p: number, width: 1 | 2): [string, number] {
  const n = width === 1 ? (b[p] as number) : b.readUInt16BE(p);
  const start = p + width;
  if (start + n > b.length) throw new WireError('truncated frame');
  return [b.toString('utf8', start, start + n), start + n];
}
