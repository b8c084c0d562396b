// Socket fuzz, default size: 100,000 generated and mutated packets (MQTT 3.1, 3.1.1, 5.0)
// over a hundred concurrent TCP connections to the real `culex` process, beside four
// well-behaved MQTT.js clients exchanging QoS 1 and 2 messages. The broker must not crash or
// log an internal error, the good clients must lose nothing, and its memory must come back
// near the baseline. `npm run fuzz` runs the same with 1,000,000 packets.
//
// FUZZ_SEED replays a run (the seed is printed); FUZZ_PACKETS changes the size.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIB } from './broker-probe.js';
import { runScenario } from './fuzz-scenario.js';
import { summaryLines } from './fuzz-summary.js';

const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 0x7fffffff));
const packets = Number(process.env.FUZZ_PACKETS ?? 100_000);

test(`socket fuzz: ${packets} packets against the culex process, good clients lose nothing (seed ${seed})`, { timeout: 120_000 }, async (t) => {
  const report = await runScenario({
    seed,
    packets,
    concurrency: 100,
    phases: 1,
    persistence: 'memory',
    rssSlackBytes: 30 * MIB,
    liveSlackBytes: 10 * MIB,
    settleTimeoutMs: 15_000,
    log: (line) => t.diagnostic(line),
  });
  const summary = summaryLines(report);
  for (const line of summary) t.diagnostic(line);
  assert.deepEqual(report.failures, [], `seed ${seed} (rerun with FUZZ_SEED=${seed})\n${summary.join('\n')}`);
});
