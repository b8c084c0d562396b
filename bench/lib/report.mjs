import { existsSync, readFileSync } from 'node:fs';
// Turns raw loadgen results into the markdown tables printed by the runner and kept in
// bench/RESULTS.md (the chart, bench/results.svg, is bench/chart.mjs).

export const BROKER_ORDER = ['culex', 'mosquitto', 'aedes'];
export const GEN_BOUND_PCT = 80;
export const SATURATED_PCT = 90;
const LOSS_NOTE_PCT = 0.1;

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (!n) return undefined;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

const okRuns = (agg) => (agg?.runs ?? []).filter((r) => r.ok);

/** Median of a metric over the successful runs of one broker × scenario. */
export function metric(agg, fn) {
  const xs = okRuns(agg)
    .map(fn)
    .filter((v) => typeof v === 'number' && Number.isFinite(v));
  return median(xs);
}

const maxOf = (agg, key) => Math.max(-Infinity, ...okRuns(agg).map((r) => r[key] ?? -Infinity));
// modes whose generator has to keep up with the broker (latency is paced, idle is idle)
const LOADED_MODES = new Set(['throughput', 'connect']);
const loaded = (r) => LOADED_MODES.has(r.mode);

/** One table cell: { text, v } with v the median (undefined when there is no number). */
export function cellValue(row, agg) {
  if (!agg) return { text: 'not run' };
  if (!agg.ok) return { text: agg.startFailed ? 'failed to start' : 'failed' };
  const vals = okRuns(agg).map(row.value).filter((v) => typeof v === 'number' && Number.isFinite(v));
  const v = median(vals);
  if (v === undefined) return { text: 'n/a' };
  let text = row.fmt(v);
  if (vals.length > 1 && v > 0) text += ` ±${((100 * (Math.max(...vals) - Math.min(...vals))) / 2 / v).toFixed(0)}%`;
  const loss = maxOf(agg, 'loss_pct');
  if (loss > LOSS_NOTE_PCT) text += ` (loss ≤${loss.toFixed(1)}%)`;
  if (okRuns(agg).some(loaded) && maxOf(agg, 'gen_cpu_pct') > GEN_BOUND_PCT) text += ' ⚠ generator-bound';
  return { text, v };
}

/** culex ÷ other (other ÷ culex when lower is better): > 1 means Culex is better. */
export function ratioValue(row, culex, other) {
  if (culex === undefined || other === undefined || culex <= 0 || other <= 0) return undefined;
  return row.better === 'higher' ? culex / other : other / culex;
}

function ratio(row, culex, other) {
  const x = ratioValue(row, culex, other);
  return x === undefined ? '–' : `${x.toFixed(2)}×`;
}

export function resultsTable(scenarioList, results) {
  const lines = [
    '| scenario | unit | culex | mosquitto | aedes | culex/mosquitto | culex/aedes |',
    '|---|---|--:|--:|--:|--:|--:|',
  ];
  for (const sc of scenarioList) {
    for (const row of sc.rows) {
      const cells = Object.fromEntries(BROKER_ORDER.map((b) => [b, cellValue(row, results[b]?.[sc.id])]));
      lines.push(
        `| ${row.label} | ${row.unit} | ${cells.culex.text} | ${cells.mosquitto.text} | ${cells.aedes.text} | ` +
          `${ratio(row, cells.culex.v, cells.mosquitto.v)} | ${ratio(row, cells.culex.v, cells.aedes.v)} |`,
      );
    }
  }
  return lines.join('\n');
}

export function cpuTable(scenarioList, results) {
  const lines = ['| scenario | culex | mosquitto | aedes |', '|---|--:|--:|--:|'];
  for (const sc of scenarioList) {
    if (sc.id === 'idle-mem') continue;
    const cells = BROKER_ORDER.map((b) => {
      const agg = results[b]?.[sc.id];
      if (!agg || !agg.ok) return '–';
      const genMax = maxOf(agg, 'gen_cpu_pct');
      const gen = `${metric(agg, (r) => r.gen_cpu_pct).toFixed(0)}%`;
      const flag = genMax > GEN_BOUND_PCT && sc.id !== 'latency' ? ' ⚠' : '';
      const bc = metric(agg, (r) => (r.broker_cpu_pct >= 0 ? r.broker_cpu_pct : undefined));
      const idle = bc !== undefined && bc < SATURATED_PCT && sc.id !== 'latency' ? ' ◦' : '';
      const broker = bc === undefined ? '?' : `${bc.toFixed(0)}%${idle}`;
      return `${gen}${flag} / ${broker}`;
    });
    lines.push(`| ${sc.id} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export function problems(scenarioList, results, brokerInfo) {
  const out = [];
  for (const b of BROKER_ORDER) {
    if (brokerInfo[b]?.note) out.push(`- ${b}: ${brokerInfo[b].note}`);
    for (const sc of scenarioList) {
      const agg = results[b]?.[sc.id];
      if (!agg) continue;
      if (!agg.ok) {
        out.push(`- ${b} / ${sc.id}: ${agg.error}`);
        continue;
      }
      const failed = agg.runs.filter((r) => !r.ok);
      for (const r of failed) out.push(`- ${b} / ${sc.id}: one of ${agg.runs.length} runs failed: ${r.error}`);
      const lazy = agg.runs.filter((r) => r.ok && loaded(r) && r.broker_cpu_pct >= 0 && r.broker_cpu_pct < SATURATED_PCT);
      if (lazy.length) {
        const cpus = lazy.map((r) => `${r.broker_cpu_pct.toFixed(0)}%`).join(', ');
        out.push(`- ${b} / ${sc.id}: broker below ${SATURATED_PCT}% CPU in ${lazy.length} of ${agg.runs.length} runs (${cpus}): not saturated in those runs`);
      }
      const stalls = agg.runs.reduce((n, r) => n + (r.stalls ?? 0), 0);
      if (stalls > 0) out.push(`- ${b} / ${sc.id}: ${stalls} delivery stall(s) of ≥1 s (backlog written off as lost)`);
      const connErrors = agg.runs.reduce((n, r) => n + (r.conn_errors ?? 0), 0);
      if (connErrors > 0) out.push(`- ${b} / ${sc.id}: ${connErrors} connection(s) failed before CONNACK (refused, reset or closed)`);
      const drops = agg.runs.reduce((n, r) => n + Math.max(0, r.listen_drops ?? 0), 0);
      if (drops > 0) {
        out.push(
          `- ${b} / ${sc.id}: ${drops} SYN(s) or handshake ACK(s) dropped on a full accept queue (host-wide ListenDrops, ` +
            'retried by TCP after ~1 s: the CONNACK p99 shows them)',
        );
      }
    }
  }
  return out.join('\n');
}

export function machineBlock(m) {
  return [
    `- date: ${m.date}`,
    `- machine: ${m.cpuModel}, ${m.nproc} cores (${m.virt}), ${m.memGiB} GiB RAM, ${m.os}, kernel ${m.kernel}`,
    `- node ${m.node}; culex ${m.versions.culex}; mosquitto ${m.versions.mosquitto} (Debian package); aedes ${m.versions.aedes} (npm)`,
    `- pinning: broker on core ${m.brokerCore}, load generator on core ${m.genCore} (\`taskset\`)`,
    `- options: ${m.optionsText}`,
  ].join('\n');
}

/** bench/ANALYSIS.md, hand-written reading of the numbers, is included when present. */
function analysis() {
  const file = new URL('../ANALYSIS.md', import.meta.url);
  return existsSync(file) ? `\n${readFileSync(file, 'utf8').trim()}\n\n` : '';
}

export function resultsMarkdown({ machine, scenarioList, results, brokerInfo, rawFile }) {
  const issues = problems(scenarioList, results, brokerInfo);
  return `# Benchmark results

Culex against the reference brokers, same machine, same run, same load generator.
Regenerated by \`npm run bench\` (raw numbers: \`${rawFile}\`).

${machineBlock(machine)}

Each cell is the median of the rounds, ± half their min–max spread. **Ratios > 1 mean Culex is
better**: for throughput that is culex ÷ other; for latency and memory (lower is better) the
ratio is inverted (other ÷ culex) so that > 1 still means Culex is better.

${resultsTable(scenarioList, results)}

[![Culex ÷ mosquitto and Culex ÷ aedes for every row, log scale](results.svg)](results.svg)

The ratios as a chart ([\`results.svg\`](results.svg), redrawn by \`npm run bench\`, by \`--render\`
and by \`node bench/chart.mjs [FILE]\`).

Load generator CPU / broker CPU during the measured window (median, % of one core). The
generator has its own core: above ${GEN_BOUND_PCT}% it may be the limit, flagged ⚠ (and
"generator-bound" above). A throughput row whose broker stayed below ${SATURATED_PCT}% is
flagged ◦: the broker was not saturated (QoS 1 window, a stall, or machine noise).

${cpuTable(scenarioList, results)}
${issues ? `\nProblems and notes:\n\n${issues}\n` : ''}${analysis()}
## Caveats

- Run on a quiet machine: anything else running (a test suite, a build) competes with the
  broker or the generator for the two cores and shows up as broker CPU below 90% (◦).
- This is a 2-vCPU virtual machine. Latency tails (p99) are dominated by vCPU wake-up
  latency and vary a lot from run to run (see the ± spread); compare p99 only across runs
  with small spreads, and prefer p50 and the throughput rows.
- mosquitto 2.0.11 sometimes stalls for part of a window (broker CPU well below 100% while
  work is outstanding; listed under "Problems and notes"), which is why each cell is a
  median of rounds.
- QoS 1 and 2 rows are bounded by the generator's window (${machine.options.window} incomplete flows per
  publisher): a broker that answers faster than the window refills may sit below 100% CPU.
- The connection-rate row is bounded by what the generator's core can do: on loopback the
  kernel's handshake and reset work for both ends lands mostly there (about 50k conn/s on this
  machine with mosquitto); a broker beyond it shows as ⚠ generator-bound.
- Loss on QoS 0 rows is the broker's own choice (e.g. a slow-consumer limit such as Culex's
  \`max_outbound_bytes\`), not the generator's: deliveries are counted after a drain.

## How to run

\`\`\`sh
npm run bench                                 # everything: build, 3 brokers, all scenarios (~15 min)
npm run bench -- --quick                      # short smoke run (not written to RESULTS.md)
npm run bench -- --only culex,mosquitto       # a subset of brokers
npm run bench -- --scenarios fanin-q0,latency # a subset of scenarios
node bench/run.mjs --render bench/results/X.json  # RESULTS.md and results.svg from a raw file
node bench/chart.mjs [bench/results/X.json]   # only the chart (default: the newest raw file)
node bench/run.mjs --help                     # all options (durations, window, rate, ...)
\`\`\`

Scenarios (\`--scenarios\`): \`fanin-q0\`, \`fanin-q1\`, \`fanin-q2\`, \`fanin-q1-durable\`,
\`cluster-fanin-q1\`, \`fanout\`, \`fanout-q1\`, \`pairs\`, \`pairs-q1\`, \`latency\`, \`idle-mem\`,
\`conn-rate\`. A table only has the rows of the scenarios its run included.

Needs \`gcc\`, \`taskset\` (util-linux) and \`mosquitto\` (Debian package) on the PATH; aedes
comes from the npm dev dependencies. A broker that cannot start is reported as
"failed to start" and the run goes on.

## Method

- **Load generator**: \`bench/loadgen/loadgen.c\`, our own single-threaded C program (epoll,
  non-blocking sockets), compiled with \`gcc -O2\` into \`.bench-tmp/\` by the runner. It speaks
  MQTT 3.1.1 with keepalive 0 and clean sessions, pre-encodes its PUBLISH frames (64-byte
  payload) and writes them in 64 KiB batches; subscribers parse frames with a minimal framer,
  count deliveries and PUBACK them at QoS 1; at QoS 2 they answer PUBREC, then PUBCOMP to the
  broker's PUBREL, and publishers answer PUBREC with PUBREL. It reports its own CPU time
  (\`getrusage\`) and the broker's (\`/proc/<pid>/stat\`) over the measured window.
- **Isolation**: one broker at a time, a fresh broker process per scenario on a free port on
  127.0.0.1, readiness detected by polling the port, killed by pid afterwards. The broker is
  pinned to one core and the generator to the other with \`taskset\`; both get the hard
  open-files limit.
- **Throughput** (fan-in, fan-out, pairs): connect and subscribe everything, publish for the
  warm-up, then count deliveries at the subscribers over the measured window
  (msg/s = deliveries ÷ window). QoS 0 publishers write as fast as the broker reads, but pause
  while too many deliveries are outstanding (sent × subscribers − received): the cap is the
  largest of ${machine.options.backlog.toLocaleString('en')}, two write batches per publisher, and 50 ms of the delivery rate
  seen in the last 100 ms. So the broker is measured in steady state rather than while
  loopback socket buffers (up to 32 MiB each) fill up, and the cap never starves a fast
  broker. QoS 1 and 2 publishers keep at most ${machine.options.window} incomplete flows each (a QoS 1
  PUBLISH until its PUBACK, a QoS 2 one until its PUBCOMP); deliveries are counted at PUBLISH.
  After the window the generator stops and drains; "loss" is expected minus received
  deliveries after the drain (shown only when above ${LOSS_NOTE_PCT}%).
- **Latency**: ${machine.options.rate.toLocaleString('en')} msg/s QoS 0 paced by a timerfd, one publisher and one subscriber
  on its own topic; each payload carries the CLOCK_MONOTONIC send time, and the subscriber
  records receive − send for every message in the window. Generator and broker are on the
  same host, so no clock skew; idle-CPU wake-ups of this VM do show in the tail.
- **Connection rate** (\`conn-rate\`): ${machine.options.connInflight ?? 100} connections in flight, each a loop of TCP
  connect, MQTT CONNECT with a new client id, CONNACK, close with RST (no TIME_WAIT, so the
  client ports do not run out), and the next connect; conn/s = CONNACKs ÷ window. 100 in
  flight is mosquitto's listen backlog: more only overflows its accept queue (a dropped SYN
  is retried after 1 s) without raising any broker's rate. On loopback the kernel runs both
  ends' handshake and reset work (softirq) mostly on the sending core, the generator's, so
  its CPU is the thing to check in this row (⚠ above ${GEN_BOUND_PCT}%): a broker faster than the
  generator is then measured at the generator's limit.
- **Memory**: VmRSS of the broker before and after ${machine.options.idleConns.toLocaleString('en')} MQTT clients have connected
  (CONNACK received) and sat idle for ${machine.options.settle} s; per connection = difference ÷ connections.
- **Broker settings**: mosquitto gets \`max_inflight_messages 0\` (its 2.0.11 inflight
  accounting stalls QoS 1 otherwise), \`max_queued_messages 1000000\`, \`persistence false\`,
  \`set_tcp_nodelay true\`, \`sys_interval 0\`; aedes runs with its defaults on a
  \`net.Server\` with \`noDelay\` (\`bench/aedes-server.mjs\`); Culex gets the same limits as
  mosquitto through a generated YAML file (\`max_inflight_messages: 0\`,
  \`max_queued_messages: 1000000\`, \`sys_interval: 0\`) and \`--log-level warn\`.
`;
}
