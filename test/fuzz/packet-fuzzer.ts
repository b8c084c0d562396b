// The socket fuzz driver: opens many TCP connections at once to a running broker, each
// sending the stream planConnection() built for its index, until a number of packets has
// been written. It only sends and counts; the checks (broker alive, nothing lost, memory)
// belong to the scenario that runs it.
//
// A packet counts as sent once the kernel took all its bytes (the write callback saw no
// error). Packets after one the broker refused may still count, as the broker closes a
// moment later; packets written after it closed do not.
import { connect as netConnect, type Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { planConnection, type ConnectionPlan } from './connection-plan.js';

export interface FuzzTarget {
  host: string;
  port: number;
}

export interface FuzzOptions {
  seed: number;
  /** Connections open at once. */
  concurrency: number;
  /** Index of the first connection (to continue another run's sequence). Default 0. */
  firstIndex?: number;
  /** Index of the last connection to run (to replay a range). Default: no limit. */
  lastIndex?: number;
  /** Checked before each new connection; true stops the run (the broker exited, say). */
  shouldStop?: () => boolean;
  /** How long the broker may take to close a connection after our FIN. Default 5000 ms. */
  closeTimeoutMs?: number;
  /** Longest one connection may last before it is destroyed. Default 20000 ms. */
  connectionTimeoutMs?: number;
  /**
   * Stops once this many connections hung (closeTimeouts + stalled): the broker is stuck, and
   * waiting out every remaining connection would only turn the failure into a timeout. Default 20.
   */
  maxHung?: number;
  /** Called every `progressEvery` connections. */
  onProgress?: (stats: Readonly<FuzzStats>) => void;
  progressEvery?: number;
}

export interface FuzzStats {
  connections: number;
  connectFailures: number;
  /** error code -> count, for connect failures */
  connectErrors: Record<string, number>;
  packetsPlanned: number;
  packetsSent: number;
  bytesSent: number;
  /** Connections the broker ended before we did (it refused something, or a keep alive ran out). */
  closedByBroker: number;
  /** Connections the broker had not closed `closeTimeoutMs` after our FIN: a hang. */
  closeTimeouts: number;
  /** Connections still busy after `connectionTimeoutMs` (destroyed): a write that never completed. */
  stalled: number;
  /** Indexes of the connections that hit closeTimeouts or stalled (the first 20). */
  suspects: number[];
  openings: Record<string, number>;
  kinds: Record<string, number>;
  versions: Record<string, number>;
  /** The index the next connection would get. */
  nextIndex: number;
  durationMs: number;
}

function bump(record: Record<string, number>, key: string, by = 1): void {
  record[key] = (record[key] ?? 0) + by;
}

function emptyStats(firstIndex: number): FuzzStats {
  return {
    connections: 0,
    connectFailures: 0,
    connectErrors: {},
    packetsPlanned: 0,
    packetsSent: 0,
    bytesSent: 0,
    closedByBroker: 0,
    closeTimeouts: 0,
    stalled: 0,
    suspects: [],
    openings: {},
    kinds: {},
    versions: {},
    nextIndex: firstIndex,
    durationMs: 0,
  };
}

/** Resolves true once the kernel took `bytes`, false if the socket failed or was gone. */
function write(socket: Socket, bytes: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed || !socket.writable) {
      resolve(false);
      return;
    }
    socket.write(bytes, (err) => resolve(err === undefined || err === null));
  });
}

/** Resolves true when `closed` settles first, false after `ms`. */
async function within(closed: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([closed.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class PacketFuzzer {
  readonly stats: FuzzStats;
  readonly #target: FuzzTarget;
  readonly #options: FuzzOptions;
  readonly #inFlight = new Set<number>();
  #plannedInFlight = 0;

  constructor(target: FuzzTarget, options: FuzzOptions) {
    this.#target = target;
    this.#options = options;
    this.stats = emptyStats(options.firstIndex ?? 0);
  }

  /** Indexes of the connections open right now (to name suspects when the broker dies). */
  get inFlight(): number[] {
    return [...this.#inFlight].sort((a, b) => a - b);
  }

  /**
   * Runs connections until `packets` packets were sent in all (counting earlier runs of this
   * fuzzer: a run may be split into phases), then waits for the last ones to finish.
   */
  async run(packets: number): Promise<FuzzStats> {
    const started = performance.now();
    await Promise.all(Array.from({ length: this.#options.concurrency }, () => this.#worker(packets)));
    this.stats.durationMs += Math.round(performance.now() - started);
    return this.stats;
  }

  async #worker(packets: number): Promise<void> {
    const { seed, shouldStop, onProgress, progressEvery = 1000, maxHung = 20, lastIndex = Infinity } = this.#options;
    const s = this.stats;
    while (
      shouldStop?.() !== true &&
      s.closeTimeouts + s.stalled < maxHung &&
      s.nextIndex <= lastIndex &&
      s.packetsSent + this.#plannedInFlight < packets
    ) {
      const plan = planConnection(seed, s.nextIndex++);
      this.#plannedInFlight += plan.packets.length;
      this.#inFlight.add(plan.index);
      try {
        await this.#connection(plan);
      } finally {
        this.#plannedInFlight -= plan.packets.length;
        this.#inFlight.delete(plan.index);
      }
      if (onProgress !== undefined && s.connections % progressEvery === 0) onProgress(s);
    }
  }

  #suspect(index: number): void {
    if (this.stats.suspects.length < 20) this.stats.suspects.push(index);
  }

  async #connection(plan: ConnectionPlan): Promise<void> {
    const s = this.stats;
    s.connections++;
    s.packetsPlanned += plan.packets.length;
    bump(s.openings, plan.opening);
    bump(s.versions, `v${plan.version}`);
    for (const p of plan.packets) bump(s.kinds, p.kind.split(':')[0]!);

    const socket = netConnect({ host: this.#target.host, port: this.#target.port, noDelay: true });
    let connectError: NodeJS.ErrnoException | undefined;
    socket.on('error', (err: NodeJS.ErrnoException) => (connectError ??= err)); // EPIPE, ECONNRESET: expected
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const opened = await Promise.race([new Promise<boolean>((resolve) => socket.once('connect', () => resolve(true))), closed.then(() => false)]);
    if (!opened) {
      s.connectFailures++;
      bump(s.connectErrors, connectError?.code ?? 'closed');
      return;
    }
    let weEnded = false;
    socket.once('end', () => {
      if (!weEnded) s.closedByBroker++;
    });
    if (plan.read) socket.resume();
    const { closeTimeoutMs = 5000, connectionTimeoutMs = 20_000 } = this.#options;
    const deadline = setTimeout(() => {
      s.stalled++;
      this.#suspect(plan.index);
      socket.destroy();
    }, connectionTimeoutMs);
    try {
      await this.#send(socket, plan);
      if (plan.ending === 'reset') {
        socket.resetAndDestroy();
        return;
      }
      if (plan.ending === 'linger' && (await within(closed, plan.lingerMs))) return;
      // a paused socket never sees the broker's FIN: read from here on, so the close shows
      socket.resume();
      weEnded = true;
      socket.end();
      if (!(await within(closed, closeTimeoutMs)) && !socket.destroyed) {
        s.closeTimeouts++;
        this.#suspect(plan.index);
      }
    } finally {
      clearTimeout(deadline);
      socket.destroy();
      await closed;
    }
  }

  /** Writes the plan's packets in its write mode, counting those the kernel took. */
  async #send(socket: Socket, plan: ConnectionPlan): Promise<void> {
    const s = this.stats;
    const { packets } = plan;
    const count = (from: number, to: number): void => {
      for (let i = from; i < to; i++) {
        s.packetsSent++;
        s.bytesSent += packets[i]!.bytes.length;
      }
    };
    if (plan.write === 'whole') {
      if (await write(socket, Buffer.concat(packets.map((p) => p.bytes)))) count(0, packets.length);
      return;
    }
    if (plan.write === 'per-packet') {
      // queued at once: node hands them to the kernel in order, callbacks in order
      const results = await Promise.all(packets.map((p) => write(socket, p.bytes)));
      results.forEach((ok, i) => ok && count(i, i + 1));
      return;
    }
    // fragments: small writes a turn apart, so the broker's parser sees packets split anywhere
    const stream = Buffer.concat(packets.map((p) => p.bytes));
    const ends: number[] = [];
    packets.reduce((offset, p) => (ends.push(offset + p.bytes.length), offset + p.bytes.length), 0);
    let offset = 0;
    let done = 0; // packets whose last byte went out
    for (let i = 0; offset < stream.length; i++) {
      const size = plan.chunkSizes[i % plan.chunkSizes.length]!;
      if (!(await write(socket, stream.subarray(offset, offset + size)))) return;
      offset += size;
      for (; done < ends.length && ends[done]! <= offset; done++) count(done, done + 1);
      await nextTurn();
    }
  }
}
