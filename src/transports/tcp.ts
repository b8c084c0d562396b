// Plain TCP listener: every accepted socket goes to broker.handle().
import { createServer, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionMeta } from '../core/ports.js';

export interface StreamHandler {
  handle(stream: Duplex, meta: ConnectionMeta): void;
}

export interface TcpListenOptions {
  port: number;
  host?: string;
}

/** Starts listening; resolves with the server once bound (port 0 picks a free port). */
export function listenTcp(handler: StreamHandler, options: TcpListenOptions): Promise<Server> {
  const server = createServer({ noDelay: true }, (socket) => {
    handler.handle(socket, { remoteAddress: socket.remoteAddress });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
