import { existsSync, readFileSync } from 'node:fs';
// Turns raw loadgen results into the markdown tables printed by the runner and kept in
// bench/RESULTS.md (the chart, bench/results.svg, is bench/chart.mjs).

export const BROKER_ORDER = ['culex', 'mosquitto', 'aedes'];
/** The reference under every Node broker (bench/node-floor.mjs): not a column of the main table. */
export const FLOOR = 'node-floor';
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
  // a broker that cannot serve the scenario at all (mosquitto without WebSocket): no number, not a failure
  if (agg.unavailable) return { text: `n/a (${agg.error})` };
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

/**
 * The cost of each transport against plain TCP: for every transport row and broker, the
 * transport row ÷ the same broker's TCP row of the same run (medians; inverted where lower
 * is better), so 1.00× = no cost and 0.60× = 40% below TCP. Empty when the run has no
 * transport scenario.
 */
export function transportCostTable(scenarioList, results) {
  const byId = Object.fromEntries(scenarioList.map((s) => [s.id, s]));
  const lines = ['| row | transport ÷ TCP | culex | mosquitto | aedes |', '|---|---|--:|--:|--:|'];
  const missing = new Set();
  for (const sc of scenarioList) {
    if (!sc.baseline) continue;
    // the TCP row's scenario must be in the run (its definition comes from the same list)
    const base = byId[sc.baseline];
    if (!base) missing.add(sc.baseline);
    sc.rows.forEach((row, i) => {
      const baseRow = base?.rows[i];
      const cells = BROKER_ORDER.map((b) => {
        const agg = results[b]?.[sc.id];
        if (agg?.unavailable) return `n/a (${agg.error})`;
        const v = cellValue(row, agg).v;
        const t = baseRow ? cellValue(baseRow, results[b]?.[sc.baseline]).v : undefined;
        if (v === undefined || t === undefined || v <= 0 || t <= 0) return '–';
        return `${(row.better === 'higher' ? v / t : t / v).toFixed(2)}×`;
      });
      const name = `${TRANSPORT_LABELS[sc.transport] ?? sc.transport} ÷ TCP`;
      lines.push(`| ${baseRow?.short ?? row.short.replace(/, [^,]*$/, '')} | ${name} | ${cells.join(' | ')} |`);
    });
  }
  if (lines.length === 2) return '';
  if (missing.size) {
    const ids = [...missing].map((id) => `\`${id}\``).join(', ');
    lines.push('', `–: not in this run: ${ids} (TCP ${missing.size > 1 ? 'rows' : 'row'} to divide by).`);
  }
  return lines.join('\n');
}

/**
 * Culex against Node's floor (a bare net.Server holding the same connections) in the
 * scenarios measured on both: what Culex adds on top of Node's sockets. Empty when the run
 * has no floor measurement.
 */
export function floorTable(scenarioList, results) {
  const lines = ['| row | unit | culex | Node floor | culex − floor | culex ÷ floor |', '|---|---|--:|--:|--:|--:|'];
  for (const sc of scenarioList) {
    if (!sc.floor || !results[FLOOR]?.[sc.id]) continue;
    for (const row of sc.rows) {
      const c = cellValue(row, results.culex?.[sc.id]);
      const f = cellValue(row, results[FLOOR][sc.id]);
      // a difference means something for what Culex holds (memory), not for a rate
      const diff = row.better === 'lower' && c.v !== undefined && f.v !== undefined ? row.fmt(c.v - f.v) : '–';
      const share = c.v > 0 && f.v > 0 ? `${(c.v / f.v).toFixed(2)}×` : '–';
      lines.push(`| ${row.short} | ${row.unit} | ${c.text} | ${f.text} | ${diff} | ${share} |`);
    }
  }
  return lines.length === 2 ? '' : lines.join('\n');
}

const TRANSPORT_LABELS = { tls: 'TLS', ws: 'WebSocket', wss: 'WebSocket over TLS' };

/** What the TLS handshakes negotiated, per broker, e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384 x25519 (culex, aedes)". */
export function negotiatedTls(results) {
  const seen = new Map();
  for (const b of BROKER_ORDER) {
    for (const agg of Object.values(results[b] ?? {})) {
      for (const r of okRuns(agg)) {
        if (!r.tls) continue;
        if (!seen.has(r.tls)) seen.set(r.tls, new Set());
        seen.get(r.tls).add(b);
      }
    }
  }
  return [...seen].map(([tls, bs]) => `${tls} (${[...bs].join(', ')})`).join('; ');
}

export function cpuTable(scenarioList, results) {
  const lines = ['| scenario | culex | mosquitto | aedes |', '|---|--:|--:|--:|'];
  for (const sc of scenarioList) {
    if (sc.idle) continue;
    const cells = BROKER_ORDER.map((b) => {
      const agg = results[b]?.[sc.id];
      if (agg?.unavailable) return 'n/a';
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
    // scenarios a broker cannot serve: one line per reason, not a failure
    const unavailable = new Map();
    for (const sc of scenarioList) {
      const agg = results[b]?.[sc.id];
      if (!agg?.unavailable) continue;
      const why = agg.note ?? agg.error;
      unavailable.set(why, [...(unavailable.get(why) ?? []), sc.id]);
    }
    for (const [why, ids] of unavailable) out.push(`- ${b} / ${ids.join(', ')}: ${why}`);
    for (const sc of scenarioList) {
      const agg = results[b]?.[sc.id];
      if (!agg || agg.unavailable) continue;
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
    ...(m.fdLimit ? [`- open files per process: ${m.fdLimit.soft ?? 'unlimited'} (hard limit ${m.fdLimit.hard ?? 'unlimited'}): the largest idle-memory run is ${(m.options.maxIdleConns ?? 0).toLocaleString('en')} connections`] : []),
    `- options: ${m.optionsText}`,
  ].join('\n');
}

/** bench/ANALYSIS.md, hand-written reading of the numbers, is included when present. */
function analysis() {
  const file = new URL('../ANALYSIS.md', import.meta.url);
  return existsSync(file) ? `\n${readFileSync(file, 'utf8').trim()}\n\n` : '';
}

function floorSection(scenarioList, results) {
  const table = floorTable(scenarioList, results);
  if (!table) return '';
  return `
### Against Node's own floor

The same idle-memory and connection-rate scenarios on \`bench/node-floor.mjs\`: a bare
\`net.Server\` that answers CONNECT with a CONNACK and holds the socket, no broker at all.
It is the least any broker built on Node's \`net.Socket\` can cost (aedes and Culex alike);
"culex − floor" is what Culex itself adds.

${table}
`;
}

function transportSection(machine, scenarioList, results) {
  const table = transportCostTable(scenarioList, results);
  if (!table) return '';
  const tls = negotiatedTls(results);
  return `
### Transport cost against plain TCP

Each transport row ÷ the same broker's TCP row in this run (1.00× = no cost, 0.60× = 40%
below TCP). The cost against mosquitto on the same transport is the main table's
culex/mosquitto column of the transport row.${tls ? ` TLS negotiated: ${tls}.` : ''}${
    machine.tlsCert ? ` Certificate: ${machine.tlsCert}.` : ''
  }

${table}
`;
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
${floorSection(scenarioList, results)}${transportSection(machine, scenarioList, results)}
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
- TLS rows load the generator too: its half of every handshake (X25519, checking the
  server's ECDSA signature, OpenSSL 3.0's per-handshake overhead) and the record
  encryption run on its one core. Watch its CPU in the TLS connection-rate row (⚠).
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
\`cluster-fanin-q1\`, \`fanout\`, \`fanout-q1\`, \`pairs\`, \`pairs-q1\`, \`latency\`, \`idle-mem-1k\`,
\`idle-mem\` (10,000 or \`--idle-conns\`), \`idle-mem-max\` (the most the open-file limit allows, up
to 100,000), \`conn-rate\`, and over other transports \`fanin-q0-tls\`, \`fanout-tls\`, \`conn-rate-tls\`,
\`fanin-q0-ws\`, \`fanout-ws\`. A table only has the rows of the scenarios its run included.

Needs \`gcc\`, OpenSSL (\`libssl-dev\`, and the \`openssl\` command for the throwaway
certificate), \`taskset\` (util-linux) and \`mosquitto\` (Debian package) on the PATH; aedes
comes from the npm dev dependencies. A broker that cannot start is reported as
"failed to start" and the run goes on; a broker that cannot serve a scenario at all
(mosquitto without WebSocket support) reads "n/a" with the reason.

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
- **TLS and WebSocket** (\`*-tls\`, \`*-ws\` rows): the same scenarios, the generator speaking
  TLS or WebSocket to a second listener of the broker (its TCP listener stays, unused).
  TLS: version 1.3 only (OpenSSL in the generator), default ciphers and groups, no
  certificate verification, and no session resumption: every connection of the TLS
  connection-rate row does a full handshake (the server's session tickets are ignored).
  Certificate: ${machine.tlsCert ?? 'a self-signed ECDSA P-256 certificate'}.
  WebSocket: an HTTP/1.1 upgrade to \`/mqtt\` with the \`mqtt\` subprotocol, then each write
  batch of the generator (up to 64 KiB of MQTT packets) is one masked binary frame, as
  clients that coalesce their writes send them; the broker's frames, of any size, are
  unframed back into the MQTT stream (ping answered, no compression). Listeners: Culex a
  \`listeners:\` entry of type \`tls\` (certfile, keyfile) or \`ws\` (path \`/mqtt\`);
  mosquitto a second \`listener\` with certfile and keyfile (its Debian package, 2.0.11, is
  built without libwebsockets: no WebSocket listener, so its WebSocket cells read n/a);
  aedes \`tls.createServer(aedes.handle)\`, or an http server with \`ws\`'s WebSocketServer
  and \`createWebSocketStream\` into \`aedes.handle\`, as the aedes docs show. TCP_NODELAY is
  on for every listener's sockets. The transport-cost table divides each transport row by
  the same broker's TCP row of the same run.
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
