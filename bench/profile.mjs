// CPU profiles of Culex under one benchmark load:
//   node bench/profile.mjs SCENARIO [SCENARIO...]      (after npm run build)
// For each scenario (ids as in bench/lib/scenarios.mjs, e.g. fanin-q1, pairs, conn-rate) it
// starts culex pinned to core 0 with --cpu-prof, runs the load generator pinned to core 1
// for 3 s, stops culex, and writes bench/profiles/<scenario>.cpuprofile (open it in Chrome
// DevTools or speedscope) plus the top functions by self time to bench/profiles/<scenario>.txt.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildLoadgen, freePort, waitForPort } from './lib/procs.mjs';
import { scenarios } from './lib/scenarios.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'bench/profiles');
const TMP = join(tmpdir(), 'culex-profile');

const wanted = process.argv.slice(2);
if (wanted.length === 0) {
  console.error('usage: node bench/profile.mjs SCENARIO [SCENARIO...]  (e.g. fanin-q1 pairs conn-rate)');
  process.exit(2);
}
const all = scenarios({ warmup: 0.5, duration: 3, window: 100, backlog: 20000, rate: 10000, idleConns: 1000, settle: 1, payload: 64, connInflight: 100 });
mkdirSync(OUT, { recursive: true });
mkdirSync(TMP, { recursive: true });
const loadgen = buildLoadgen(ROOT, TMP);
const conf = join(TMP, 'culex.yaml');
writeFileSync(conf, 'max_inflight_messages: 0\nmax_queued_messages: 1000000\nsys_interval: 0\nallow_anonymous: true\nhttp_port: -1\npersistence: memory\n');

for (const id of wanted) {
  const sc = all.find((s) => s.id === id);
  if (sc === undefined || sc.broker?.cluster === true) {
    console.error(`unknown or unsupported scenario "${id}"`);
    process.exit(2);
  }
  const profDir = join(TMP, `prof-${id}`);
  rmSync(profDir, { recursive: true, force: true });
  mkdirSync(profDir);
  const port = await freePort();
  const broker = spawn('taskset', ['-c', '0', process.execPath, '--cpu-prof', `--cpu-prof-dir=${profDir}`, join(ROOT, 'bin/culex.js'), '--port', String(port), '--host', '127.0.0.1', '--config', conf, '--data', join(TMP, 'data'), '--log-level', 'warn'], { stdio: 'ignore' });
  const ready = await waitForPort(broker, port, '127.0.0.1', 10000);
  if (!ready.ok) throw new Error(`culex did not start: ${ready.reason}`);
  const args = [...sc.args.map(String), '--port', String(port), '--broker-pid', String(broker.pid)];
  const result = execFileSync('taskset', ['-c', '1', loadgen, ...args], { encoding: 'utf8' });
  broker.kill('SIGINT');
  await new Promise((resolve) => broker.on('exit', resolve));
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`no profile written for ${id}`);
  const target = join(OUT, `${id}.cpuprofile`);
  renameSync(join(profDir, file), target);
  writeFileSync(join(OUT, `${id}.txt`), `${summary(target, id, result.trim().split('\n').pop())}\n`);
  console.log(`wrote bench/profiles/${id}.cpuprofile and ${id}.txt`);
}

/** Self time per function, the top 25, as text. */
function summary(file, id, loadLine) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const total = p.timeDeltas.reduce((a, b) => a + b, 0);
  const self = new Map();
  p.samples.forEach((s, i) => {
    const f = byId.get(s).callFrame;
    const where = f.url ? `${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^node:/, 'node:')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, t]) => `${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`);
  let load = '';
  try {
    const r = JSON.parse(loadLine);
    load = r.mode === 'connect' ? `${Math.round(r.conn_rate)} conn/s` : `${Math.round(r.recv_rate)} msg/s delivered`;
  } catch {
    load = 'load generator result unreadable';
  }
  return [`${id}: self time by function over ${(total / 1e6).toFixed(1)} s of culex under --cpu-prof (${load}; profiling slows it down)`, '', ...rows].join('\n');
}
