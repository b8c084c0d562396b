// Reconnect churn for the soak test: a pool of MQTT.js clients with fixed client ids that
// connect at a steady rate, do a little work and go away again, for the whole soak.
//
// Slots alternate: even ids start clean (clean session / clean start), odd ids keep a persistent
// session; within each kind, protocol 3.1.1 and 5.0 alternate too (5.0 persistent sessions ask
// for a one-hour Session Expiry Interval). Every client connects with a will on
// soak/will/<slot> and ends its visit alternately with a DISCONNECT or by destroying its socket
// (the broker sees an abrupt close and must publish the will then, and only then).
//
//   clean slot:      connect, SUBSCRIBE soak/churn/<slot> QoS 1, 2 QoS 1 messages published to
//                    it by the driver's publisher, wait for both, stay a moment, leave.
//   persistent slot: connect (session present expected after the first visit), SUBSCRIBE on
//                    the first visit only, receive every message queued while it was away,
//                    1 live message, stay a moment, leave; then the publisher queues 3 more.
//
// A message counts as owed to a client once the broker has acknowledged it to the publisher
// (PUBACK) while the client's subscription existed. A clean slot must receive its 2 before it
// leaves; a persistent slot may get its queue on a later visit, and what it still misses after
// the final visit of every persistent slot (finish()) is lost. Duplicates (QoS 1 redeliveries
// after an abrupt close) are counted, not failed.
import mqtt from 'mqtt';
import { setTimeout as sleep } from 'node:timers/promises';
import { WILL_PREFIX } from './soak-monitor.mjs';

const CONNECT_TIMEOUT_MS = 10000;
const DELIVERY_TIMEOUT_MS = 10000;
const OFFLINE_MESSAGES = 3;

/** A small seeded PRNG (mulberry32): the same churn pattern every run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const emptyCounters = () => ({
  connects: 0, // CONNACKs received
  cleanDisconnects: 0,
  abruptCloses: 0,
  published: 0,
  acked: 0,
  delivered: 0, // first deliveries of owed or live messages
  duplicates: 0,
  late: 0, // queued messages not there within the delivery timeout (still owed)
  lostClean: 0, // owed to a clean client that never got them before leaving
  sessionsLost: 0, // a persistent client found no session
  willsReceived: 0,
  willsUnexpected: 0, // after a clean DISCONNECT, or twice
  skipped: 0, // connects the scheduler owed but no slot was free
  errors: 0,
});

export class Churn {
  counters = emptyCounters();
  #minute = emptyCounters();
  errorLog = [];
  #slots = [];
  #pub;
  #tick;
  #tokens = 0;
  #lastTick = 0;
  #next = 0;
  #running = new Set();
  #stopping = false;
  #expectedWills = new Map(); // `${slot}:${cycle}` -> time it was registered
  #optionalWills = new Set(); // visits that failed half-way: a will may or may not come
  #rand = prng(20261124);
  #seq = 1;

  constructor({ host, port, pool = 200, rate = 50, tag = String(process.pid) }) {
    Object.assign(this, { host, port, pool, rate, tag });
    for (let id = 0; id < pool; id++) {
      this.#slots.push({
        id,
        persistent: id % 2 === 1,
        v5: (id >> 1) % 2 === 1,
        clientId: `soak-${tag}-${id}`,
        topic: `soak/churn/${id}`,
        cycle: 0,
        busy: false,
        readyAt: 0,
        hasSession: false,
        owed: new Set(), // acked by the broker, not yet received
        received: new Set(),
        waiter: null,
      });
    }
  }

  #count(key, n = 1) {
    this.counters[key] += n;
    this.#minute[key] += n;
  }

  #error(kind, msg) {
    this.#count('errors');
    if (this.errorLog.length < 50) this.errorLog.push({ at: new Date().toISOString(), kind, msg });
  }

  /** Connect the publisher and start the scheduler. */
  async start() {
    this.#pub = mqtt.connect({
      host: this.host,
      port: this.port,
      clientId: `soak-${this.tag}-pub`,
      protocolVersion: 4,
      clean: true,
      keepalive: 30,
      reconnectPeriod: 1000,
      connectTimeout: CONNECT_TIMEOUT_MS,
    });
    this.#pub.on('error', (e) => this.#error('publisher', e.message));
    this.#pub.on('offline', () => this.#error('publisher', 'connection lost'));
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('churn publisher: no CONNACK')), CONNECT_TIMEOUT_MS);
      this.#pub.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
    });
    this.#lastTick = Date.now();
    this.#tick = setInterval(() => this.#schedule(), 20);
  }

  /** Counters since the previous call (one soak minute). */
  takeMinute() {
    const m = this.#minute;
    this.#minute = emptyCounters();
    return m;
  }

  #schedule() {
    const now = Date.now();
    this.#tokens = Math.min(this.rate, this.#tokens + ((now - this.#lastTick) / 1000) * this.rate);
    this.#lastTick = now;
    while (this.#tokens >= 1 && !this.#stopping) {
      this.#tokens -= 1;
      const slot = this.#freeSlot(now);
      if (slot === undefined) {
        this.#count('skipped');
        continue;
      }
      this.#launch(slot);
    }
  }

  #freeSlot(now) {
    for (let k = 0; k < this.pool; k++) {
      const s = this.#slots[(this.#next + k) % this.pool];
      if (!s.busy && s.readyAt <= now) {
        this.#next = (s.id + 1) % this.pool;
        return s;
      }
    }
    return undefined;
  }

  #launch(slot, final = false) {
    slot.busy = true;
    const p = this.#visit(slot, final)
      .catch((e) => this.#error('visit', `${slot.clientId}: ${e.message}`))
      .finally(() => {
        slot.busy = false;
        slot.readyAt = Date.now() + 1000 + Math.floor(this.#rand() * 2000);
        this.#running.delete(p);
      });
    this.#running.add(p);
    return p;
  }

  /** Publish one QoS 1 message to a slot; owed to it once the broker acknowledged it. */
  #publish(slot) {
    const seq = this.#seq++;
    this.#count('published');
    return new Promise((resolve) => {
      this.#pub.publish(slot.topic, String(seq), { qos: 1 }, (err) => {
        if (err) this.#error('publish', `${slot.topic}: ${err.message}`);
        else {
          this.#count('acked');
          if (!slot.received.has(seq)) slot.owed.add(seq);
        }
        resolve(seq);
      });
    });
  }

  #onMessage(slot, payload) {
    const seq = Number(payload.toString());
    if (slot.received.has(seq)) this.#count('duplicates');
    else {
      slot.received.add(seq);
      this.#count('delivered');
    }
    slot.owed.delete(seq);
    if (slot.waiter?.pred()) slot.waiter.resolve(true);
  }

  /** Resolve true once pred() holds (checked at each message), false after `ms`. */
  #waitFor(slot, pred, ms) {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        slot.waiter = null;
        resolve(false);
      }, ms);
      slot.waiter = {
        pred,
        resolve: (v) => {
          clearTimeout(t);
          slot.waiter = null;
          resolve(v);
        },
      };
    });
  }

  /** Connect; the message handler is attached before the CONNACK, so nothing queued is missed. */
  #connect(slot, cycle) {
    const opts = {
      host: this.host,
      port: this.port,
      clientId: slot.clientId,
      protocolVersion: slot.v5 ? 5 : 4,
      clean: !slot.persistent,
      keepalive: 30,
      reconnectPeriod: 0,
      connectTimeout: CONNECT_TIMEOUT_MS,
      will: { topic: `${WILL_PREFIX}${slot.id}`, payload: Buffer.from(`${slot.id}:${cycle}`), qos: 1, retain: false },
    };
    if (slot.v5 && slot.persistent) opts.properties = { sessionExpiryInterval: 3600 };
    const client = mqtt.connect(opts);
    client.on('message', (_topic, payload) => this.#onMessage(slot, payload));
    return new Promise((resolve, reject) => {
      const fail = (why) => {
        client.end(true);
        reject(new Error(why));
      };
      const t = setTimeout(() => fail('no CONNACK'), CONNECT_TIMEOUT_MS);
      client.once('connect', (connack) => {
        clearTimeout(t);
        client.removeAllListeners('error');
        client.on('error', (e) => this.#error('client', `${slot.clientId}: ${e.message}`));
        resolve({ client, sessionPresent: connack.sessionPresent === true });
      });
      client.once('error', (e) => {
        clearTimeout(t);
        fail(e.message);
      });
      client.once('close', () => {
        clearTimeout(t);
        fail('closed before CONNACK');
      });
    });
  }

  async #visit(slot, final) {
    const cycle = ++slot.cycle;
    const key = `${slot.id}:${cycle}`;
    let client;
    let sessionPresent;
    try {
      ({ client, sessionPresent } = await this.#connect(slot, cycle));
    } catch (e) {
      this.#optionalWills.add(key);
      this.#error('connect', `${slot.clientId}: ${e.message}`);
      return;
    }
    this.#count('connects');
    if (slot.persistent && slot.hasSession && !sessionPresent) {
      this.#count('sessionsLost');
      this.#error('session', `${slot.clientId}: no session present on reconnect`);
      slot.hasSession = false;
    }
    let closedByUs = false;
    const closed = new Promise((resolve) => client.once('close', resolve));
    client.once('close', () => {
      if (!closedByUs) {
        this.#optionalWills.add(key);
        this.#error('client', `${slot.clientId}: connection closed by the broker`);
      }
    });
    try {
      if (slot.persistent) {
        const owedNow = [...slot.owed];
        if (!slot.hasSession) {
          await client.subscribeAsync(slot.topic, { qos: 1 });
          slot.hasSession = true;
        }
        const gotQueue = await this.#waitFor(slot, () => owedNow.every((s) => !slot.owed.has(s)), DELIVERY_TIMEOUT_MS);
        if (!gotQueue) this.#count('late');
        if (!final) {
          const live = await this.#publish(slot);
          const gotLive = await this.#waitFor(slot, () => slot.received.has(live), DELIVERY_TIMEOUT_MS);
          if (!gotLive) this.#count('late');
        }
      } else {
        await client.subscribeAsync(slot.topic, { qos: 1 });
        const seqs = await Promise.all([this.#publish(slot), this.#publish(slot)]);
        const ok = await this.#waitFor(slot, () => seqs.every((s) => slot.received.has(s)), DELIVERY_TIMEOUT_MS);
        if (!ok) {
          const missing = seqs.filter((s) => slot.owed.has(s));
          this.#count('lostClean', missing.length);
          if (missing.length) this.#error('lost', `${slot.clientId}: QoS 1 messages ${missing.join(',')} not delivered`);
          for (const s of missing) slot.owed.delete(s); // the clean session is gone: lost, not owed
        }
      }
      if (!final) await sleep(200 + Math.floor(this.#rand() * 600));
    } catch (e) {
      this.#optionalWills.add(key);
      this.#error('visit', `${slot.clientId}: ${e.message}`);
    }
    closedByUs = true;
    const abrupt = !final && (slot.id + cycle) % 2 === 0;
    if (abrupt) {
      this.#expectedWills.set(key, Date.now());
      this.#count('abruptCloses');
      client.end(true); // destroys the socket: no DISCONNECT, the will must follow
    } else {
      this.#count('cleanDisconnects');
      client.end(false);
    }
    await Promise.race([closed, sleep(5000)]);
    client.end(true);
    if (slot.persistent && !final && !this.#stopping) {
      for (let k = 0; k < OFFLINE_MESSAGES; k++) void this.#publish(slot);
    }
  }

  /** A message on soak/will/# (payload `<slot>:<cycle>`), from the monitor. */
  onWill(payload) {
    if (this.#expectedWills.delete(payload)) this.#count('willsReceived');
    else if (this.#optionalWills.delete(payload)) {
      /* a visit that failed half-way: its will is fine */
    } else {
      this.#count('willsUnexpected');
      this.#error('will', `unexpected will ${payload} (after a clean DISCONNECT, or twice)`);
    }
  }

  /**
   * Stop scheduling, let running visits end, then visit every persistent slot once more
   * (clean DISCONNECT) to collect what is still owed, and wait for outstanding wills.
   * Returns the end-of-soak accounting.
   */
  async finish() {
    this.#stopping = true;
    clearInterval(this.#tick);
    await Promise.all([...this.#running]);
    await sleep(500); // let the last acks of offline publishes come in
    const persistent = this.#slots.filter((s) => s.persistent);
    await Promise.all(persistent.map((s) => this.#launch(s, true)));
    const until = Date.now() + 5000;
    while (this.#expectedWills.size > 0 && Date.now() < until) await sleep(100);
    const lostPersistent = persistent.reduce((n, s) => n + s.owed.size, 0);
    for (const s of persistent) {
      if (s.owed.size) this.#error('lost', `${s.clientId}: QoS 1 messages ${[...s.owed].slice(0, 10).join(',')} never delivered`);
    }
    const willsMissing = this.#expectedWills.size;
    if (willsMissing) this.#error('will', `${willsMissing} wills of abrupt closes never arrived: ${[...this.#expectedWills.keys()].slice(0, 10).join(' ')}`);
    await Promise.race([this.#pub.endAsync(false).catch(() => {}), sleep(2000)]);
    this.#pub.end(true);
    return { lostPersistent, lostClean: this.counters.lostClean, willsMissing, ...this.counters };
  }

  /** Close everything at once (abort path). */
  kill() {
    this.#stopping = true;
    clearInterval(this.#tick);
    this.#pub?.end(true);
  }
}
