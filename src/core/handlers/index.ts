// The dispatch table: one handler per packet type a client may send. Types missing
// here (CONNACK, SUBACK, ...) are a protocol error. One table per broker, and with it the
// broker's EnhancedAuth (the per-connection state of AUTH exchanges).
import { PacketType } from '../../protocol/types.js';
import type { DispatchTable, PacketHandler } from '../connection.js';
import { EnhancedAuth } from '../enhanced-auth.js';
import { handlePubackOrPubcomp, handlePubrec, handlePubrel } from './acks.js';
import { handleAuth } from './auth.js';
import { handleConnect } from './connect.js';
import { handleDisconnect, handlePingreq } from './control.js';
import { handlePublish } from './publish.js';
import { handleSubscribe, handleUnsubscribe } from './subscribe.js';

export function createDispatchTable(): DispatchTable {
  const table: (PacketHandler | undefined)[] = new Array(16).fill(undefined);
  const auth = new EnhancedAuth();
  table[PacketType.CONNECT] = (ctx, conn, packet) => handleConnect(ctx, conn, packet, auth);
  table[PacketType.PUBLISH] = handlePublish;
  table[PacketType.PUBACK] = handlePubackOrPubcomp;
  table[PacketType.PUBREC] = handlePubrec;
  table[PacketType.PUBREL] = handlePubrel;
  table[PacketType.PUBCOMP] = handlePubackOrPubcomp;
  table[PacketType.SUBSCRIBE] = handleSubscribe;
  table[PacketType.UNSUBSCRIBE] = handleUnsubscribe;
  table[PacketType.PINGREQ] = handlePingreq;
  table[PacketType.DISCONNECT] = handleDisconnect;
  table[PacketType.AUTH] = (ctx, conn, packet) => handleAuth(auth, ctx, conn, packet);
  return table;
}
