// PINGREQ and DISCONNECT.
import { ReasonCode } from '../../protocol/reason-codes.js';
import { PacketType, type DisconnectPacket, type Packet } from '../../protocol/types.js';
import type { BrokerContext } from '../context.js';
import type { Connection } from '../connection.js';
import { BrokerError } from '../errors.js';

/** [MQTT-3.12.4-1] answer every PINGREQ. Keepalive is refreshed by every complete packet. */
export function handlePingreq(_ctx: BrokerContext, conn: Connection): void {
  conn.send({ type: PacketType.PINGRESP });
}

/** A clean DISCONNECT discards the will [MQTT-3.14.4-3]; v5 reason 0x04 asks for it. */
export function handleDisconnect(ctx: BrokerContext, conn: Connection, packet: Packet): void {
  const disconnect = packet as DisconnectPacket;
  const sendWill = conn.protocolVersion === 5 && disconnect.reasonCode === ReasonCode.DISCONNECT_WITH_WILL_MESSAGE;
  const expiry = disconnect.properties?.sessionExpiryInterval;
  const state = conn.client?.state;
  if (expiry !== undefined && state !== undefined) {
    // a session that was to end with the connection cannot be kept alive now [MQTT-3.14.2-2]
    if (state.expiryInterval === 0 && expiry !== 0) {
      throw new BrokerError('PROTOCOL_ERROR', 'DISCONNECT sets a Session Expiry Interval after CONNECT set 0');
    }
    const cap = ctx.settings.maxSessionExpiryInterval;
    state.expiryInterval = cap > 0 ? Math.min(expiry, cap) : expiry;
  }
  conn.close('client_disconnect', { sendWill });
}
