// An application message as the broker routes it, independent of any packet.
import type { Properties, QoS } from '../protocol/types.js';

export interface Message {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  /** v5 properties that travel with the message (user properties, content type, ...). */
  readonly properties: Properties | undefined;
  /** Client id of the publisher (for v5 No Local); undefined for broker-made messages. */
  readonly origin: string | undefined;
  /**
   * Encoded QoS 0 PUBLISH bytes shared between subscribers, indexed by
   * (v5 ? 2 : 0) + (retain ? 1 : 0). Filled lazily by the delivery code.
   */
  readonly qos0Bytes: (Buffer | undefined)[];
}

export function createMessage(
  topic: string,
  payload: Buffer,
  qos: QoS,
  retain: boolean,
  properties: Properties | undefined,
  origin: string | undefined,
): Message {
  return { topic, payload, qos, retain, properties, origin, qos0Bytes: [undefined, undefined, undefined, undefined] };
}
