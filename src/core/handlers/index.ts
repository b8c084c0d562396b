// The dispatch table: one handler per packet type a client may send. Types missing
// here (CONNACK, SUBACK, ..., and AUTH until enhanced authentication) are a protocol error.
import { PacketType } from '../../protocol/types.js';
import type { DispatchTable, PacketHandler } from '../connection.js';
import { handlePubackOrPubcomp, handlePubrec, handlePubrel } from './acks.js';
import { handleConnect } from './connect.js';
import { handleDisconnect, handlePingreq } from './control.js';
import { handlePublish } from './publish.js';
import { handleSubscribe, handleUnsubscribe } from './subscribe.js';

export function createDispatchTable(): DispatchTable {
  const table: (PacketHandler | undefined)[] = new Array(16).fill(undefined);
  table[PacketType.CONNECT] = handleConnect;
  table[PacketType.PUBLISH] = handlePublish;
  table[PacketType.PUBACK] = handlePubackOrPubcomp;
  table[PacketType.PUBREC] = handlePubrec;
  table[PacketType.PUBREL] = handlePubrel;
  table[PacketType.PUBCOMP] = handlePubackOrPubcomp;
  table[PacketType.SUBSCRIBE] = handleSubscribe;
  table[PacketType.UNSUBSCRIBE] = handleUnsubscribe;
  table[PacketType.PINGREQ] = handlePingreq;
  table[PacketType.DISCONNECT] = handleDisconnect;
  return table;
}
