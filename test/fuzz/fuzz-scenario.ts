// One whole socket-fuzz run against the real `culex` process, shared by the default test
// (socket-fuzz.test.ts, 100,000 packets) and the long run (run-fuzz.ts, 1,000,000):
//
//   1. start `culex` and connect a $SYS watcher and the well-behaved clients (good-clients.ts);
//   2. warm up with 15% of the packets (5,000 to 50,000): what the first connections make the
//      broker allocate for good (JIT code, pools, heap sizing, the retained-message store filling
//      up to its bound) is not a leak;
//   3. baseline: a full GC, then RSS, live heap, Buffers and open file descriptors;
//   4. fuzz in phases; after each, wait until the fuzz clients' sessions are gone ($SYS) and
//      take the same reading, so a leak shows as growth from phase to phase;
//   5. drain the good clients and count what they lost;
//   6. wait for the broker to hold only what it held at the baseline ($SYS), take the last
//      reading and compare; a new client must still get a message through;
//   7. SIGTERM: the broker must shut down cleanly (exit 0), with nothing on stderr.
//
// A failed check adds a line to `failures` rather than throwing, so a run always ends with
// the whole picture (the long run prints it).
import mqtt from 'mqtt';
import { waitFor } from '../helpers/wait-for.js';
import type { CliBroker } from '../interop/support.js';
import { countFds, mib, readMemory, scanLog, SysWatcher, type LogScan, type SysState } from './broker-probe.js';
import { MAX_RETAINED, startFuzzBroker } from './fuzz-broker.js';
import { endQuietly, GoodClients, type GoodReport } from './good-clients.js';
import { InspectorProbe, stderrWithoutInspector, type LiveMemory } from './inspector-probe.js';
import { PacketFuzzer, type FuzzStats } from './packet-fuzzer.js';

export const HOST = '127.0.0.1';

export interface ScenarioOptions {
  seed: number;
  /** Packets to send in all (the warm-up included). */
  packets: number;
  /** Fuzz connections open at once. */
  concurrency: number;
  /** The run after the warm-up is split into this many phases, with a memory reading after each. */
  phases: number;
  persistence: 'memory' | 'sqlite';
  /** RSS after the run may exceed the baseline by at most this. */
  rssSlackBytes: number;
  /** Live memory (V8 heap + Buffers, after a full GC) may exceed the baseline by at most this. */
  liveSlackBytes: number;
  /** How long the broker gets to drop the fuzz clients' state after a phase. */
  settleTimeoutMs: number;
  /** Progress lines (the test prints them as diagnostics). */
  log: (line: string) => void;
}

/** One memory reading, after a full GC. */
export interface Reading extends LiveMemory {
  fds: number;
  packetsSent: number;
}

export interface ScenarioReport {
  seed: number;
  persistence: string;
  fuzz: FuzzStats;
  good: GoodReport | undefined;
  /** RSS right after start (no GC forced), the peak (VmHWM), and the readings. */
  memory: { startup: number; peak: number; baseline: Reading | undefined; phases: Reading[]; after: Reading | undefined };
  sysBaseline: SysState | undefined;
  sysAfter: SysState | undefined;
  log: LogScan | undefined;
  stderr: string;
  exitDuringRun: string | undefined;
  shutdown: string | undefined;
  durationMs: number;
  failures: string[];
}

export function live(r: Reading): number {
  return r.heapUsed + r.arrayBuffers;
}

function describeExit(broker: CliBroker): string | undefined {
  const exit = broker.child.exit;
  return exit === undefined ? undefined : `code ${String(exit.code)}, signal ${String(exit.signal)}`;
}

/** Sends a QoS 1 message to itself through the broker: proof it still answers. */
async function roundTrip(port: number, clientId: string): Promise<void> {
  const client = mqtt.connect({ host: HOST, port, clientId, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    let payload: string | undefined;
    client.on('message', (_topic, p) => (payload = p.toString()));
    await client.subscribeAsync(`probe/${clientId}`, { qos: 1 });
    await client.publishAsync(`probe/${clientId}`, 'still here', { qos: 1 });
    await waitFor(() => payload !== undefined, { timeoutMs: 5000, message: 'the probe message' });
    if (payload !== 'still here') throw new Error(`probe got ${payload}`);
  } finally {
    await endQuietly(client);
  }
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioReport> {
  const started = performance.now();
  const failures: string[] = [];
  const fail = (line: string): void => {
    failures.push(line);
    o.log(`FAIL ${line}`);
  };
  const broker = await startFuzzBroker(o.persistence);
  const pid = broker.child.proc.pid!;
  // a crash while the inspector probe is attached leaves the process waiting for it instead
  const alive = (): boolean => broker.child.exit === undefined && !broker.child.stderr.includes('Waiting for the debugger to disconnect');
  const memory: ScenarioReport['memory'] = { startup: readMemory(pid).rss, peak: 0, baseline: undefined, phases: [], after: undefined };
  // VmHWM is the peak over the process's life; sampled while it is there to read
  const samplePeak = (): void => {
    try {
      if (alive()) memory.peak = Math.max(memory.peak, readMemory(pid).hwm);
    } catch {
      // it just exited: the exit check reports that
    }
  };
  const sampler = setInterval(samplePeak, 500);
  const fuzzer = new PacketFuzzer({ host: HOST, port: broker.port }, { seed: o.seed, concurrency: o.concurrency, shouldStop: () => !alive() });
  // the connection that brought the broker down was open then, or had just ended: name the
  // range from the oldest one open back by the concurrency
  let suspects = '';
  broker.child.proc.once('exit', () => {
    const open = fuzzer.inFlight;
    const last = fuzzer.stats.nextIndex - 1;
    const from = Math.max(0, (open[0] ?? last) - o.concurrency);
    suspects = `connections ${from}..${last} (print them: FUZZ_SEED=${o.seed} FUZZ_DUMP=${from}..${last}; replay one at a time: FUZZ_SEED=${o.seed} FUZZ_REPLAY=${from}..${last})`;
  });
  const report: ScenarioReport = {
    seed: o.seed,
    persistence: o.persistence,
    fuzz: fuzzer.stats,
    good: undefined,
    memory,
    sysBaseline: undefined,
    sysAfter: undefined,
    log: undefined,
    stderr: '',
    exitDuringRun: undefined,
    shutdown: undefined,
    durationMs: 0,
    failures,
  };
  // client ids: 3.1 allows 23 characters, "sub-v3-" takes 7
  const tag = `${o.seed.toString(36)}-${process.pid.toString(36)}`.slice(0, 16);
  let good: GoodClients | undefined;
  let sys: SysWatcher | undefined;
  let logOffset = 0;
  try {
    const inspector = await InspectorProbe.address(() => broker.child.stderr);
    const read = async (): Promise<Reading> => ({ ...(await InspectorProbe.liveMemory(inspector)), fds: countFds(pid), packetsSent: fuzzer.stats.packetsSent });
    const describe = (r: Reading): string => `RSS ${mib(r.rss)}, heap ${mib(r.heapUsed)}, Buffers ${mib(r.arrayBuffers)}, fds ${r.fds}`;
    const watcher = (sys = await SysWatcher.connect(HOST, broker.port, `sys-${tag}`));
    const goodClients = (good = await GoodClients.connect(HOST, broker.port, tag));
    goodClients.start();
    await waitFor(() => goodClients.deliveredToAll >= 300 && watcher.state.clientsConnected === 5, {
      timeoutMs: 15_000,
      message: () => `the good clients to exchange 300 messages (${goodClients.deliveredToAll}) and $SYS to count them (${JSON.stringify(watcher.state)})`,
    });
    const baseline = (report.sysBaseline = watcher.state);
    logOffset = broker.child.stdout.length;
    o.log(`seed ${o.seed} (replay: FUZZ_SEED=${o.seed}); broker pid ${pid}, port ${broker.port}, persistence ${o.persistence}; RSS at startup ${mib(memory.startup)}`);

    // the fuzz clients' sessions end 1 s after their connections (see brokerConfig)
    const fuzzStateGone = (s: SysState): boolean =>
      s.clientsConnected === baseline.clientsConnected && s.clientsTotal === baseline.clientsTotal && s.subscriptions === baseline.subscriptions;
    const settle = async (what: string): Promise<boolean> => {
      const ok = await waitFor(() => !alive() || fuzzStateGone(watcher.state), { timeoutMs: o.settleTimeoutMs }).then(() => alive(), () => false);
      if (!ok && alive()) fail(`${what}: fuzz clients' state still held after ${o.settleTimeoutMs} ms: ${JSON.stringify(watcher.state)} (baseline ${JSON.stringify(baseline)})`);
      return ok;
    };

    // 15% of the run, at least 5,000 packets and at most 50,000
    const warmup = Math.min(o.packets, Math.max(5000, Math.min(50_000, Math.round(o.packets * 0.15))));
    await fuzzer.run(warmup);
    if (await settle('warm-up')) {
      memory.baseline = await read();
      o.log(`warm-up: ${fuzzer.stats.packetsSent} packets; baseline ${describe(memory.baseline)}`);
    }
    for (let phase = 1; phase <= o.phases && alive(); phase++) {
      await fuzzer.run(warmup + Math.ceil(((o.packets - warmup) * phase) / o.phases));
      if (!(await settle(`phase ${phase}`))) continue;
      const reading = await read();
      memory.phases.push(reading);
      const f = fuzzer.stats;
      o.log(
        `phase ${phase}/${o.phases}: ${f.packetsSent} packets over ${f.connections} connections, ${(f.durationMs / 1000).toFixed(1)} s; ` +
          `broker received ${watcher.state.packetsReceived}; good messages acked ${goodClients.ackedCount}; ${describe(reading)}`,
      );
    }
    if (!alive()) {
      fail(`the broker exited during the fuzz (${describeExit(broker)}); suspects: ${suspects || 'none open'}`);
      return report;
    }

    await goodClients.stopAndDrain();
    const g = (report.good = goodClients.report());
    if (g.acked === 0) fail('the good publishers got no message acknowledged');
    if (g.lost > 0) fail(`the good subscribers lost ${g.lost} acknowledged messages, e.g. ${g.lostSample.join('; ')}`);
    if (g.duplicatesQos2 > 0) fail(`QoS 2 messages delivered more than once: ${g.duplicatesQos2}`);
    if (g.publishErrors.length > 0) fail(`good publishes failed: ${g.publishErrors.join('; ')}`);
    if (g.incidents.length > 0) fail(`good clients hurt: ${g.incidents.join('; ')}`);

    const f = fuzzer.stats;
    if (f.packetsSent < o.packets) fail(`only ${f.packetsSent} of ${o.packets} packets sent`);
    if (f.connectFailures > 0) fail(`${f.connectFailures} fuzz connections could not connect: ${JSON.stringify(f.connectErrors)}`);
    if (f.closeTimeouts > 0) fail(`${f.closeTimeouts} connections not closed by the broker within 5 s of our FIN (connections ${f.suspects.join(', ')})`);
    if (f.stalled > 0) fail(`${f.stalled} connections stalled (a write never completed; connections ${f.suspects.join(', ')})`);

    // back to the baseline: of the fuzz, only the (bounded) retained messages may remain
    const backToBaseline = (s: SysState): boolean => fuzzStateGone(s) && s.stored === 0;
    await waitFor(() => !alive() || backToBaseline(watcher.state), { timeoutMs: o.settleTimeoutMs }).catch(() => undefined);
    report.sysAfter = watcher.state;
    if (!backToBaseline(report.sysAfter)) fail(`broker state not back to baseline: ${JSON.stringify(report.sysAfter)} (baseline ${JSON.stringify(baseline)})`);
    if (report.sysAfter.retained > MAX_RETAINED + 50) fail(`${report.sysAfter.retained} retained messages, over max_retained_messages ${MAX_RETAINED}`);

    const after = (memory.after = await read());
    const base = memory.baseline;
    o.log(`after: ${describe(after)}`);
    if (base !== undefined) {
      if (after.rss > base.rss + o.rssSlackBytes) fail(`RSS ${mib(after.rss)} after the run, over the baseline ${mib(base.rss)} + ${mib(o.rssSlackBytes)}`);
      if (live(after) > live(base) + o.liveSlackBytes) {
        fail(`live memory (heap + Buffers after a full GC) ${mib(live(after))} after the run, over the baseline ${mib(live(base))} + ${mib(o.liveSlackBytes)}`);
      }
      // the good clients and the $SYS watcher are still connected, as at the baseline
      if (after.fds > base.fds + 2) fail(`${after.fds} open file descriptors after the run, ${base.fds} at the baseline: connections not closed`);
    }
    await roundTrip(broker.port, `probe-${tag}`).catch((err: unknown) => fail(`a new client got no message through: ${(err as Error).message}`));
    return report;
  } catch (err) {
    fail(`the run itself failed: ${(err as Error).stack ?? String(err)}`);
    return report;
  } finally {
    clearInterval(sampler);
    samplePeak();
    await good?.close();
    await sys?.close();
    report.exitDuringRun = describeExit(broker);
    if (report.exitDuringRun !== undefined && !failures.some((l) => l.includes('exited'))) fail(`the broker exited (${report.exitDuringRun})`);
    if (alive()) {
      const exit = await broker.stop(10_000).catch((err: unknown) => (err as Error).message);
      report.shutdown = typeof exit === 'string' ? exit : `code ${String(exit.code)}, signal ${String(exit.signal)}`;
      if (typeof exit === 'string' || exit.code !== 0) fail(`the broker did not shut down cleanly on SIGTERM: ${report.shutdown}`);
    }
    report.log = scanLog(broker.child.stdout, logOffset);
    if (report.log.errorCount > 0) fail(`${report.log.errorCount} error-level log lines, e.g. ${report.log.errors.join('\n')}`);
    // Node prints unhandled rejections, uncaught exceptions and warnings (a listener leak...) here
    report.stderr = stderrWithoutInspector(broker.child.stderr);
    if (report.stderr !== '') fail(`the broker wrote to stderr:\n${report.stderr.slice(0, 4000)}`);
    await broker.dispose();
    report.durationMs = Math.round(performance.now() - started);
  }
}
