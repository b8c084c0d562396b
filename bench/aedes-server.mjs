// aedes as a reference broker for the benchmark: `node bench/aedes-server.mjs PORT [HOST]`.
// Plain aedes (npm dev dependency) on a net.Server, default options; prints one line when
// listening. TCP_NODELAY is on, as it is for mosquitto (set_tcp_nodelay) in the bench.
import net from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
const host = process.argv[3] ?? '127.0.0.1';
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node bench/aedes-server.mjs PORT [HOST]');
  process.exit(2);
}

const aedes = await Aedes.createBroker();
const server = net.createServer({ noDelay: true }, aedes.handle);
server.on('error', (err) => {
  console.error(`aedes-server: ${err.message}`);
  process.exit(1);
});
server.listen(port, host, () => {
  console.log(`aedes listening on ${host}:${port} pid ${process.pid}`);
});

const stop = () => {
  server.close();
  aedes.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
