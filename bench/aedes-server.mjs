// aedes as a reference broker for the benchmark:
//   node bench/aedes-server.mjs PORT [HOST] [--tls PORT | --ws PORT | --wss PORT]
//                               [--cert FILE --key FILE] [--ws-path PATH]
// Plain aedes (npm dev dependency) on a net.Server, default options; prints one line when
// listening. TCP_NODELAY is on, as it is for mosquitto (set_tcp_nodelay) in the bench.
// Optionally a second listener, the way the aedes docs show it: tls.createServer with
// aedes.handle, or an http(s) server with a `ws` WebSocketServer whose sockets become
// streams (createWebSocketStream) for aedes.handle.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';

const USAGE = 'usage: node bench/aedes-server.mjs PORT [HOST] [--tls PORT | --ws PORT | --wss PORT] [--cert FILE --key FILE] [--ws-path PATH]';
const { values, positionals } = parseArgs({
  options: {
    tls: { type: 'string' },
    ws: { type: 'string' },
    wss: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    'ws-path': { type: 'string' },
  },
  allowPositionals: true,
});
const port = Number(positionals[0]);
const host = positionals[1] ?? '127.0.0.1';
const extra = ['tls', 'ws', 'wss'].filter((t) => values[t] !== undefined);
const extraPort = extra.length ? Number(values[extra[0]]) : undefined;
const secure = extra[0] === 'tls' || extra[0] === 'wss';
if (!Number.isInteger(port) || port <= 0 || extra.length > 1 || (extra.length && !(extraPort > 0)) || (secure && !(values.cert && values.key))) {
  console.error(USAGE);
  process.exit(2);
}

const aedes = await Aedes.createBroker();
const servers = [net.createServer({ noDelay: true }, aedes.handle)];
if (extra.length) {
  const tlsOptions = secure ? { cert: readFileSync(values.cert), key: readFileSync(values.key) } : {};
  let server;
  if (extra[0] === 'tls') {
    server = tls.createServer(tlsOptions, aedes.handle);
  } else {
    server = extra[0] === 'wss' ? https.createServer(tlsOptions) : http.createServer();
    const wss = new WebSocketServer({ server, path: values['ws-path'] ?? '/mqtt' });
    wss.on('connection', (websocket, req) => aedes.handle(createWebSocketStream(websocket), req));
  }
  // the raw TCP socket under TLS or HTTP: no Nagle delay, as on the plain listener
  server.on('connection', (socket) => socket.setNoDelay(true));
  servers.push(server);
}

const ports = [port, extraPort];
let listening = 0;
for (const [i, server] of servers.entries()) {
  server.on('error', (err) => {
    console.error(`aedes-server: ${err.message}`);
    process.exit(1);
  });
  server.listen(ports[i], host, () => {
    if (++listening === servers.length) {
      const more = extra.length ? ` and ${extra[0]} ${host}:${extraPort}` : '';
      console.log(`aedes listening on ${host}:${port}${more} pid ${process.pid}`);
    }
  });
}

const stop = () => {
  for (const server of servers) server.close();
  aedes.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
