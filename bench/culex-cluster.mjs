// A two-node Culex cluster for the benchmark, as one process to start and stop:
//   node bench/culex-cluster.mjs PORT_A PORT_B DATA_DIR CONFIG PIDFILE
// starts redis-server on a free port (no persistence), node "b" on PORT_B and node "a" on
// PORT_A, all inheriting this process's CPU pinning, and writes node a's pid to PIDFILE
// (the bench measures that node's CPU). Exits when told to (SIGTERM/SIGINT) or when a child dies.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [portA, portB, dataDir, config, pidFile] = process.argv.slice(2);
if (!portA || !portB || !dataDir || !config || !pidFile) {
  console.error('usage: node bench/culex-cluster.mjs PORT_A PORT_B DATA_DIR CONFIG PIDFILE');
  process.exit(2);
}
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const children = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function start(cmd, args, name) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`culex-cluster: ${name} exited (${code ?? signal})`);
      stop(1);
    }
  });
  return child;
}

async function redisReady(port, deadline) {
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
      s.on('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('redis-server did not answer PING');
}

function joined(child, deadline) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no "cluster joined" line: ${text.slice(-300)}`)), deadline - Date.now());
    child.stdout.on('data', (d) => {
      text += d;
      if (text.includes('"cluster joined"')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

let stopping = false;
function stop(code = 0) {
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  setTimeout(() => process.exit(code), 1500).unref();
  Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.on('exit', r)) : null))).then(() => process.exit(code));
}
process.on('SIGTERM', () => stop(0));
process.on('SIGINT', () => stop(0));

const redisPort = await freePort();
start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], 'redis-server');
await redisReady(redisPort, Date.now() + 10_000);
const url = `redis://127.0.0.1:${redisPort}`;
const node = (name, port) => {
  const data = join(dataDir, name);
  mkdirSync(data, { recursive: true });
  const args = [join(ROOT, 'bin/culex.js'), '--port', port, '--host', '127.0.0.1', '--config', config, '--data', data, '--cluster', url, '--node-id', name, '--log-level', 'info'];
  return start(process.execPath, args, `node ${name}`);
};
const b = node('b', portB);
const a = node('a', portA);
writeFileSync(pidFile, String(a.pid));
const deadline = Date.now() + 20_000;
await Promise.all([joined(a, deadline), joined(b, deadline)]);
// the logs are not needed past this point; keep the pipes drained
for (const c of [a, b]) c.stdout.resume();
console.log(`culex cluster: a on ${portA}, b on ${portB}, redis on ${redisPort}`);
