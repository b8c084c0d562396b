// The well-behaved clients that run beside the fuzz: MQTT.js publishers and subscribers
// exchanging QoS 1 and QoS 2 messages with unique ids. Every publish the broker
// acknowledged must reach every subscriber (none lost), and a QoS 2 one exactly once.
import mqtt, { type MqttClient } from 'mqtt';
import { waitFor } from '../helpers/wait-for.js';

type Version = 3 | 4 | 5;

export interface GoodReport {
  /** Publishes the broker acknowledged (PUBACK / PUBCOMP). */
  acked: number;
  ackedQos1: number;
  ackedQos2: number;
  /** Acknowledged messages missing at a subscriber, summed over the subscribers. */
  lost: number;
  /** A few of the lost ids, "subscriber <- id". */
  lostSample: string[];
  /** QoS 2 messages a subscriber got more than once (must be 0). */
  duplicatesQos2: number;
  /** QoS 1 messages a subscriber got more than once (allowed, but reported). */
  duplicatesQos1: number;
  /** Deliveries per subscriber. */
  delivered: Record<string, number>;
  /** Publishes that failed (an error instead of an ack). */
  publishErrors: string[];
  /** close / offline / error / disconnect events before stop(): a good client hurt by the fuzz. */
  incidents: string[];
}

/** payload = "<publisher>:<n>:<qos>": unique per run, and says what was promised. */
function parseId(payload: string): { id: string; qos: number } | undefined {
  const m = /^(pub-v\d+):(\d+):([12])$/.exec(payload);
  return m === null ? undefined : { id: `${m[1]}:${m[2]}`, qos: Number(m[3]) };
}

interface Delivery {
  qos: number;
  count: number;
}

export class GoodClients {
  readonly #topic: string;
  readonly #clients = new Map<string, MqttClient>();
  /** subscriber -> message id -> deliveries */
  readonly #received = new Map<string, Map<string, Delivery>>();
  readonly #acked = new Map<string, 1 | 2>();
  readonly #publishErrors: string[] = [];
  readonly #incidents: string[] = [];
  #publishing = false;
  #closing = false;
  /** Publish loops still running (one may wait for an ack that never comes). */
  #running = 0;

  private constructor(topic: string) {
    this.#topic = topic;
  }

  /**
   * Connects two subscribers (3.1 and 5.0, QoS 2 on `good/<tag>/#`) and two publishers
   * (3.1.1 and 5.0); publishing starts with start().
   */
  static async connect(host: string, port: number, tag: string): Promise<GoodClients> {
    const good = new GoodClients(`good/${tag}`);
    const subscribers: [string, Version][] = [['sub-v3', 3], ['sub-v5', 5]];
    for (const [name, version] of subscribers) {
      const client = await good.#connect(host, port, `${name}-${tag}`, name, version);
      const inbox = new Map<string, Delivery>();
      good.#received.set(name, inbox);
      client.on('message', (_topic, payload) => {
        const parsed = parseId(payload.toString());
        if (parsed === undefined) return;
        const seen = inbox.get(parsed.id);
        if (seen === undefined) inbox.set(parsed.id, { qos: parsed.qos, count: 1 });
        else seen.count++;
      });
      const granted = await client.subscribeAsync(`${good.#topic}/#`, { qos: 2 });
      if (granted[0]?.qos !== 2) throw new Error(`${name}: subscription granted ${JSON.stringify(granted)}`);
    }
    await good.#connect(host, port, `pub-v4-${tag}`, 'pub-v4', 4);
    await good.#connect(host, port, `pub-v5-${tag}`, 'pub-v5', 5);
    return good;
  }

  async #connect(host: string, port: number, clientId: string, name: string, version: Version): Promise<MqttClient> {
    const client = mqtt.connect({
      host,
      port,
      clientId: clientId.slice(0, 23), // 3.1 allows at most 23 characters
      protocolVersion: version,
      ...(version === 3 ? { protocolId: 'MQIsdp' as const } : {}),
      clean: true,
      keepalive: 30,
      reconnectPeriod: 0, // a reconnect would hide a broken connection: it is an incident instead
      connectTimeout: 10_000,
    });
    this.#clients.set(name, client);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => {
        client.off('error', reject);
        resolve();
      });
      client.once('error', reject);
    });
    const incident = (what: string) => (detail?: unknown) => {
      if (!this.#closing) this.#incidents.push(`${name}: ${what}${detail instanceof Error ? ` ${detail.message}` : ''}`);
    };
    client.on('close', incident('close'));
    client.on('offline', incident('offline'));
    client.on('error', incident('error'));
    client.on('disconnect', incident('DISCONNECT from the broker'));
    return client;
  }

  /** Starts `window` publish loops per publisher (each awaits its ack before the next). */
  start(window = 3): void {
    this.#publishing = true;
    for (const name of ['pub-v4', 'pub-v5']) {
      const client = this.#clients.get(name)!;
      let next = 0;
      for (let w = 0; w < window; w++) {
        this.#running++;
        void (async () => {
          try {
            while (this.#publishing && client.connected) {
              const n = next++;
              const qos = n % 2 === 0 ? 1 : 2;
              const id = `${name}:${n}`;
              await client.publishAsync(`${this.#topic}/${name}`, `${id}:${qos}`, { qos });
              this.#acked.set(id, qos);
            }
          } catch (err) {
            if (!this.#closing) this.#publishErrors.push(`${name}: ${(err as Error).message}`);
          } finally {
            this.#running--;
          }
        })();
      }
    }
  }

  get ackedCount(): number {
    return this.#acked.size;
  }

  /** Acknowledged messages every subscriber has (for progress and warm-up). */
  get deliveredToAll(): number {
    let n = 0;
    for (const id of this.#acked.keys()) if ([...this.#received.values()].every((inbox) => inbox.has(id))) n++;
    return n;
  }

  /**
   * Stops publishing and waits for the last acks, then until every subscriber has every
   * acked message (or the timeout: the report then says what is missing).
   */
  async stopAndDrain(timeoutMs = 15_000): Promise<void> {
    this.#publishing = false;
    await waitFor(() => this.#running === 0, { timeoutMs }).catch(() =>
      this.#publishErrors.push(`${this.#running} publishes still unacknowledged ${timeoutMs} ms after the last was sent`),
    );
    await waitFor(() => this.#missing(1).length === 0, { timeoutMs }).catch(() => undefined);
  }

  #missing(max = Infinity): string[] {
    const out: string[] = [];
    for (const [sub, inbox] of this.#received) {
      for (const id of this.#acked.keys()) {
        if (!inbox.has(id)) out.push(`${sub} <- ${id}`);
        if (out.length >= max) return out;
      }
    }
    return out;
  }

  report(): GoodReport {
    let duplicatesQos1 = 0;
    let duplicatesQos2 = 0;
    const delivered: Record<string, number> = {};
    for (const [sub, inbox] of this.#received) {
      let total = 0;
      for (const { qos, count } of inbox.values()) {
        total += count;
        if (qos === 2) duplicatesQos2 += count - 1;
        else duplicatesQos1 += count - 1;
      }
      delivered[sub] = total;
    }
    const missing = this.#missing();
    const qos = [...this.#acked.values()];
    return {
      acked: this.#acked.size,
      ackedQos1: qos.filter((q) => q === 1).length,
      ackedQos2: qos.filter((q) => q === 2).length,
      lost: missing.length,
      lostSample: missing.slice(0, 10),
      duplicatesQos2,
      duplicatesQos1,
      delivered,
      publishErrors: this.#publishErrors.slice(0, 10),
      incidents: this.#incidents.slice(0, 10),
    };
  }

  /** Disconnects all of them (no incident is recorded from here on); never waits on a dead broker. */
  async close(): Promise<void> {
    this.#publishing = false;
    this.#closing = true;
    await Promise.all([...this.#clients.values()].map((c) => endQuietly(c)));
  }
}

/** Ends an MQTT.js client: gracefully if it can within a second, else forcibly. */
export async function endQuietly(client: MqttClient): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const graceful = client.endAsync().catch(() => undefined);
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)));
  await Promise.race([graceful, late]);
  clearTimeout(timer);
  if (!client.disconnected) client.end(true);
}
