// An application message as the broker routes it, independent of any packet.
import type { Properties, QoS } from '../protocol/types.js';

export interface Message {
  readonly topic: string;
  /** May be a view into a socket read chunk until ownPayload() is called (see there). */
  payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  /** v5 properties that travel with the message (user properties, content type, ...). */
  readonly properties: Properties | undefined;
  /** Client id of the publisher (for v5 No Local); undefined for broker-made messages. */
  readonly origin: string | undefined;
  /** Clock time (ms) after which the message is no longer delivered (v5 Message Expiry Interval). */
  readonly expiresAt: number | undefined;
  /**
   * Encoded QoS 0 PUBLISH bytes shared between subscribers, indexed by
   * (v5 ? 2 : 0) + (retain ? 1 : 0). Filled lazily by the delivery code.
   */
  readonly qos0Bytes: (Buffer | undefined)[];
  /** Id in the durable store while some stored delivery carries it; 0 = not stored (durability.ts). */
  storeId: number;
  /** Stored deliveries that carry it: the stored copy is deleted with the last one. */
  storeRefs: number;
}

export function createMessage(
  topic: string,
  payload: Buffer,
  qos: QoS,
  retain: boolean,
  properties: Properties | undefined,
  origin: string | undefined,
  expiresAt?: number,
): Message {
  return { topic, payload, qos, retain, properties, origin, expiresAt, qos0Bytes: [undefined, undefined, undefined, undefined], storeId: 0, storeRefs: 0 };
}

/** A payload view smaller than this share of its backing memory gets its own copy. */
const PIN_SLACK = 1024;

/**
 * Payloads below this are copied into Node's shared 8 KiB allocation pool. Kept copies sit
 * in a slab between short-lived allocations (each subscriber's encoding), and a slab lives
 * while any copy in it does: a 2 KiB copy was seen holding a whole slab to itself (a queue
 * of 1,000 such payloads held 8 MiB). Below 1 KiB that overhead stays bounded by the
 * encodings between two copies; above it, a buffer of its own costs less.
 */
const POOLED = 1024;

/**
 * The parser hands out payloads as views into the socket's read chunk (zero copy). A
 * message that is kept (retained, queued, in flight) must not pin a 64 KiB chunk for a
 * few bytes of payload, so it gets its own copy the first time it is kept. Small payloads
 * go into the shared pool (a slab pins at most 8 KiB, shared with its neighbours): a
 * dedicated ArrayBuffer per message costs far more garbage-collector time on the QoS 1
 * hot path. A payload that already owns its memory is left alone.
 */
export function ownPayload(message: Message): void {
  message.payload = owned(message.payload);
  ownBinaryProperties(message.properties);
}

/**
 * v5 binary properties are views into the read chunk too: a kept message (or a will) with
 * Correlation Data would pin the chunk through it (a 1-byte retained message held 58 KiB,
 * found by the socket fuzz). The properties object is the message's own (the decoder makes
 * one per packet), so its field is replaced in place.
 */
export function ownBinaryProperties(properties: Properties | undefined): void {
  const data = properties?.correlationData;
  if (data !== undefined) (properties as Properties).correlationData = owned(data);
}

/** `bytes` itself when it owns its memory (or shares a pool slab), else a copy. */
function owned(bytes: Buffer): Buffer {
  const backing = bytes.buffer.byteLength;
  if (backing <= bytes.length + PIN_SLACK || backing === Buffer.poolSize) return bytes;
  const copy = bytes.length < POOLED ? Buffer.allocUnsafe(bytes.length) : Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(copy);
  return copy;
}
