// AUTH from a client [MQTT-3.15, MQTT-4.12]: checks the packet against the connection's
// exchange, then hands the data to EnhancedAuth (core/enhanced-auth.ts).
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { AuthPacket, Packet } from '../../protocol/types.js';
import type { BrokerContext } from '../context.js';
import type { Connection } from '../connection.js';
import type { EnhancedAuth } from '../enhanced-auth.js';
import { BrokerError } from '../errors.js';

export function handleAuth(auth: EnhancedAuth, ctx: BrokerContext, conn: Connection, packet: Packet): void {
  const { reasonCode, properties } = packet as AuthPacket;
  const method = auth.methodOf(conn);
  if (method === undefined) {
    // [MQTT-4.12.0-7] no Authentication Method in CONNECT: the client must not send AUTH
    throw new BrokerError('PROTOCOL_ERROR', 'AUTH from a client that did not use enhanced authentication');
  }
  const name = properties?.authenticationMethod;
  if (name === undefined) throw new BrokerError('PROTOCOL_ERROR', 'AUTH without an Authentication Method (3.15.2.2.2)');
  const data = properties?.authenticationData;
  if (reasonCode === ReasonCode.CONTINUE_AUTHENTICATION) {
    // [MQTT-4.12.0-5] one method for the whole exchange
    if (name !== method) throw new BrokerError('PROTOCOL_ERROR', `AUTH method "${name}" differs from "${method}"`);
    auth.continueExchange(ctx, conn, data);
  } else if (reasonCode === ReasonCode.RE_AUTHENTICATE) {
    // re-authentication starts only after CONNACK (4.12.1)
    if (conn.state !== 'connected') throw new BrokerError('PROTOCOL_ERROR', 'AUTH 0x19 before CONNACK');
    // [MQTT-4.12.1-1] the method of the CONNECT, and no other (DISCONNECT cannot carry 0x8C)
    if (name !== method) throw new BrokerError('PROTOCOL_ERROR', `re-authentication with "${name}", connected with "${method}"`);
    auth.reauthenticate(ctx, conn, data);
  } else {
    // 0x00 Success is the server's to send [MQTT-3.15.2-1]
    throw new BrokerError('PROTOCOL_ERROR', `a client may not send AUTH with reason code 0x${reasonCode.toString(16)}`);
  }
}
