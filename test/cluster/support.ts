// Helpers for the cluster suites: several real `culex` processes sharing one Redis
// (`--cluster redis://...`), and MQTT.js clients pointed at one node or another.
//
// Routes (subscriptions), retained messages and sessions reach the other nodes
// asynchronously, so a test never assumes that a SUBACK on node B is already known on node
// A: it waits with `crossNodeReady` (probe messages until one arrives, with a deadline),
// never with a fixed sleep.
import { join } from 'node:path';
import mqtt, { type IClientOptions, type IConnackPacket, type IDisconnectPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import { waitFor } from '../helpers/wait-for.js';
import { CLI, Child, killOnExit, parseLogLines, removeDir, tempDir } from '../interop/support.js';

// ---------------------------------------------------------------------------------------
// culex nodes

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ClusterNode {
  /** The node id (--node-id), n1, n2, ... */
  readonly name: string;
  /** The MQTT port of the current process (a restart gets a new one). */
  readonly port: number;
  /** The current process (a new one after each restart). */
  readonly child: Child;
  readonly dataDir: string;
  /** The JSON log lines the current process printed so far. */
  logs(): Record<string, unknown>[];
  /** Whether the current process still runs. */
  alive(): boolean;
  /** SIGKILL (by pid), and waits for the exit. */
  kill(): Promise<ExitStatus>;
  /** SIGTERM; SIGKILL and a failure if it has not exited within timeoutMs. */
  stop(timeoutMs?: number): Promise<ExitStatus>;
  /** Starts the node again (same node id, same data dir, a new port) once it is not running; waits for 'cluster joined'. */
  restart(): Promise<void>;
  /** The last lines of its output, for failure messages. */
  tail(lines?: number): string;
}

export interface Cluster {
  readonly nodes: readonly ClusterNode[];
  readonly redisUrl: string;
  /** Stops every node still running (SIGTERM, then SIGKILL) and removes the data dirs. */
  stop(): Promise<void>;
}

export interface StartClusterOptions {
  /** culex --log-level; default info. */
  readonly logLevel?: string;
  /** More arguments for every node. */
  readonly extraArgs?: readonly string[];
  /** How long a node may take to print "listening" and "cluster joined". Default 10 s. */
  readonly joinTimeoutMs?: number;
}


function tailOf(child: Child, lines: number): string {
  const out = child.stdout.split('\n').filter(Boolean).slice(-lines).join('\n');
  const err = child.stderr.split('\n').filter(Boolean).slice(-lines).join('\n');
  return `exit ${JSON.stringify(child.exit ?? 'still running')}\n--- stdout (last ${lines} lines)\n${out}\n--- stderr (last ${lines} lines)\n${err}`;
}

class Node implements ClusterNode {
  #child!: Child;
  #port = 0;

  constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly redisUrl: string,
    readonly options: StartClusterOptions,
  ) {}

  get child(): Child {
    return this.#child;
  }

  get port(): number {
    return this.#port;
  }

  logs(): Record<string, unknown>[] {
    return parseLogLines(this.#child.stdout);
  }

  alive(): boolean {
    return this.#child !== undefined && this.#child.exit === undefined;
  }

  tail(lines = 20): string {
    return this.#child === undefined ? '(not started)' : tailOf(this.#child, lines);
  }

  /** Spawns the process and waits for its listening line and its "cluster joined" line. */
  async start(): Promise<void> {
    const args = [
      CLI,
      '--port', '0',
      '--host', '127.0.0.1',
      '--http-port=-1',
      '--data', this.dataDir,
      '--cluster', this.redisUrl,
      '--node-id', this.name,
      '--log-level', this.options.logLevel ?? 'info',
      ...(this.options.extraArgs ?? []),
    ];
    const child = new Child(process.execPath, args);
    killOnExit(child);
    this.#child = child;
    const timeoutMs = this.options.joinTimeoutMs ?? 10_000;
    const seconds = timeoutMs / 1000;
    try {
      await waitFor(
        () => {
          if (child.exit !== undefined) throw new Error(`node ${this.name} exited before printing 'cluster joined' (culex ${args.slice(1).join(' ')}):\n${this.tail()}`);
          return this.logs().some((l) => l.msg === 'listening');
        },
        { timeoutMs, message: () => `node ${this.name} did not print 'listening' within ${seconds} s:\n${this.tail()}` },
      );
      const listening = this.logs().find((l) => l.msg === 'listening' && l.type !== 'http') ?? this.logs().find((l) => l.msg === 'listening');
      this.#port = Number(listening?.port);
      await waitFor(
        () => {
          if (child.exit !== undefined) throw new Error(`node ${this.name} exited before printing 'cluster joined':\n${this.tail()}`);
          return this.logs().some((l) => l.msg === 'cluster joined');
        },
        { timeoutMs, message: () => `node ${this.name} did not print 'cluster joined' within ${seconds} s (listening on port ${this.#port}):\n${this.tail()}` },
      );
      const joined = this.logs().find((l) => l.msg === 'cluster joined');
      if (joined?.node !== undefined && joined.node !== this.name) {
        throw new Error(`node ${this.name} joined as ${JSON.stringify(joined.node)}, not as its --node-id:\n${this.tail()}`);
      }
    } catch (err) {
      child.kill('SIGKILL');
      await child.exited.catch(() => undefined);
      throw err;
    }
  }

  async kill(): Promise<ExitStatus> {
    this.#child.kill('SIGKILL');
    return this.#child.exited.catch(() => ({ code: null, signal: null }));
  }

  async stop(timeoutMs = 5000): Promise<ExitStatus> {
    if (this.#child.exit !== undefined) return this.#child.exit;
    this.#child.kill('SIGTERM');
    return this.#child.waitExit(timeoutMs, `node ${this.name} to exit after SIGTERM`);
  }

  async restart(): Promise<void> {
    if (this.alive()) throw new Error(`node ${this.name} still runs (pid ${this.#child.proc.pid}): kill or stop it before restart`);
    await this.start();
  }
}

/**
 * Starts n culex processes (n1..nN) against the Redis at redisUrl, each with its own data
 * dir, and waits until every one printed "cluster joined". On failure the ones started are
 * killed and the error names the node and shows the end of its output.
 */
export async function startCluster(n: number, redisUrl: string, options: StartClusterOptions = {}): Promise<Cluster> {
  const base = tempDir('culex-cluster-');
  const nodes = Array.from({ length: n }, (_, i) => new Node(`n${i + 1}`, join(base, `n${i + 1}`), redisUrl, options));
  const results = await Promise.allSettled(nodes.map((node) => node.start()));
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0) {
    await Promise.all(nodes.map((node) => (node.child === undefined ? undefined : node.kill())));
    removeDir(base);
    throw failed[0]?.reason instanceof Error ? failed[0].reason : new Error(String(failed[0]?.reason));
  }
  return {
    nodes,
    redisUrl,
    async stop() {
      const stops = await Promise.allSettled(nodes.map((node) => node.stop()));
      await Promise.all(nodes.map((node) => node.kill()));
      removeDir(base);
      const failure = stops.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure !== undefined) throw failure.reason;
    },
  };
}

// ---------------------------------------------------------------------------------------
// MQTT.js clients

export type Version = 4 | 5;

export interface Received {
  readonly topic: string;
  readonly payload: string;
  readonly packet: IPublishPacket;
}

/** A topic level that marks a probe: such messages go to `probes`, never to `inbox`. */
export const PROBE_LEVEL = '_probe_';

export function isProbe(topic: string): boolean {
  return topic.split('/').includes(PROBE_LEVEL);
}

export interface TestClient {
  /** For messages: clientId@node. */
  readonly label: string;
  readonly node: ClusterNode;
  readonly clientId: string;
  readonly client: MqttClient;
  readonly connack: IConnackPacket;
  /** Every message received, but probes. */
  readonly inbox: Received[];
  /** The probe messages received. */
  readonly probes: Received[];
  /** DISCONNECT packets the server sent (5.0). */
  readonly disconnects: IDisconnectPacket[];
  /** Errors MQTT.js emitted after the CONNACK. */
  readonly errors: Error[];
  /** Whether the connection has closed. */
  closed(): boolean;
  /** The messages on one topic. */
  on(topic: string): Received[];
  /** A clean DISCONNECT, waiting for the socket to close (deadline 5 s). */
  end(): Promise<void>;
  /** Drops the socket without DISCONNECT (the will is published). */
  destroy(): void;
}

let idCounter = 0;
export function uniqueId(prefix: string): string {
  // at most 23 characters, the limit a 3.1.1 server must accept
  return `${prefix.slice(0, 6)}-${(idCounter++).toString(36)}${Math.random().toString(36).slice(2, 10)}`.slice(0, 23);
}

/** A unique topic prefix per test, so tests sharing a cluster never see each other's messages. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}/${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Clients of one test file, so hooks can end them all (forcibly) whatever a test left behind. */
export class ClientPool {
  readonly #clients = new Set<TestClient>();

  /**
   * Connects to `node` and resolves with the CONNACK. The message listener is attached
   * before CONNECT goes out: a resumed session's queued messages can come with the CONNACK.
   * No automatic reconnect (a takeover or a killed node must stay visible).
   */
  async connect(node: ClusterNode, version: Version, options: IClientOptions = {}): Promise<TestClient> {
    const clientId = options.clientId ?? uniqueId(`c${version}`);
    const label = `${clientId}@${node.name}`;
    const client = mqtt.connect({
      host: '127.0.0.1',
      port: node.port,
      protocolVersion: version,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...options,
      clientId,
    });
    const inbox: Received[] = [];
    const probes: Received[] = [];
    const disconnects: IDisconnectPacket[] = [];
    const errors: Error[] = [];
    let closed = false;
    client.on('message', (topic, payload, packet) => (isProbe(topic) ? probes : inbox).push({ topic, payload: payload.toString(), packet }));
    client.on('disconnect', (packet) => disconnects.push(packet));
    client.on('close', () => (closed = true));
    const testClient: TestClient = {
      label,
      node,
      clientId,
      client,
      get connack(): IConnackPacket {
        return connack;
      },
      inbox,
      probes,
      disconnects,
      errors,
      closed: () => closed,
      on: (topic) => inbox.filter((m) => m.topic === topic),
      end: async () => {
        this.#clients.delete(testClient);
        if (closed) return;
        client.end(false);
        await waitFor(() => closed, { timeoutMs: 5000, message: `${label} to close after DISCONNECT` }).catch((err: unknown) => {
          client.end(true);
          throw err;
        });
      },
      destroy: () => {
        client.stream.destroy();
      },
    };
    this.#clients.add(testClient);
    let connack!: IConnackPacket;
    try {
      connack = await new Promise<IConnackPacket>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${label}: no CONNACK within 6 s (port ${node.port}, node ${node.alive() ? 'running' : 'not running'})`)), 6000);
        client.once('connect', (packet) => {
          clearTimeout(timer);
          resolve(packet);
        });
        client.once('error', (err) => {
          clearTimeout(timer);
          reject(new Error(`${label}: connect failed: ${err.message}`));
        });
        client.once('close', () => {
          clearTimeout(timer);
          reject(new Error(`${label}: connection closed before CONNACK (port ${node.port})`));
        });
      });
    } catch (err) {
      this.#clients.delete(testClient);
      client.end(true);
      throw err;
    }
    // after the CONNACK: a dropped connection is expected in some tests; keep the error, do not crash
    client.on('error', (err) => errors.push(err));
    return testClient;
  }

  /** Ends every client still open, forcibly (no DISCONNECT: for hooks, after a failure). */
  closeAll(): void {
    for (const c of this.#clients) c.client.end(true);
    this.#clients.clear();
  }
}

// ---------------------------------------------------------------------------------------
// waiting for the cluster, never sleeping

export interface ProbeOptions {
  /** Default 5000 ms. */
  readonly timeoutMs?: number;
  /** Between two probes. Default 50 ms. */
  readonly intervalMs?: number;
  /** For the failure message. */
  readonly what?: string;
}

/**
 * Publishes QoS 0 probes from `pub` on `${prefix}/_probe_/<i>` every intervalMs until
 * `arrived()` holds; fails with the count of probes sent at the deadline. Returns how many
 * probes it sent.
 */
export async function probeUntil(pub: TestClient, prefix: string, arrived: () => boolean, options: ProbeOptions = {}): Promise<number> {
  const { timeoutMs = 5000, intervalMs = 50 } = options;
  let sent = 0;
  let next = 0;
  await waitFor(
    () => {
      if (arrived()) return true;
      const now = Date.now();
      if (now >= next && pub.client.connected) {
        pub.client.publish(`${prefix}/${PROBE_LEVEL}/${sent}`, `probe ${sent}`, { qos: 0 });
        sent++;
        next = now + intervalMs;
      }
      return false;
    },
    {
      timeoutMs,
      intervalMs: Math.min(10, intervalMs),
      message: () => `${options.what ?? `a probe from ${pub.label}`}: ${sent} probes published on ${prefix}/${PROBE_LEVEL}/# (publisher ${pub.client.connected ? 'connected' : 'NOT connected'}), none arrived`,
    },
  );
  return sent;
}

/**
 * Waits until messages published through `pub`'s node reach `sub` (on another node):
 * subscribes `sub` to a fresh probe topic and publishes QoS 0 probes through `pub` every
 * 50 ms until one arrives (deadline 5 s), then unsubscribes. Subscriptions `sub` made before
 * are assumed to have propagated no later than this one.
 */
export async function crossNodeReady(sub: TestClient, pub: TestClient, options: ProbeOptions = {}): Promise<void> {
  const prefix = `cluster-ready/${uniqueId('r')}`;
  const topic = `${prefix}/#`;
  await sub.client.subscribeAsync(topic, { qos: 0 });
  const started = Date.now();
  await probeUntil(pub, prefix, () => sub.probes.some((m) => m.topic.startsWith(`${prefix}/`)), {
    ...options,
    what: options.what ?? `cross-node routing from ${pub.label} to ${sub.label}`,
  });
  readyTimes.push(Date.now() - started);
  await sub.client.unsubscribeAsync(topic);
}

/** How long each crossNodeReady took, for a summary line. */
export const readyTimes: number[] = [];

/**
 * Subscribes `sub` to `topic` until a retained message with `payload` arrives (retained
 * messages reach other nodes asynchronously): each round waits up to roundMs after the
 * SUBACK, then unsubscribes and tries again, until timeoutMs. Returns the message.
 */
export async function awaitRetained(sub: TestClient, topic: string, payload: string, options: { timeoutMs?: number; roundMs?: number } = {}): Promise<{ message: Received; rounds: number }> {
  const { timeoutMs = 5000, roundMs = 250 } = options;
  const deadline = Date.now() + timeoutMs;
  let rounds = 0;
  let seen: Received[] = [];
  for (;;) {
    rounds++;
    const from = sub.inbox.length;
    await sub.client.subscribeAsync(topic, { qos: 1 });
    const match = (): Received | undefined => sub.inbox.slice(from).find((m) => m.topic === topic && m.packet.retain && m.payload === payload);
    const remaining = deadline - Date.now();
    try {
      await waitFor(() => match() !== undefined, { timeoutMs: Math.max(1, Math.min(roundMs, remaining)) });
    } catch {
      // not yet: try again while time remains
    }
    await sub.client.unsubscribeAsync(topic);
    seen = seen.concat(sub.inbox.slice(from));
    const found = match();
    if (found !== undefined) return { message: found, rounds };
    if (Date.now() >= deadline) {
      throw new Error(
        `${sub.label} got no retained ${JSON.stringify(payload)} on ${topic} within ${timeoutMs} ms (${rounds} subscribe rounds); it got: ${JSON.stringify(seen.map((m) => [m.topic, m.payload, m.packet.retain]))}`,
      );
    }
  }
}

/**
 * Subscribes `sub` to `topic` until a round shows no retained message: each round, `sub`
 * publishes a non-retained marker on the topic and waits for it; a retained message that
 * came before the marker means the clear has not reached this node yet (try again).
 */
export async function awaitNoRetained(sub: TestClient, topic: string, options: { timeoutMs?: number } = {}): Promise<number> {
  const { timeoutMs = 5000 } = options;
  const deadline = Date.now() + timeoutMs;
  let rounds = 0;
  for (;;) {
    rounds++;
    const from = sub.inbox.length;
    await sub.client.subscribeAsync(topic, { qos: 1 });
    const marker = `marker ${rounds} ${uniqueId('m')}`;
    await sub.client.publishAsync(topic, marker, { qos: 1 });
    await waitFor(() => sub.inbox.slice(from).some((m) => m.payload === marker), {
      timeoutMs: Math.max(1000, deadline - Date.now()),
      message: `${sub.label}'s own marker on ${topic}`,
    });
    await sub.client.unsubscribeAsync(topic);
    const got = sub.inbox.slice(from);
    const retained = got.filter((m) => m.packet.retain);
    if (retained.length === 0) return rounds;
    if (Date.now() >= deadline) {
      throw new Error(`${sub.label} still gets a retained message on ${topic} after ${timeoutMs} ms (${rounds} rounds): ${JSON.stringify(retained.map((m) => m.payload))}`);
    }
  }
}

/** A compact view of messages, for assertion messages. */
export function show(messages: readonly Received[]): string {
  return JSON.stringify(messages.map((m) => [m.topic, m.payload, m.packet.qos, m.packet.retain]));
}

/**
 * The nodes' warnings, errors and cluster lines since `since` (ms), for a failed test: what
 * each node said about Redis, other nodes and handovers while the test ran.
 */
export function clusterDiagnostics(cluster: Cluster | undefined, since: number, perNode = 15): string {
  if (cluster === undefined) return '(no cluster)';
  const parts: string[] = [];
  for (const n of cluster.nodes) {
    const lines = n
      .logs()
      .filter((l) => Number(l.time ?? 0) >= since && (Number(l.level ?? 0) >= 40 || /cluster/i.test(String(l.msg))))
      .slice(-perNode)
      .map((l) => JSON.stringify(l));
    parts.push(`--- ${n.name} (${n.alive() ? `running, port ${n.port}` : `exited ${JSON.stringify(n.child.exit)}`}): ${lines.length === 0 ? 'nothing' : `\n${lines.join('\n')}`}`);
  }
  return parts.join('\n');
}
