#!/usr/bin/env node
// `npm run soak` (node bench/soak.mjs): the soak test of issue 6 (robustness), not part of the
// default test run. One broker (dist build, memory persistence) on core 0; everything else on
// core 1. The peak (a 5 s `throughput` run of 100 QoS 1 pub/sub pairs) is measured first, then
// for --minutes minutes the broker carries:
//   - half of that peak as paced load: each minute one `latency`-mode load generator run of the
//     same 100-pair QoS 1 topology (it connects its 200 clients anew each minute: churn too),
//     which also yields sent/received/lost and latency percentiles;
//   - as many idle connections as the open-files limit leaves room for (one `idle` run held for
//     the whole soak);
//   - reconnect churn from this process (bench/lib/soak-churn.mjs): ~50 connects/s of clean and
//     persistent sessions, QoS 1 messages queued while offline, clean and abrupt closes, wills.
// Each minute (following the broker's own $SYS period, sys_interval 60) it records the broker's
// RSS (/proc), CPU and open fds, its V8 heap and event-loop lag ($SYS/broker/heap/current,
// $SYS/broker/eventloop/lag/p50|p99|max), the load generator's minute and the churn counters.
// At the end: the "no growth trend" verdict (bench/lib/soak-verdict.mjs), the raw JSON, a
// markdown summary and a chart (bench/soak-chart.mjs). Exit status 1 when the verdict fails.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Churn } from './lib/soak-churn.mjs';
import { SysMonitor } from './lib/soak-monitor.mjs';
import {
  alive,
  buildLoadgen,
  freePort,
  hardFdLimit,
  killNow,
  machineInfo,
  procCpuSeconds,
  procFdCount,
  procMemory,
  runLoadgen,
  spawnPinned,
  stopChild,
  tail,
  waitForPort,
} from './lib/soak-procs.mjs';
import { renderMarkdown } from './lib/soak-report.mjs';
import { verdict } from './lib/soak-verdict.mjs';
import { renderSoakChart } from './soak-chart.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
const BROKER_CORE = 0;
const GEN_CORE = 1;
const LOAD_CONNS = 200; // 100 publishers + 100 subscribers
const FD_MARGIN = 64; // the broker's fds beyond those counted: sockets closing, files, timers
const MiB = 1024 * 1024;
const PAIRS = ['--pubs', 100, '--subs', 100, '--qos', 1, '--pub-topic', 'bench/pair/%d', '--sub-filter', 'bench/pair/%d', '--payload', 64];

const USAGE = `usage: node bench/soak.mjs [options]      (or: npm run soak -- [options])

  --minutes N        soak length in minutes (default 30; try 2-3 to check the pipeline)
  --fraction F       load as a fraction of the measured peak (default 0.5)
  --rate N           load in msg/s instead of fraction x peak (skips the peak run)
  --no-cap           soak at fraction x peak even if a 5 s probe under soak conditions does
                     not keep up (by default the rate is lowered until one does; see "Load"
                     in bench/soak/README.md)
  --conns N          target of connections held at once, idle + load + churn (default
                     20000); capped by the open-files limit (ulimit -Hn) at run time
  --churn-rate N     churn connects per second (default 50)
  --churn-pool N     churn clients (fixed client ids; default 200)
  --load-seconds S   measured seconds of each minute's load generator run (default 53)
  --write            write bench/soak/soak.json, RESULTS.md and soak.svg (default: a tmp dir)
  --out DIR          write the three files to DIR instead
  --help

Needs a build (npm run build), gcc, OpenSSL headers (libssl-dev) and taskset. Exit status: 0 pass, 1 verdict failed
(or the broker died), 2 setup error, 130 interrupted.
`;

function options() {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      fraction: { type: 'string' },
      rate: { type: 'string' },
      conns: { type: 'string' },
      'churn-rate': { type: 'string' },
      'churn-pool': { type: 'string' },
      'load-seconds': { type: 'string' },
      'no-cap': { type: 'boolean' },
      write: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const num = (v, d, { int = false, max = Infinity } = {}) => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || n > max || (int && !Number.isInteger(n))) throw new Error(`bad value: ${v}`);
    return n;
  };
  return {
    minutes: num(values.minutes, 30, { int: true }),
    fraction: num(values.fraction, 0.5, { max: 1 }),
    rate: values.rate === undefined ? null : num(values.rate),
    conns: num(values.conns, 20000, { int: true }),
    churnRate: num(values['churn-rate'], 50),
    churnPool: num(values['churn-pool'], 200, { int: true }),
    loadSeconds: num(values['load-seconds'], 53, { max: 56 }),
    noCap: values['no-cap'] === true,
    write: values.write === true,
    out: values.out,
  };
}

const kilo = (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : `${Math.round(v)}`);
const fmt = (v, d = 1, unit = '') => (typeof v === 'number' && Number.isFinite(v) ? `${v.toFixed(d)}${unit}` : '—');
const log = (msg) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}`);

function brokerConfig() {
  return [
    '# generated by bench/soak.mjs (as bench/lib/brokers.mjs culexConf, plus $SYS every minute)',
    'max_inflight_messages: 0',
    'max_queued_messages: 1000000',
    'max_connections: 1000000',
    'sys_interval: 60',
    'allow_anonymous: true',
    'http_port: -1',
    'persistence: memory',
    '',
  ].join('\n');
}

/** Everything the soak started, so that every exit path can stop it by pid. */
const state = {
  broker: undefined,
  brokerErr: undefined,
  idle: undefined,
  minuteGen: undefined,
  churn: undefined,
  monitor: undefined,
  stoppingBroker: false,
  aborting: null,
  exitCode: null,
};

function abort(reason, exitCode) {
  if (state.aborting) return;
  state.aborting = reason;
  state.exitCode = exitCode;
  log(`aborting: ${reason}`);
  killNow(state.minuteGen);
}

process.on('exit', () => {
  for (const c of [state.minuteGen, state.idle, state.broker]) killNow(c);
});

async function startBroker(raw, work) {
  const port = await freePort();
  const conf = join(work, 'culex.yaml');
  const data = join(work, 'culex-data');
  mkdirSync(data, { recursive: true });
  writeFileSync(conf, brokerConfig());
  const args = [join(ROOT, 'bin/culex.js'), '--port', port, '--host', HOST, '--http-port=-1', '--config', conf, '--data', data, '--log-level', 'warn'];
  const broker = spawnPinned(BROKER_CORE, process.execPath, args);
  state.broker = broker;
  state.brokerErr = tail(broker.stderr);
  tail(broker.stdout);
  broker.once('exit', (code, signal) => {
    if (state.stoppingBroker) return;
    const minute = raw.samples.length + 1;
    raw.brokerDied = `exit ${code ?? signal} during ${raw.phase}${raw.phase === 'soak' ? ` minute ${minute}` : ''}; stderr: ${state.brokerErr.text.trim().slice(-800) || '(empty)'}`;
    abort(`the broker died (${code ?? signal})`, 1);
  });
  const err = await waitForPort(broker, port, HOST, 20000);
  if (err) throw new Error(`broker: ${err}: ${state.brokerErr.text.trim().slice(-500)}`);
  return port;
}

/** Peak: a 5 s throughput run of 100 QoS 1 pairs, as bench/lib/scenarios.mjs 'pairs-q1'. */
async function measurePeak(bin, port, pid) {
  const args = ['--port', port, '--mode', 'throughput', '--warmup', 1, '--duration', 5, '--max-backlog', 20000, '--window', 100, ...PAIRS, '--broker-pid', pid];
  const run = runLoadgen(GEN_CORE, bin, args, 60000);
  state.minuteGen = run.child;
  const r = await run.result;
  state.minuteGen = undefined;
  if (!r.ok) throw new Error(`peak run failed: ${r.error}`);
  return r;
}

/**
 * The paced rate to soak at, probed under soak conditions (idle connections up, churn running).
 * `latency` mode writes about one PUBLISH per syscall and shares core 1 with this driver's churn
 * clients, so it may not carry the rate wanted; an open-loop generator that falls behind leaves
 * its subscribers reading late and the broker queueing for them, which would look like broker
 * memory growth. A 5 s probe keeps up when it delivers at least 98% of the rate, loses nothing
 * and has a latency p99 of at most PROBE_P99_MS (seconds would mean a growing backlog; GC pauses
 * and churn bursts alone give 50-250 ms at high rates); until one does the rate drops by a quarter.
 */
const PROBE_P99_MS = 500;
async function pacedRate(bin, port, pid, wanted) {
  const probes = [];
  let rate = wanted;
  for (let k = 0; k < 10 && !state.aborting; k++) {
    const args = ['--port', port, '--mode', 'latency', '--warmup', 1, '--duration', 5, '--rate', rate, ...PAIRS, '--broker-pid', pid, '--setup-timeout', 20];
    const run = runLoadgen(GEN_CORE, bin, args, 60000);
    state.minuteGen = run.child;
    const r = await run.result;
    state.minuteGen = undefined;
    const keptUp = r.ok && r.recv_rate >= 0.98 * rate && r.lost === 0 && r.lat_p99_us <= PROBE_P99_MS * 1000;
    probes.push({ rate, keptUp, ...pickLoad(r) });
    log(
      `  probe ${kilo(rate)} msg/s: ${r.ok ? `delivered ${kilo(r.recv_rate)}/s, lost ${r.lost}, p99 ${fmt(r.lat_p99_us / 1000, 1, ' ms')}, generator CPU ${fmt(r.gen_cpu_pct, 0, '%')}, broker CPU ${fmt(r.broker_cpu_pct, 0, '%')}` : r.error} → ${keptUp ? 'keeps up' : 'does not keep up'}`,
    );
    if (keptUp) return { rate, probes };
    await sleep(2000); // let a backlog drain before the next probe
    rate = Math.max(1000, Math.round((rate * 0.75) / 1000) * 1000);
  }
  throw new Error(`no paced rate kept up (probes: ${probes.map((p) => kilo(p.rate)).join(', ')})`);
}

/** Hold `n` idle connections; resolves once the broker has their sockets. */
async function startIdle(raw, bin, port, pid, n, minutes, baseFds) {
  // the peak run's sockets close asynchronously: wait until only the broker's own fds are left
  for (const until = Date.now() + 10000; procFdCount(pid) > baseFds && Date.now() < until; ) await sleep(100);
  const before = procFdCount(pid);
  const args = ['--port', port, '--mode', 'idle', '--conns', n, '--settle', minutes * 60 + 1200, '--setup-timeout', 300, '--broker-pid', pid];
  const run = runLoadgen(GEN_CORE, bin, args, (minutes * 60 + 1800) * 1000);
  state.idle = run.child;
  run.result.then((r) => {
    if (raw.phase === 'stopping' || raw.brokerDied) return;
    raw.idleDropped = r.ok ? 'the idle generator ended early' : r.error;
    abort(`idle connections dropped: ${raw.idleDropped}`, 1);
  });
  const t0 = Date.now();
  while (procFdCount(pid) < before + n) {
    if (state.aborting) throw new Error(state.aborting);
    if (Date.now() - t0 > 300000) throw new Error(`idle connections: ${procFdCount(pid) - before} of ${n} after 300 s`);
    await sleep(250);
  }
  return (Date.now() - t0) / 1000;
}

function pickLoad(r) {
  if (!r.ok) return { ok: false, error: r.error };
  const keys = ['sent', 'recv', 'sent_rate', 'recv_rate', 'total_sent', 'total_recv', 'lost', 'acked', 'setup_s', 'duration_s', 'lat_p50_us', 'lat_p90_us', 'lat_p99_us', 'lat_p999_us', 'lat_max_us', 'broker_cpu_pct', 'gen_cpu_pct'];
  return { ok: true, ...Object.fromEntries(keys.map((k) => [k, r[k]])) };
}

async function soakMinutes(raw, o, bin, port, pid, rate) {
  const monitor = state.monitor;
  const loadArgs = ['--port', port, '--mode', 'latency', '--warmup', 0, '--duration', o.loadSeconds, '--rate', rate, ...PAIRS, '--broker-pid', pid, '--setup-timeout', 20];
  // poll the broker's RSS and fds every 5 s: a minute's RSS is the mean of its readings
  let polls = [];
  const poll = () => {
    const m = procMemory(pid);
    if (m) polls.push({ rss: m.rssKiB, hwm: m.hwmKiB, fds: procFdCount(pid) });
  };
  const poller = setInterval(poll, 5000);
  try {
    // start on a $SYS publication, so that each minute's lag and heap values are its own
    if (monitor.publications.length) {
      log('waiting for the next $SYS publication to start minute 1 (churn and idle connections running)');
      await monitor.waitForPublication(Date.now(), Date.now() + 65000, () => state.aborting !== null);
    }
    raw.soakStartedAt = new Date().toISOString();
    const t0 = Date.now();
    let prevT = t0;
    let prevCpu = procCpuSeconds(pid);
    let prevDriver = process.cpuUsage();
    state.churn.takeMinute(); // minute 1 counts from here, not from the churn's start
    polls = [];
    poll();
    for (let minute = 1; minute <= o.minutes && !state.aborting; minute++) {
      const start = Date.now();
      const run = runLoadgen(GEN_CORE, bin, loadArgs, (o.loadSeconds + 45) * 1000);
      state.minuteGen = run.child;
      const load = await run.result;
      state.minuteGen = undefined;
      if (state.aborting) break;
      // the minute ends on the $SYS publication that follows the load generator run, unless one
      // came in the last part of the run already (the run overlapped it: late drain)
      const ended = Date.now();
      const last = monitor.publications.at(-1) ?? 0;
      if (!monitor.publications.length) await sleep(Math.max(0, start + 60000 - ended));
      else if (last < start + 45000) await monitor.waitForPublication(ended, ended + 65000, () => state.aborting !== null);
      if (state.aborting) break;
      poll();
      const now = Date.now();
      const cpu = procCpuSeconds(pid);
      const mem = procMemory(pid);
      const ps = polls;
      polls = [ps.at(-1)];
      const meanRss = ps.reduce((a, p) => a + p.rss, 0) / ps.length;
      const n = (k) => monitor.number(k);
      const heap = n('heap/current');
      const s = {
        minute,
        t_s: Math.round((now - t0) / 100) / 10,
        duration_s: Math.round((now - prevT) / 100) / 10,
        rss_mib: meanRss / 1024,
        rss_end_mib: mem ? mem.rssKiB / 1024 : null,
        rss_max_mib: Math.max(...ps.map((p) => p.rss)) / 1024,
        hwm_mib: mem ? mem.hwmKiB / 1024 : null,
        cpu_pct: cpu !== null && prevCpu !== null ? (100 * (cpu - prevCpu)) / ((now - prevT) / 1000) : null,
        driver_cpu_pct: (() => {
          const d = process.cpuUsage(prevDriver);
          return (100 * (d.user + d.system)) / 1000 / (now - prevT);
        })(),
        fds: ps.at(-1)?.fds ?? null,
        fds_max: Math.max(...ps.map((p) => p.fds ?? 0)),
        heap_mib: heap === null ? null : heap / MiB,
        lag_p50_ms: n('eventloop/lag/p50'),
        lag_p99_ms: n('eventloop/lag/p99'),
        lag_max_ms: n('eventloop/lag/max'),
        sys_age_s: monitor.lastPublicationAge(),
        clients_connected: n('clients/connected'),
        clients_offline: n('clients/disconnected'),
        clients_maximum: n('clients/maximum'),
        subscriptions: n('subscriptions/count'),
        stored: n('messages/stored'),
        dropped: n('publish/messages/dropped'),
        load: pickLoad(load),
        churn: state.churn.takeMinute(),
      };
      raw.samples.push(s);
      prevT = now;
      prevCpu = cpu;
      prevDriver = process.cpuUsage();
      const l = s.load;
      log(
        `minute ${minute}/${o.minutes}: RSS ${fmt(s.rss_mib)} MiB, heap ${fmt(s.heap_mib)} MiB, lag p99 ${fmt(s.lag_p99_ms, 1, ' ms')}, ` +
          `broker CPU ${fmt(s.cpu_pct, 0, '%')}, fds ${s.fds_max}; load ${l.ok ? `${kilo(l.recv_rate)}/s of ${kilo(rate)}/s, lost ${l.lost}, p99 ${fmt(l.lat_p99_us / 1000, 2, ' ms')}, generator CPU ${fmt(l.gen_cpu_pct, 0, '%')}` : `FAILED: ${l.error}`}; ` +
          `churn ${s.churn.connects} connects, ${s.churn.errors} errors; driver CPU ${fmt(s.driver_cpu_pct, 0, '%')}`,
      );
    }
  } finally {
    clearInterval(poller);
  }
}

async function writeOutputs(raw, outDir) {
  mkdirSync(outDir, { recursive: true });
  const v = verdict(raw);
  raw.verdict = v;
  const json = join(outDir, 'soak.json');
  writeFileSync(json, `${JSON.stringify(raw, null, 2)}\n`);
  writeFileSync(join(outDir, 'soak.svg'), renderSoakChart(raw, 'soak.json'));
  writeFileSync(join(outDir, 'RESULTS.md'), renderMarkdown(raw, v));
  return v;
}

async function main() {
  let o;
  try {
    o = options();
  } catch (e) {
    console.error(`soak: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (!existsSync(join(ROOT, 'dist/src/cli/culex.js'))) {
    console.error('soak: dist/src/cli/culex.js missing: run npm run build first');
    return 2;
  }
  const work = mkdtempSync(join(os.tmpdir(), 'culex-soak-'));
  const outDir = o.out ? resolve(o.out) : o.write ? join(ROOT, 'bench/soak') : join(work, 'results');
  const raw = {
    tool: 'bench/soak.mjs',
    machine: machineInfo(ROOT),
    params: { minutes: o.minutes, fraction: o.fraction, capped: null, churnRate: o.churnRate, churnPool: o.churnPool, loadSeconds: o.loadSeconds, loadConns: LOAD_CONNS },
    phase: 'setup',
    samples: [],
  };
  const onSignal = (sig) => {
    if (state.aborting) {
      for (const c of [state.minuteGen, state.idle, state.broker]) killNow(c);
      process.exit(130);
    }
    abort(`interrupted (${sig})`, 130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let setupError = null;
  try {
    const lg = { bin: buildLoadgen(ROOT, work), from: 'bench/loadgen/ (working tree)' };
    raw.loadgen = { from: lg.from };
    const hard = hardFdLimit();
    raw.params.fdHardLimit = Number.isFinite(hard) ? hard : 'unlimited';
    log(`load generator built from ${lg.from}; open-files hard limit ${raw.params.fdHardLimit}`);

    const port = await startBroker(raw, work);
    const pid = state.broker.pid;
    state.monitor = new SysMonitor({ host: HOST, port, onWill: (p) => state.churn?.onWill(p) });
    await state.monitor.start();
    await sleep(500);
    const baseFds = procFdCount(pid); // the broker's own files and the monitor's socket
    raw.params.brokerBaseFds = baseFds - 1; // its own files: sockets = open fds - this
    const sysOk = await state.monitor.waitForPublication(0, Date.now() + 3000);
    raw.params.sysTopics = sysOk ? 'yes' : 'none received';
    log(`culex ${raw.machine.culexRev} on port ${port} (pid ${pid}, core ${BROKER_CORE}); $SYS: ${raw.params.sysTopics}` + (state.monitor.number('heap/current') === null ? ' (no heap/eventloop topics: recorded as null)' : ''));

    let rate = o.rate;
    if (rate === null) {
      raw.phase = 'peak';
      const peak = await measurePeak(lg.bin, port, pid);
      raw.peak = pickLoad(peak);
      raw.params.wantedRate = Math.round(peak.recv_rate * o.fraction);
      log(`peak (100 QoS 1 pairs, 5 s throughput): ${kilo(peak.recv_rate)} msg/s, broker CPU ${fmt(peak.broker_cpu_pct, 0, '%')}; wanted soak load ${kilo(raw.params.wantedRate)} msg/s`);
    }

    // connections: everything must fit in the broker's open-files limit
    const others = LOAD_CONNS + o.churnPool + 1; // + the churn publisher
    const byLimit = Number.isFinite(hard) ? hard - baseFds - others - FD_MARGIN : Infinity;
    const idle = Math.max(0, Math.min(o.conns - others - 1, byLimit));
    raw.params.idleConns = idle;
    raw.params.plannedConnections = idle + others + 1;
    raw.params.fdBudget = { hard: raw.params.fdHardLimit, brokerOwnFds: baseFds - 1, load: LOAD_CONNS, churnPool: o.churnPool, churnPublisher: 1, monitor: 1, margin: FD_MARGIN, idle };
    raw.phase = 'idle-setup';
    log(`idle connections: ${idle.toLocaleString('en')} (planned total at once: ${raw.params.plannedConnections.toLocaleString('en')} = idle + ${LOAD_CONNS} load + ${o.churnPool} churn + publisher + monitor; broker's own fds with the monitor: ${baseFds}, limit ${raw.params.fdHardLimit})`);
    const setupS = await startIdle(raw, lg.bin, port, pid, idle, o.minutes, baseFds);
    raw.params.idleSetupS = setupS;
    log(`idle connections up in ${setupS.toFixed(1)} s; broker RSS ${fmt(procMemory(pid)?.rssKiB / 1024)} MiB`);

    state.churn = new Churn({ host: HOST, port, pool: o.churnPool, rate: o.churnRate });
    await state.churn.start();
    if (rate === null) {
      const wanted = raw.params.wantedRate;
      if (o.noCap) rate = wanted;
      else {
        raw.phase = 'probe';
        log(`probing ${kilo(wanted)} msg/s with the idle connections and the churn running`);
        const paced = await pacedRate(lg.bin, port, pid, wanted);
        raw.pacedProbes = paced.probes;
        rate = paced.rate;
        raw.params.capped = rate < wanted;
        if (rate < wanted) log(`soak load lowered to ${kilo(rate)} msg/s (${((100 * rate) / raw.peak.recv_rate).toFixed(0)}% of the peak): ${kilo(wanted)} msg/s paced did not keep up`);
      }
    }
    raw.params.rate = rate;
    raw.phase = 'soak';
    await soakMinutes(raw, o, lg.bin, port, pid, rate);
  } catch (e) {
    setupError = e.message;
    if (!state.aborting) abort(`${raw.phase}: ${e.message}`, 2);
  }

  // ---- wind down: every child by pid ----
  const phase = raw.phase;
  raw.phase = 'stopping';
  if (state.churn) {
    if (state.aborting) state.churn.kill();
    else {
      log('churn: final visit of every persistent session, waiting for wills');
      raw.churnTotals = await state.churn.finish();
    }
    raw.churnTotals ??= { ...state.churn.counters, incomplete: true };
    raw.churnErrors = state.churn.errorLog;
  }
  if (state.monitor) {
    raw.sysFinal = state.monitor.snapshot();
    raw.monitorErrors = state.monitor.errors;
    await state.monitor.stop();
  }
  if (alive(state.minuteGen)) await stopChild(state.minuteGen, 1000);
  if (alive(state.idle)) await stopChild(state.idle, 2000);
  if (state.broker) {
    const m = procMemory(state.broker.pid);
    raw.brokerFinal = { rss_mib: m ? m.rssKiB / 1024 : null, hwm_mib: m ? m.hwmKiB / 1024 : null, fds: procFdCount(state.broker.pid) };
    state.stoppingBroker = true;
    await stopChild(state.broker, 5000);
  }
  rmSync(join(work, 'culex-data'), { recursive: true, force: true });
  const maxima = raw.samples.map((s) => s.clients_maximum).filter((v) => typeof v === 'number');
  raw.maxConnections = maxima.length ? Math.max(...maxima) : null;
  const fdMax = Math.max(0, ...raw.samples.map((s) => s.fds_max ?? 0));
  raw.maxConnectionsByFds = fdMax ? fdMax - (raw.params.brokerBaseFds ?? 0) : null;
  raw.finishedAt = new Date().toISOString();
  if (state.aborting) raw.failure = `${state.aborting} (during ${phase})`;
  if (setupError && !raw.failure?.includes(setupError)) raw.failure = raw.failure ? `${raw.failure}; ${setupError}` : setupError;

  const v = await writeOutputs(raw, outDir);
  console.log('');
  for (const k of v.checks) console.log(`${k.pass === true ? 'PASS' : k.pass === false ? 'FAIL' : 'n/a '}  ${k.name}: ${k.value}  (${k.bound})`);
  console.log(`\nconnections held at once: ${raw.maxConnections?.toLocaleString('en') ?? '?'} (broker's $SYS clients/maximum), planned ${raw.params.plannedConnections?.toLocaleString('en') ?? '?'}`);
  console.log(`verdict: ${v.pass ? 'PASS' : 'FAIL'}`);
  const rel = (f) => relative(process.cwd(), join(outDir, f)) || f;
  console.log(`wrote ${rel('soak.json')}, ${rel('RESULTS.md')}, ${rel('soak.svg')}`);
  if (state.exitCode === 130) return 130;
  if (state.exitCode === 2 && !raw.samples.length) return 2;
  return v.pass ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`soak: ${e.stack ?? e.message}`);
    process.exit(2);
  },
);
