// The HTTP server (port 8080 by default): health today; the REST messaging API, the admin
// API, /metrics and the dashboard join it later. MQTT over WebSocket at /mqtt is attached to
// its node server by the composition root (transports/ sits beside http/, not below it).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';

export interface HttpServerOptions {
  /** Version string reported by /healthz. */
  version: string;
  /** Live numbers for /healthz (connected clients and uptime). */
  status: () => { clients: number; uptimeSeconds: number };
}

export interface RunningHttpServer {
  /** The node server, for attaching WebSocket upgrades. */
  readonly server: Server;
  listen(port: number, host: string): Promise<AddressInfo>;
  close(): Promise<void>;
}

export function createHttpServer(options: HttpServerOptions): RunningHttpServer {
  const app: FastifyInstance = Fastify({ logger: false });
  app.get(
    '/healthz',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            properties: { status: { type: 'string' }, version: { type: 'string' }, clients: { type: 'integer' }, uptimeSeconds: { type: 'integer' } },
            required: ['status', 'version', 'clients', 'uptimeSeconds'],
          },
        },
      },
    },
    () => ({ status: 'ok', version: options.version, ...options.status() }),
  );
  // unknown routes and bad requests answer in JSON, never HTML
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` } });
  });
  return {
    get server() {
      return app.server;
    },
    async listen(port, host) {
      await app.listen({ port, host });
      return app.server.address() as AddressInfo;
    },
    async close() {
      await app.close();
    },
  };
}
