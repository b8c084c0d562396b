import { ReasonCode } from './reason-codes.js';

/** Stable error codes for everything the codec can reject. */
export type ProtocolErrorCode =
  | 'MALFORMED_PACKET'
  | 'PROTOCOL_ERROR'
  | 'PACKET_TOO_LARGE'
  | 'UNSUPPORTED_PROTOCOL_VERSION';

const REASON: Record<ProtocolErrorCode, number> = {
  MALFORMED_PACKET: ReasonCode.MALFORMED_PACKET,
  PROTOCOL_ERROR: ReasonCode.PROTOCOL_ERROR,
  PACKET_TOO_LARGE: ReasonCode.PACKET_TOO_LARGE,
  UNSUPPORTED_PROTOCOL_VERSION: ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
};

/**
 * The only error the codec throws on bad input. `reasonCode` is the MQTT 5.0 reason
 * code to send (in a CONNACK or DISCONNECT); for 3.1/3.1.1 the connection is closed.
 */
export class MqttProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  readonly reasonCode: number;
  /**
   * The protocol level byte of the CONNECT being decoded when the error happened, if the
   * decoder got that far. Set on UNSUPPORTED_PROTOCOL_VERSION (the level the client asked
   * for) and on any other error inside a CONNECT after its level byte, so the broker can
   * answer in the CONNACK format the client speaks (0x01 for 3.1/3.1.1, 0x84 for 5.0).
   */
  readonly protocolLevel?: number;
  constructor(code: ProtocolErrorCode, message: string, protocolLevel?: number) {
    super(message);
    this.name = 'MqttProtocolError';
    this.code = code;
    this.reasonCode = REASON[code];
    if (protocolLevel !== undefined) this.protocolLevel = protocolLevel;
  }
}

export const malformed = (message: string): MqttProtocolError =>
  new MqttProtocolError('MALFORMED_PACKET', message);
export const protocolError = (message: string): MqttProtocolError =>
  new MqttProtocolError('PROTOCOL_ERROR', message);
