// The soak's monitoring client: subscribes to $SYS/broker/# (published retained every
// sys_interval; a value is re-published only when it changed, so the latest one received is
// the current one) and to the churn clients' wills, and tells the driver when a $SYS
// publication arrived, so that the soak's minutes follow the broker's own $SYS period.
import mqtt from 'mqtt';
import { setTimeout as sleep } from 'node:timers/promises';

const SYS = '$SYS/broker/';
export const WILL_PREFIX = 'soak/will/';

export class SysMonitor {
  /** topic (without `$SYS/broker/`) -> { value, at (ms) } */
  latest = new Map();
  /** arrival times (ms) of `uptime`, which changes at every publication */
  publications = [];
  errors = [];
  #client;
  #onWill;

  /** `onWill(payload)`: a message on soak/will/#. */
  constructor({ host, port, onWill }) {
    this.#onWill = onWill;
    this.host = host;
    this.port = port;
  }

  async start(timeoutMs = 10000) {
    const client = mqtt.connect({
      host: this.host,
      port: this.port,
      clientId: `soak-monitor-${process.pid}`,
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      reconnectPeriod: 1000,
      connectTimeout: timeoutMs,
    });
    this.#client = client;
    client.on('message', (topic, payload) => this.#message(topic, payload.toString()));
    client.on('error', (e) => this.#error(`monitor: ${e.message}`));
    client.on('offline', () => this.#error('monitor: connection lost'));
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('monitor: no CONNACK')), timeoutMs);
      client.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
    });
    await client.subscribeAsync([`${SYS}#`, `${WILL_PREFIX}#`], { qos: 1 });
  }

  #error(msg) {
    if (this.errors.length < 50) this.errors.push({ at: new Date().toISOString(), msg });
    else this.errors.length++;
  }

  #message(topic, value) {
    const now = Date.now();
    if (topic.startsWith(SYS)) {
      const key = topic.slice(SYS.length);
      this.latest.set(key, { value, at: now });
      if (key === 'uptime') this.publications.push(now);
    } else if (topic.startsWith(WILL_PREFIX)) {
      this.#onWill?.(value);
    }
  }

  /** The latest value of a $SYS topic as a number (null if never received or not numeric). */
  number(key) {
    const v = this.latest.get(key);
    if (v === undefined) return null;
    const n = Number.parseFloat(v.value);
    return Number.isFinite(n) ? n : null;
  }

  /** Age in seconds of the latest publication (null if none yet). */
  lastPublicationAge() {
    const last = this.publications.at(-1);
    return last === undefined ? null : (Date.now() - last) / 1000;
  }

  /**
   * Resolve once a $SYS publication arrives after `afterMs` (plus `settleMs`, so that the whole
   * batch is in), or at `deadlineMs`, or when `abort()` turns true. Returns whether one came.
   */
  async waitForPublication(afterMs, deadlineMs, abort = () => false, settleMs = 300) {
    while (Date.now() < deadlineMs && !abort()) {
      const last = this.publications.at(-1);
      if (last !== undefined && last > afterMs) {
        await sleep(settleMs);
        return true;
      }
      await sleep(100);
    }
    return false;
  }

  /** Every $SYS value received, as plain strings, for the raw file. */
  snapshot() {
    return Object.fromEntries([...this.latest].map(([k, v]) => [k, v.value]));
  }

  async stop() {
    if (!this.#client) return;
    await Promise.race([this.#client.endAsync(false).catch(() => {}), sleep(2000)]);
    this.#client.end(true);
  }
}
