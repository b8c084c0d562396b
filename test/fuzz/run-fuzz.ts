// `npm run fuzz`: the long socket fuzz run (1,000,000 packets by default), outside the
// default test run. Same scenario and checks as socket-fuzz.test.ts, in ten phases so a leak
// shows as RSS growing phase after phase. Exit code 1 when a check failed.
//
//   FUZZ_PACKETS=1000000  packets to send      FUZZ_SEED=<n>        replay a run
//   FUZZ_CONCURRENCY=100  connections at once  FUZZ_PHASES=10       RSS readings
//   FUZZ_PERSISTENCE=memory|sqlite             FUZZ_RSS_SLACK_MIB=30, FUZZ_LIVE_SLACK_MIB=16
//   FUZZ_DUMP=<a..b>      print what connections a..b (or "7", or "3,5") send under FUZZ_SEED
//   FUZZ_REPLAY=<a..b>    replay them one at a time against a fresh broker, to find the one
//                         that brings it down
import { cpus, totalmem } from 'node:os';
import { MIB } from './broker-probe.js';
import { describePlan, planConnection } from './connection-plan.js';
import { runScenario } from './fuzz-scenario.js';
import { summaryLines } from './fuzz-summary.js';
import { parseRange, replay } from './replay.js';

function numberEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${raw}: not a number`);
  return value;
}

const seed = numberEnv('FUZZ_SEED', Math.floor(Math.random() * 0x7fffffff));
const dump = process.env.FUZZ_DUMP;
if (dump !== undefined && dump !== '') {
  console.log(`seed ${seed}`);
  for (const index of parseRange(dump)) console.log(describePlan(planConnection(seed, index)));
  process.exit(0);
}
const replayRange = process.env.FUZZ_REPLAY;
if (replayRange !== undefined && replayRange !== '') {
  const culprit = await replay(seed, parseRange(replayRange), (line) => console.log(line));
  process.exit(culprit === undefined ? 0 : 1);
}

const persistence = process.env.FUZZ_PERSISTENCE === 'sqlite' ? 'sqlite' : 'memory';
const started = new Date();
const report = await runScenario({
  seed,
  packets: numberEnv('FUZZ_PACKETS', 1_000_000),
  concurrency: numberEnv('FUZZ_CONCURRENCY', 100),
  phases: Math.max(1, numberEnv('FUZZ_PHASES', 10)),
  persistence,
  rssSlackBytes: numberEnv('FUZZ_RSS_SLACK_MIB', 30) * MIB,
  liveSlackBytes: numberEnv('FUZZ_LIVE_SLACK_MIB', 16) * MIB,
  settleTimeoutMs: 30_000,
  log: (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`),
});
console.log('');
console.log(`date ${started.toISOString()}; node ${process.version}; ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`);
for (const line of summaryLines(report)) console.log(line);
process.exit(report.failures.length === 0 ? 0 : 1);
