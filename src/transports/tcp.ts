// Plain TCP listener: every accepted socket goes to broker.handle().
import { createServer, type Server, type Socket } from 'node:net';

export interface StreamHandler {
  handle(stream: Socket, remoteAddress?: string): void;
}

export interface TcpListenOptions {
  port: number;
  host?: string;
}

/** Starts listening; resolves with the server once bound (port 0 picks a free port). */
export function listenTcp(handler: StreamHandler, options: TcpListenOptions): Promise<Server> {
  const server = createServer({ noDelay: true }, (socket) => {
    handler.handle(socket, socket.remoteAddress);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
