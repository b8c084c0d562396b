// Looking at the broker process from outside: its memory (/proc/<pid>/status), its $SYS
// tree (which says how many clients, sessions, subscriptions and queued messages it holds),
// and its log (an error-level line means a bug: the broker caught something it did not expect).
import { readdirSync, readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { parseLogLines } from '../interop/support.js';
import { endQuietly } from './good-clients.js';

export const KIB = 1024;
export const MIB = 1024 * 1024;

export interface MemoryReading {
  /** Resident set size now, bytes. */
  rss: number;
  /** Peak resident set size since the process started (VmHWM), bytes. */
  hwm: number;
}

/** VmRSS and VmHWM of a process (Linux only; throws elsewhere or when it is gone). */
export function readMemory(pid: number): MemoryReading {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    if (m === null) throw new Error(`no ${name} in /proc/${pid}/status`);
    return Number(m[1]) * KIB;
  };
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** Open file descriptors of a process (sockets included): one per connection it still holds. */
export function countFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

/** The $SYS values that say what state the broker holds. */
export interface SysState {
  clientsConnected: number;
  /** Connected plus offline sessions. */
  clientsTotal: number;
  subscriptions: number;
  retained: number;
  /** Queued plus in-flight QoS 1/2 messages over all sessions. */
  stored: number;
  packetsReceived: number;
  publishReceived: number;
  publishDropped: number;
}

/** A plain MQTT client subscribed to $SYS/broker/#: the latest value of each topic. */
export class SysWatcher {
  readonly #client: MqttClient;
  readonly #values = new Map<string, string>();
  /** Bumped on every $SYS message, so a waiter can ask for a fresh round. */
  updates = 0;

  private constructor(client: MqttClient) {
    this.#client = client;
    client.on('message', (topic, payload) => {
      this.#values.set(topic.slice('$SYS/broker/'.length), payload.toString());
      this.updates++;
    });
  }

  static async connect(host: string, port: number, clientId: string): Promise<SysWatcher> {
    const client = mqtt.connect({ host, port, clientId, protocolVersion: 4, clean: true, reconnectPeriod: 0, connectTimeout: 10_000 });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    const watcher = new SysWatcher(client);
    await client.subscribeAsync('$SYS/broker/#', { qos: 0 });
    return watcher;
  }

  #number(key: string): number {
    const value = Number(this.#values.get(key));
    return Number.isFinite(value) ? value : NaN;
  }

  get state(): SysState {
    return {
      clientsConnected: this.#number('clients/connected'),
      clientsTotal: this.#number('clients/total'),
      subscriptions: this.#number('subscriptions/count'),
      retained: this.#number('retained messages/count'),
      stored: this.#number('messages/stored'),
      packetsReceived: this.#number('messages/received'),
      publishReceived: this.#number('publish/messages/received'),
      publishDropped: this.#number('publish/messages/dropped'),
    };
  }

  get connected(): boolean {
    return this.#client.connected;
  }

  async close(): Promise<void> {
    await endQuietly(this.#client);
  }
}

export interface LogScan {
  /** error and fatal lines (pino levels 50 and 60), the first 10. */
  errors: string[];
  errorCount: number;
  /** connection closed lines by reason. */
  closeReasons: Record<string, number>;
  lines: number;
}

/** Scans the broker's JSON log (stdout) from `offset` on. */
export function scanLog(stdout: string, offset = 0): LogScan {
  const scan: LogScan = { errors: [], errorCount: 0, closeReasons: {}, lines: 0 };
  for (const line of parseLogLines(stdout.slice(offset))) {
    scan.lines++;
    if (typeof line.level === 'number' && line.level >= 50) {
      scan.errorCount++;
      if (scan.errors.length < 10) scan.errors.push(JSON.stringify(line).slice(0, 2000));
    }
    if (line.msg === 'connection closed' && typeof line.reason === 'string') {
      scan.closeReasons[line.reason] = (scan.closeReasons[line.reason] ?? 0) + 1;
    }
  }
  return scan;
}
