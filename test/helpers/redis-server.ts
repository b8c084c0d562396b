// A real `redis-server` (Debian's package) for the cluster tests: started on a free port of
// 127.0.0.1 in its own temp dir, with no persistence, so a restart brings it back empty on
// the same port. The process is tracked by its handle and killed by pid; a test process
// that exits without stopping it still kills it (the 'exit' hook below).
import { accessSync, constants } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import { Child, killOnExit, removeDir, tempDir } from '../interop/support.js';
import { WaitForTimeoutError, waitFor } from './wait-for.js';

/** Ports the tests never use: the usual MQTT, MQTT/TLS, HTTP and WebSocket ports. */
const RESERVED_PORTS: ReadonlySet<number> = new Set([1883, 8883, 8080, 8083]);

const HOW_TO_GET = 'apt-get install redis-server (scripts/test-all.sh, `npm run test:all`, installs it)';

/** The redis-server executable, or a failure that says how to get it. */
export function findRedisServer(): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  for (const dir of dirs) {
    const path = join(dir, 'redis-server');
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // try the next directory
    }
  }
  throw new Error(`redis-server not found (the cluster tests need a real Redis): ${HOW_TO_GET}`);
}

/** A port that was free a moment ago: bind port 0 on 127.0.0.1, read it, close. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        const p = typeof address === 'object' && address !== null ? address.port : 0;
        server.close(() => resolve(p));
      });
    });
    if (port > 0 && !RESERVED_PORTS.has(port)) return port;
  }
}

/** One PING over a raw socket: true on +PONG, false on anything else (refused, -LOADING, silence). */
export function ping(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    let reply = '';
    let settled = false;
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (s: string) => {
      reply += s;
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

export interface RedisServer {
  /** The port, the same across restarts. */
  readonly port: number;
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  /** The current redis-server process (a new one after each restart). */
  readonly child: Child;
  /** Whether the current process still runs. */
  running(): boolean;
  /** An ioredis client for assertions; reconnects across restarts; closed by stop(). */
  client(): Redis;
  /** SIGTERM, SIGKILL if it has not exited after timeoutMs; closes the clients and removes the temp dir. */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL, and waits for the exit (the clients stay, to see the reconnect). */
  kill(): Promise<void>;
  /** Starts a new, empty redis-server on the same port (stops the current one first if it runs). */
  restart(): Promise<void>;
  /** The current process's output, for failure messages. */
  describe(): string;
}

interface StartOptions {
  /** How long one start may take to answer PING. Default 10 s. */
  readonly startTimeoutMs?: number;
}

const ADDRESS_IN_USE = /Address already in use|EADDRINUSE/i;


type Attempt = { ok: true; child: Child; dir: string } | { ok: false; inUse: boolean; detail: string };

/** One start on `port`: resolves once it answers PING, or with why it did not. */
async function startOnce(executable: string, port: number, timeoutMs: number): Promise<Attempt> {
  const dir = tempDir('culex-redis-');
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--logfile', ''];
  const child = new Child(executable, args, { cwd: dir });
  killOnExit(child);
  let answered = false;
  try {
    await waitFor(
      async () => {
        if (child.exit !== undefined) return true;
        answered = await ping(port);
        return answered;
      },
      { timeoutMs, intervalMs: 25 },
    );
  } catch (err) {
    if (!(err instanceof WaitForTimeoutError)) throw err;
  }
  // checked after PING too: another process may have taken the port and answered for it
  if (answered && child.exit === undefined) return { ok: true, child, dir };
  if (child.exit === undefined) child.kill('SIGKILL');
  await child.exited.catch(() => undefined);
  removeDir(dir);
  if (!answered && child.exit?.signal === 'SIGKILL') {
    return { ok: false, inUse: false, detail: `redis-server on port ${port} did not answer PING within ${timeoutMs} ms: ${child.describe()}` };
  }
  const out = `${child.stdout}\n${child.stderr}\n${child.spawnError?.message ?? ''}`;
  return { ok: false, inUse: ADDRESS_IN_USE.test(out), detail: `redis-server on port ${port} exited: ${child.describe()}` };
}

/** Whether `port` can be bound on 127.0.0.1 right now. */
function portBindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Starts redis-server on a free port of 127.0.0.1 (a new port when the one found is taken
 * before redis binds it), with no persistence, and waits until it answers PING.
 */
export async function startRedisServer(options: StartOptions = {}): Promise<RedisServer> {
  const executable = findRedisServer();
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  let failure = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const result = await startOnce(executable, port, startTimeoutMs);
    if (result.ok) return new RunningRedis(executable, port, result.child, result.dir, startTimeoutMs);
    failure = result.detail;
    if (!result.inUse) break;
  }
  throw new Error(`could not start redis-server: ${failure}`);
}

class RunningRedis implements RedisServer {
  readonly url: string;
  readonly #clients = new Set<Redis>();
  #child: Child;
  #dir: string | undefined;

  constructor(
    readonly executable: string,
    readonly port: number,
    child: Child,
    dir: string,
    readonly startTimeoutMs: number,
  ) {
    this.url = `redis://127.0.0.1:${port}`;
    this.#child = child;
    this.#dir = dir;
  }

  get child(): Child {
    return this.#child;
  }

  running(): boolean {
    return this.#child.exit === undefined;
  }

  client(): Redis {
    const client = new Redis({ host: '127.0.0.1', port: this.port, lazyConnect: false, maxRetriesPerRequest: 20, retryStrategy: () => 50 });
    // connection errors while the server is killed or restarting are expected; commands fail on their own
    client.on('error', () => undefined);
    this.#clients.add(client);
    return client;
  }

  async stop(timeoutMs = 5000): Promise<void> {
    for (const c of this.#clients) c.disconnect();
    this.#clients.clear();
    await this.#end(timeoutMs);
  }

  async kill(): Promise<void> {
    this.#child.kill('SIGKILL');
    await this.#child.exited.catch(() => undefined);
    this.#removeDir();
  }

  async restart(): Promise<void> {
    if (this.running()) await this.#end(5000);
    // the old socket may linger for a moment: retry on "address in use" for a few seconds
    const deadline = Date.now() + 5000;
    await waitFor(() => portBindable(this.port), { timeoutMs: 5000, intervalMs: 50 }).catch(() => undefined);
    for (;;) {
      const result = await startOnce(this.executable, this.port, this.startTimeoutMs);
      if (result.ok) {
        this.#child = result.child;
        this.#dir = result.dir;
        return;
      }
      if (!result.inUse || Date.now() >= deadline) throw new Error(`could not restart redis-server on port ${this.port}: ${result.detail}`);
      await waitFor(() => portBindable(this.port), { timeoutMs: Math.max(1, deadline - Date.now()), intervalMs: 50 }).catch(() => undefined);
    }
  }

  describe(): string {
    return `redis-server on port ${this.port}: ${this.#child.describe()}`;
  }

  async #end(timeoutMs: number): Promise<void> {
    this.#child.kill('SIGTERM');
    try {
      await this.#child.waitExit(timeoutMs, `redis-server on port ${this.port} to exit after SIGTERM`);
    } catch {
      // waitExit has sent SIGKILL; wait for that exit
      await this.#child.exited.catch(() => undefined);
    }
    this.#removeDir();
  }

  #removeDir(): void {
    if (this.#dir !== undefined) removeDir(this.#dir);
    this.#dir = undefined;
  }
}
