#!/usr/bin/env node
// `npm run bench`: runs the same scenarios against Culex, mosquitto and aedes, one broker at a
// time, with the C load generator, prints a table of ratios, writes bench/results/<date>.json
// and regenerates bench/RESULTS.md and the ratio chart bench/results.svg. See bench/RESULTS.md
// ("Method") for what is measured.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { brokers, makeCertificate, startBroker, WS_PATH } from './lib/brokers.mjs';
import { buildLoadgen, commandOutput, freePort, runPinnedJson } from './lib/procs.mjs';
import { BROKER_ORDER, FLOOR, cpuTable, floorTable, machineBlock, problems, resultsMarkdown, resultsTable, transportCostTable } from './lib/report.mjs';
import { CHART_FILE, renderChart } from './chart.mjs';
import { scenarios, timeoutFor } from './lib/scenarios.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TMP = join(ROOT, '.bench-tmp');
const BROKER_CORE = 0;
const GEN_CORE = 1;

const USAGE = `usage: node bench/run.mjs [options]      (or: npm run bench -- [options])

  --quick               short smoke run: 0.5 s warm-up, 2 s windows; not written to RESULTS.md
  --only LIST           brokers, comma-separated: culex,mosquitto,aedes (env BENCH_ONLY)
  --scenarios LIST      comma-separated (env BENCH_SCENARIOS), default all:
                          fanin-q0, fanin-q1, fanin-q2, fanin-q1-durable, cluster-fanin-q1,
                          fanout, fanout-q1, pairs, pairs-q1, latency, idle-mem, conn-rate,
                          fanin-q0-tls, fanout-tls, conn-rate-tls, fanin-q0-ws, fanout-ws
  --warmup S            warm-up seconds per scenario (default 1; quick 0.5)
  --duration S          measured seconds per scenario (default 5; quick 2)
  --repeat N            rounds; each broker × scenario runs N times, interleaved, and the
                        median is reported (default 3; quick 1)
  --window N            incomplete QoS 1/2 publishes per publisher (default 100)
  --backlog N           floor of the outstanding-deliveries cap that pauses publishers
                        (default 20000; see "Method" in bench/RESULTS.md)
  --rate N              latency scenario rate, msg/s in total (default 10000)
  --idle-conns N        connections for the memory scenario (default 10000)
  --conn-inflight N     connections in flight in the conn-rate scenario (default 100)
  --write / --no-write  write bench/results/*.json, RESULTS.md and results.svg (default: unless --quick)
  --render FILE         only regenerate bench/RESULTS.md and bench/results.svg from a raw
                        results file (no run)
  --help
`;

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      scenarios: { type: 'string' },
      warmup: { type: 'string' },
      duration: { type: 'string' },
      repeat: { type: 'string' },
      window: { type: 'string' },
      backlog: { type: 'string' },
      rate: { type: 'string' },
      'idle-conns': { type: 'string' },
      'conn-inflight': { type: 'string' },
      write: { type: 'boolean' },
      'no-write': { type: 'boolean' },
      render: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const env = process.env;
  const quick = Boolean(values.quick || env.BENCH_QUICK === '1');
  const num = (v, d) => {
    if (v === undefined || v === '') return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive number: ${v}`);
    return n;
  };
  const list = (v, all, what) => {
    if (!v) return all;
    const picked = v.split(',').map((s) => s.trim()).filter(Boolean);
    for (const p of picked) if (!all.includes(p)) throw new Error(`unknown ${what} "${p}" (known: ${all.join(', ')})`);
    return all.filter((a) => picked.includes(a));
  };
  const o = {
    quick,
    warmup: num(values.warmup ?? env.BENCH_WARMUP, quick ? 0.5 : 1),
    duration: num(values.duration ?? env.BENCH_DURATION, quick ? 2 : 5),
    repeat: Math.round(num(values.repeat ?? env.BENCH_REPEAT, quick ? 1 : 3)),
    window: num(values.window, 100),
    backlog: num(values.backlog, 20000),
    rate: num(values.rate, 10000),
    idleConns: num(values['idle-conns'], 10000),
    maxIdleConns: maxIdleConns(),
    connInflight: Math.round(num(values['conn-inflight'], 100)),
    settle: quick ? 1 : 2,
    payload: 64,
  };
  const allScenarios = scenarios(o).map((s) => s.id);
  o.only = list(values.only ?? env.BENCH_ONLY, [...BROKER_ORDER, FLOOR], 'broker');
  o.scenarioIds = list(values.scenarios ?? env.BENCH_SCENARIOS, allScenarios, 'scenario');
  o.write = values['no-write'] ? false : values.write ? true : !quick;
  o.render = values.render;
  return o;
}

function machine(o, brokerDefs, cert) {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const osRelease = (() => {
    try {
      return readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)/m)?.[1] ?? 'Linux';
    } catch {
      return 'Linux';
    }
  })();
  const hypervisor = /^flags.*\bhypervisor\b/m.test(cpuinfo);
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpuModel: cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    nproc: Number(commandOutput('nproc', [])) || os.cpus().length,
    virt: hypervisor ? 'virtual machine' : 'bare metal',
    memGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    os: osRelease,
    kernel: os.release(),
    node: process.version,
    versions: Object.fromEntries([...BROKER_ORDER, FLOOR].map((b) => [b, brokerDefs[b].version()])),
    fdLimit: fdLimits(),
    brokerCore: BROKER_CORE,
    genCore: GEN_CORE,
    ...(cert ? { tlsCert: cert.desc } : {}),
    options: {
      repeat: o.repeat,
      warmup: o.warmup,
      duration: o.duration,
      window: o.window,
      backlog: o.backlog,
      rate: o.rate,
      idleConns: o.idleConns,
      maxIdleConns: o.maxIdleConns,
      connInflight: o.connInflight,
      settle: o.settle,
    },
    optionsText:
      `${o.warmup} s warm-up + ${o.duration} s measured per scenario, median of ${o.repeat} interleaved round(s), 64-byte payloads, ` +
      `QoS 1/2 window ${o.window}/publisher, backlog cap floor ${o.backlog.toLocaleString('en')} deliveries` +
      `${o.quick ? ' (QUICK RUN)' : ''}`,
  };
}

/** The per-process open-file limits (soft, hard) the brokers and the generator inherit. */
function fdLimits() {
  const soft = Number(commandOutput('bash', ['-c', 'ulimit -Sn']));
  const hard = Number(commandOutput('bash', ['-c', 'ulimit -Hn']));
  return { soft: Number.isFinite(soft) ? soft : null, hard: Number.isFinite(hard) ? hard : null };
}

/**
 * The largest idle-memory run: 100,000 connections where the limit allows, else what the
 * soft open-file limit leaves (each connection is an fd in the broker and one in the
 * generator, each its own process) minus 1,000 for everything else. Raise the limit with
 * `ulimit -n` (as root, or through limits.conf) before `npm run bench` to measure more.
 */
function maxIdleConns() {
  const { soft } = fdLimits();
  if (soft === null) return 100000; // unlimited
  return Math.max(1000, Math.min(100000, Math.floor((soft - 1000) / 1000) * 1000));
}

let current = null; // the running broker, stopped on Ctrl-C
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, async () => {
    if (current) await current.stop();
    process.exit(130);
  });
}

function summary(sc, r) {
  if (r.unavailable) return `n/a: ${r.error}`;
  if (!r.ok) return `FAILED: ${r.error}`;
  if (sc.idle) {
    return `${r.conns} conns, RSS ${(r.rss_before_kib / 1024).toFixed(1)} → ${(r.rss_after_kib / 1024).toFixed(1)} MiB (setup ${r.setup_s.toFixed(1)} s)`;
  }
  if (r.mode === 'connect') {
    const drops = r.listen_drops > 0 ? `, listen drops ${r.listen_drops}` : '';
    return (
      `${Math.round(r.conn_rate)} conn/s, CONNACK p50 ${r.connack_p50_us} µs, p99 ${r.connack_p99_us} µs, ` +
      `errors ${r.conn_errors}${drops}, gen CPU ${r.gen_cpu_pct}%, broker CPU ${r.broker_cpu_pct}%`
    );
  }
  const lat = r.mode === 'latency' ? `, p50 ${r.lat_p50_us} µs, p99 ${r.lat_p99_us} µs` : '';
  return (
    `sent ${Math.round(r.sent_rate)}/s, delivered ${Math.round(r.recv_rate)}/s${lat}, loss ${r.loss_pct.toFixed(2)}%, ` +
    `gen CPU ${r.gen_cpu_pct}%, broker CPU ${r.broker_cpu_pct}%`
  );
}

// brokers (and broker × transport) that failed to start once: not tried again in this run
const startFailed = new Set();

async function runOne(def, info, sc, o, { loadgen, cert }) {
  const transport = sc.transport ?? 'tcp';
  const missing = def.available();
  if (missing) return { ok: false, startFailed: true, error: `failed to start: ${missing}` };
  const why = def.unsupported(transport);
  if (why) return { ok: false, unavailable: true, error: why.short, note: why.long };
  const failKey = `${def.name}/${transport}`;
  if (startFailed.has(failKey)) return { ok: false, startFailed: true, error: 'failed to start (see its first scenario)' };
  let b;
  let port;
  let lgPort;
  // a free port can be taken by someone else before the broker binds it: try new ones
  for (let tries = 0; tries < 3 && !b?.ok; tries++) {
    port = await freePort();
    const setup = { ...(sc.broker ?? {}) };
    lgPort = port;
    if (transport !== 'tcp') {
      do lgPort = await freePort();
      while (lgPort === port);
      setup.listener = { transport, port: lgPort, certfile: cert?.certfile, keyfile: cert?.keyfile };
    }
    b = await startBroker(def, port, BROKER_CORE, setup);
    if (!b.ok && !/already in use|EADDRINUSE/i.test(b.reason)) break;
  }
  if (!b.ok) {
    startFailed.add(failKey);
    return { ok: false, startFailed: true, error: `failed to start: ${b.reason}` };
  }
  if (b.note) info.note = b.note;
  current = b;
  const args = [...sc.args.map(String), '--port', String(lgPort), '--broker-pid', String(b.measuredPid())];
  if (transport !== 'tcp') args.push('--transport', transport);
  if (transport === 'ws' || transport === 'wss') args.push('--ws-path', WS_PATH);
  if (b.subPort !== undefined) args.push('--sub-port', String(b.subPort));
  const r = await runPinnedJson(GEN_CORE, loadgen, args, timeoutFor(o, sc.id));
  if (!b.alive()) {
    r.ok = false;
    r.error = `broker died during the run${r.error ? ` (${r.error})` : ''}: ${b.output().slice(-300)}`;
  }
  await b.stop();
  current = null;
  return r;
}

function writeResultsMd(raw, rawFile) {
  const scenarioList = scenarios(raw.options).filter((s) => raw.options.scenarioIds.includes(s.id));
  const md = resultsMarkdown({ machine: raw.machine, scenarioList, results: raw.results, brokerInfo: raw.brokers, rawFile: relative(ROOT, rawFile) });
  writeFileSync(join(ROOT, 'bench/RESULTS.md'), md);
  console.log('wrote bench/RESULTS.md');
  writeFileSync(join(ROOT, CHART_FILE), renderChart(raw, relative(ROOT, rawFile)));
  console.log(`wrote ${CHART_FILE}`);
}

async function main() {
  const o = options();
  if (o.render) {
    writeResultsMd(JSON.parse(readFileSync(o.render, 'utf8')), resolve(o.render));
    return;
  }
  const loadgen = buildLoadgen(ROOT, TMP);
  if (!commandOutput('bash', ['-c', 'command -v taskset'])) throw new Error('taskset not found (apt-get install util-linux)');
  const defs = brokers(ROOT, TMP);
  const scenarioList = scenarios(o).filter((s) => o.scenarioIds.includes(s.id));
  const cert = scenarioList.some((s) => s.transport === 'tls' || s.transport === 'wss') ? makeCertificate(TMP) : null;
  const m = machine(o, defs, cert);
  const results = {};
  const brokerInfo = {};
  console.log(`culex bench: ${o.only.join(', ')} × ${o.scenarioIds.join(', ')}\n${machineBlock(m)}\n`);

  for (const name of o.only) {
    results[name] = {};
    brokerInfo[name] = {};
    for (const sc of scenarioList) if (!defs[name].floorOnly || sc.floor) results[name][sc.id] = { ok: false, runs: [] };
  }
  // Rounds outermost, so slow drifts of the machine hit every broker alike.
  for (let round = 1; round <= o.repeat; round++) {
    for (const name of o.only) {
      for (const sc of scenarioList) {
        if (defs[name].floorOnly && !sc.floor) continue;
        const r = await runOne(defs[name], brokerInfo[name], sc, o, { loadgen, cert });
        const agg = results[name][sc.id];
        agg.runs.push(r);
        agg.ok = agg.runs.some((x) => x.ok);
        if (!agg.ok) {
          agg.error = r.error;
          agg.startFailed = r.startFailed;
          agg.unavailable = r.unavailable;
          agg.note = r.note;
        }
        const tag = o.repeat > 1 ? ` [${round}/${o.repeat}]` : '';
        console.log(`${name.padEnd(9)} ${sc.id.padEnd(16)} ${summary(sc, r)}${tag}`);
      }
    }
  }

  const table = resultsTable(scenarioList, results);
  console.log(`\nRatios > 1 mean Culex is better (latency and memory inverted: other ÷ culex).\n\n${table}\n`);
  const floor = floorTable(scenarioList, results);
  if (floor) console.log(`What Node's own sockets cost (bench/node-floor.mjs, a bare net.Server) against Culex:\n\n${floor}\n`);
  const costs = transportCostTable(scenarioList, results);
  if (costs) console.log(`Transport cost: each transport row ÷ the same broker's TCP row (1.00× = no cost).\n\n${costs}\n`);
  console.log(`Generator CPU / broker CPU (% of one core; ⚠ = generator above 80%, ◦ = broker below 90%):\n\n${cpuTable(scenarioList, results)}\n`);
  const issues = problems(scenarioList, results, brokerInfo);
  if (issues) console.log(`Problems and notes:\n${issues}\n`);

  const stamp = m.date.replace(/:/g, '-');
  const rawDir = o.write ? join(ROOT, 'bench/results') : join(TMP, 'results');
  mkdirSync(rawDir, { recursive: true });
  const rawFile = join(rawDir, `${stamp}.json`);
  const raw = { machine: m, options: o, brokers: brokerInfo, results };
  writeFileSync(rawFile, `${JSON.stringify(raw, null, 2)}\n`);
  console.log(`raw results: ${relative(ROOT, rawFile)}`);
  if (o.write) writeResultsMd(raw, rawFile);
}

main().catch((err) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
