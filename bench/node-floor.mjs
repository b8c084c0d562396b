// Node's floor, a reference for the connection rows: `node bench/node-floor.mjs PORT [HOST]`.
// Not a broker: a plain net.Server that answers the first bytes of each connection with a
// 3.1.1 CONNACK and holds the socket until the client goes. What it costs per connection
// (memory, accept time) is what Node's own sockets cost: no broker on net.Socket, Culex and
// aedes included, can go below it.
import net from 'node:net';

const port = Number(process.argv[2]);
const host = process.argv[3] ?? '127.0.0.1';
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node bench/node-floor.mjs PORT [HOST]');
  process.exit(2);
}

const CONNACK = Buffer.from([0x20, 2, 0, 0]);
const sockets = new Set();
function onData() {
  this.write(CONNACK);
  this.removeListener('data', onData);
}
function onClose() {
  sockets.delete(this);
}
function ignore() {}

const server = net.createServer({ noDelay: true }, (socket) => {
  sockets.add(socket);
  socket.on('data', onData);
  socket.on('close', onClose);
  socket.on('error', ignore);
});
server.on('error', (err) => {
  console.error(`node-floor: ${err.message}`);
  process.exit(1);
});
server.listen(port, host, () => {
  console.log(`node-floor listening on ${host}:${port} pid ${process.pid}`);
});

const stop = () => {
  server.close();
  for (const s of sockets) s.destroy();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
