// Typed errors raised by handlers. One function (connection-close.ts) turns them into
// what goes on the wire: a CONNACK code, a v5 DISCONNECT, or a closed v3 socket.
import { ReasonCode } from '../protocol/reason-codes.js';

/** Why a connection ended; recorded for logs, events and $SYS. Stable strings. */
export type CloseReason =
  | 'client_disconnect'
  | 'socket_closed'
  | 'socket_error'
  | 'malformed_packet'
  | 'protocol_error'
  | 'packet_too_large'
  | 'unsupported_protocol_version'
  | 'connect_timeout'
  | 'keepalive_timeout'
  | 'session_taken_over'
  | 'client_id_rejected'
  | 'not_authorized'
  | 'bad_credentials'
  | 'bad_authentication_method'
  | 'topic_invalid'
  | 'receive_maximum_exceeded'
  | 'slow_consumer'
  | 'server_unavailable'
  | 'server_shutting_down';

export type BrokerErrorCode =
  | 'PROTOCOL_ERROR'
  | 'TOPIC_NAME_INVALID'
  | 'PACKET_ID_IN_USE'
  | 'RECEIVE_MAXIMUM_EXCEEDED'
  | 'TOPIC_ALIAS_INVALID'
  | 'TOPIC_FILTER_INVALID'
  | 'QOS_NOT_SUPPORTED'
  | 'RETAIN_NOT_SUPPORTED'
  | 'PAYLOAD_FORMAT_INVALID'
  | 'NOT_AUTHORIZED';

const BY_CODE: Record<BrokerErrorCode, { reasonCode: number; closeReason: CloseReason }> = {
  PROTOCOL_ERROR: { reasonCode: ReasonCode.PROTOCOL_ERROR, closeReason: 'protocol_error' },
  TOPIC_NAME_INVALID: { reasonCode: ReasonCode.TOPIC_NAME_INVALID, closeReason: 'topic_invalid' },
  PACKET_ID_IN_USE: { reasonCode: ReasonCode.PACKET_IDENTIFIER_IN_USE, closeReason: 'protocol_error' },
  RECEIVE_MAXIMUM_EXCEEDED: { reasonCode: ReasonCode.RECEIVE_MAXIMUM_EXCEEDED, closeReason: 'receive_maximum_exceeded' },
  TOPIC_ALIAS_INVALID: { reasonCode: ReasonCode.TOPIC_ALIAS_INVALID, closeReason: 'protocol_error' },
  TOPIC_FILTER_INVALID: { reasonCode: ReasonCode.TOPIC_FILTER_INVALID, closeReason: 'topic_invalid' },
  QOS_NOT_SUPPORTED: { reasonCode: ReasonCode.QOS_NOT_SUPPORTED, closeReason: 'protocol_error' },
  RETAIN_NOT_SUPPORTED: { reasonCode: ReasonCode.RETAIN_NOT_SUPPORTED, closeReason: 'protocol_error' },
  PAYLOAD_FORMAT_INVALID: { reasonCode: ReasonCode.PAYLOAD_FORMAT_INVALID, closeReason: 'protocol_error' },
  NOT_AUTHORIZED: { reasonCode: ReasonCode.NOT_AUTHORIZED, closeReason: 'not_authorized' },
};

/** A semantic violation found by a handler; the connection is closed with `reasonCode`. */
export class BrokerError extends Error {
  readonly code: BrokerErrorCode;
  readonly reasonCode: number;
  readonly closeReason: CloseReason;
  constructor(code: BrokerErrorCode, message: string) {
    super(message);
    this.name = 'BrokerError';
    this.code = code;
    this.reasonCode = BY_CODE[code].reasonCode;
    this.closeReason = BY_CODE[code].closeReason;
  }
}
