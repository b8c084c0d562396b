import type { Connection } from '../connection.js';
import type { ClientInfo } from '../events.js';

/** The public description of a connection, for events. */
export function clientInfo(conn: Connection): ClientInfo {
  return {
    clientId: conn.clientId ?? '',
    username: conn.username,
    protocolVersion: conn.protocolVersion,
    remoteAddress: conn.remoteAddress,
  };
}
