// The markdown summary of a soak run (bench/soak/RESULTS.md with --write), from its raw object.
import { RULE } from './soak-verdict.mjs';

const f = (v, d = 1) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '—');
const int = (v) => (typeof v === 'number' && Number.isFinite(v) ? Math.round(v).toLocaleString('en') : '—');
const kilo = (v) => (typeof v !== 'number' ? '—' : v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : `${Math.round(v)}`);
const ms = (us) => (typeof us === 'number' && us >= 0 ? (us / 1000).toFixed(2) : '—');
const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderMarkdown(raw, v) {
  const m = raw.machine ?? {};
  const p = raw.params ?? {};
  const c = raw.churnTotals ?? {};
  const samples = raw.samples ?? [];
  const out = [];
  out.push('# Soak test results', '');
  out.push(
    `**Verdict: ${v.pass ? 'PASS' : 'FAIL'}** — ${samples.length} of ${p.minutes} minutes at ${kilo(p.rate)} msg/s with ` +
      `${int(raw.maxConnections ?? p.plannedConnections)} connections held at once and ${p.churnRate} reconnects/s.`,
    '',
  );
  out.push(
    'Produced by `npm run soak` (`node bench/soak.mjs`, see `bench/soak/README.md`); every sample is in `soak.json`, ' +
      'the chart in `soak.svg` (`node bench/soak-chart.mjs soak.json` redraws it).',
    '',
  );
  if (raw.failure) out.push(`**The soak did not complete:** ${cell(raw.failure)}`, '');
  if (raw.brokerDied) out.push(`**The broker died:** ${cell(raw.brokerDied)}`, '');

  out.push('## Setup', '', '| | |', '|---|---|');
  const row = (k, val) => out.push(`| ${k} | ${cell(val)} |`);
  row('date', `${m.date ?? '?'} (finished ${raw.finishedAt ?? '?'})`);
  row('machine', `${m.cpu ?? '?'}, ${m.nproc ?? '?'} cores (${m.virt ?? '?'}), ${int(m.memTotalMiB)} MiB, ${m.kernel ?? '?'}`);
  row('software', `culex ${m.culexVersion ?? '?'} (${m.culexRev ?? '?'}), Node ${m.node ?? '?'}; load generator from ${raw.loadgen?.from ?? '?'}`);
  row('broker', 'dist build, pinned to core 0, memory persistence, sys_interval 60, max_inflight_messages 0, max_queued_messages 1000000; everything else on core 1');
  const peak = raw.peak ? `the peak of ${kilo(raw.peak.recv_rate)} msg/s (5 s throughput run, 100 QoS 1 pairs, window 100; broker CPU ${f(raw.peak.broker_cpu_pct, 0)}%)` : '';
  const probes = (raw.pacedProbes ?? [])
    .map((q) => `${kilo(q.rate)} ${q.keptUp ? '✓' : '✗'} (${q.ok ? `delivered ${kilo(q.recv_rate)}/s, lost ${int(q.lost)}, p99 ${ms(q.lat_p99_us)} ms, broker CPU ${f(q.broker_cpu_pct, 0)}%` : 'failed'})`)
    .join('; ');
  let load = `${kilo(p.rate)} msg/s`;
  if (!raw.peak) load += ' (given with --rate)';
  else if (p.capped) {
    load +=
      ` = ${((100 * p.rate) / raw.peak.recv_rate).toFixed(0)}% of ${peak}. Wanted: ${p.fraction} × peak = ${kilo(p.wantedRate)} msg/s, lowered because paced load ` +
      `(latency mode: about one write per message, on the core it shares with the churn clients) did not keep up under soak conditions; 5 s probes: ${probes}`;
  } else load += ` = ${p.fraction} × ${peak}${probes ? `; 5 s probe: ${probes}` : ''}`;
  row('load', `${load}. Each minute one latency-mode load generator run, ${p.loadSeconds} s, 100 publishers → 100 subscribers, QoS 1, topic per pair, 64-byte payloads, clients connected anew each minute`);
  row(
    'connections',
    `${int(p.idleConns)} idle (held all along) + ${p.loadConns} load + up to ${p.churnPool} churn + 2 (churn publisher, monitor) = ${int(p.plannedConnections)} planned; ` +
      `most held at once: ${int(raw.maxConnections)} ($SYS clients/maximum), ${int(raw.maxConnectionsByFds)} (broker sockets by open fds)`,
  );
  const b = p.fdBudget;
  if (b) row('open-files limit', `${b.hard} per process (ulimit -Hn): broker's own fds ${b.brokerOwnFds} + monitor 1 + load ${b.load} + churn ${b.churnPool} + churn publisher 1 + margin ${b.margin} leave ${int(b.idle)} idle connections`);
  row(
    'churn',
    `${p.churnRate} connects/s over ${p.churnPool} fixed client ids: half clean sessions (SUBSCRIBE, 2 QoS 1 messages, leave), half persistent ` +
      '(3 QoS 1 messages queued while away, received on the next visit, plus 1 live); 3.1.1 and 5.0 alternate; every visit ends with DISCONNECT or ' +
      'an abrupt socket close (alternately), every client has a will that must come exactly after the abrupt closes',
  );
  row('samples', 'one per minute, on the broker\'s $SYS publication: RSS = mean of /proc VmRSS readings every 5 s; heap and event-loop lag from $SYS/broker/heap/current and $SYS/broker/eventloop/lag/*; CPU from /proc over the minute');
  out.push('');

  out.push('## Verdict', '', '| check | result | measured | bound |', '|---|---|---|---|');
  for (const k of v.checks) out.push(`| ${cell(k.name)} | ${k.pass === true ? 'pass' : k.pass === false ? '**FAIL**' : 'not judged'} | ${cell(k.value)} | ${cell(k.bound)} |`);
  out.push('');
  out.push(
    `Rule (\`bench/lib/soak-verdict.mjs\`): the first ${v.warm} minute${v.warm === 1 ? '' : 's'} ${v.warm === 1 ? 'is' : 'are'} warm-up ` +
      `(${RULE.warmupMinutes} from a ${3 * RULE.warmupMinutes}-minute run on, a third of shorter runs); "early" is the first ${RULE.windowMinutes} minutes after it, ` +
      `"late" the last ${RULE.windowMinutes} (shorter runs: the two halves). ` +
      `Broker RSS fails when its least-squares slope exceeds ${RULE.rss.slopeMiBPerHour} MiB/h or its late mean exceeds its early mean by more than ${RULE.rss.growthPct}%. ` +
      `The V8 heap is one reading a minute taken anywhere in the GC cycle, too noisy for a slope: its lowest late reading may exceed its lowest early one by ${RULE.heap.floorGrowthPct}% at most (a leak raises the floor). ` +
      `Event-loop lag p99: at most ${RULE.lag.p99MaxMs} ms in every minute, and a late mean at most ${RULE.lag.growthFactor} × the early mean + ${RULE.lag.growthSlackMs} ms. ` +
      `With fewer than ${RULE.minFitSamples} minutes after the warm-up the trends are not judged. ` +
      'Also failing: a lost QoS 1 message, a churn error, a missing or unexpected will, a failed load generator minute, dropped idle connections, ' +
      'an error on the monitoring connection, or the broker dying.',
    '',
  );
  const slope = (t, unit) => (typeof t?.slopePerHour === 'number' ? `${t.slopePerHour >= 0 ? '+' : ''}${t.slopePerHour.toFixed(1)} ${unit}/h` : '—');
  out.push(`Slopes after the warm-up: RSS ${slope(v.rss, 'MiB')}, heap ${slope(v.heap, 'MiB')}, event-loop lag p99 ${slope(v.lag, 'ms')}.`, '');

  out.push('## Per minute', '');
  out.push(
    '| min | RSS MiB | heap MiB | lag p50 / p99 / max ms | broker CPU | sockets (max) | load delivered/s | lost | latency p50 / p99 / max ms | generator / driver CPU | churn connects | churn errors | offline sessions |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  const base = p.brokerBaseFds ?? 0;
  for (const s of samples) {
    const l = s.load ?? {};
    out.push(
      `| ${s.minute} | ${f(s.rss_mib)} | ${f(s.heap_mib)} | ${f(s.lag_p50_ms)} / ${f(s.lag_p99_ms)} / ${f(s.lag_max_ms)} | ${f(s.cpu_pct, 0)}% | ` +
        `${int(s.fds_max != null ? s.fds_max - base : null)} | ${l.ok ? kilo(l.recv_rate) : 'failed'} | ${l.ok ? int(l.lost) : '—'} | ` +
        `${ms(l.lat_p50_us)} / ${ms(l.lat_p99_us)} / ${ms(l.lat_max_us)} | ${f(l.gen_cpu_pct, 0)}% / ${f(s.driver_cpu_pct, 0)}% | ${int(s.churn?.connects)} | ${int(s.churn?.errors)} | ${int(s.clients_offline)} |`,
    );
  }
  out.push('');
  if (raw.brokerFinal) out.push(`At the end: broker RSS ${f(raw.brokerFinal.rss_mib)} MiB, peak RSS (VmHWM) ${f(raw.brokerFinal.hwm_mib)} MiB.`, '');

  out.push('## Churn totals', '');
  out.push(
    `${int(c.connects)} connects, ${int(c.cleanDisconnects)} DISCONNECTs, ${int(c.abruptCloses)} abrupt closes; ` +
      `${int(c.published)} QoS 1 messages published to churn clients, ${int(c.acked)} acknowledged, ${int(c.delivered)} delivered ` +
      `(${int(c.duplicates)} duplicates, ${int(c.late)} waits past 10 s), lost: ${int(c.lostClean)} (clean) + ${int(c.lostPersistent)} (persistent); ` +
      `wills ${int(c.willsReceived)} received, ${int(c.willsMissing)} missing, ${int(c.willsUnexpected)} unexpected; ` +
      `sessions lost ${int(c.sessionsLost)}; connects the scheduler could not start (no free client): ${int(c.skipped)}; errors ${int(c.errors)}.`,
    '',
  );
  const errs = [...(raw.churnErrors ?? []), ...(raw.monitorErrors ?? [])];
  if (errs.length) {
    out.push('## Errors (first 20)', '');
    for (const e of errs.slice(0, 20)) out.push(`- ${e.at} ${e.kind ? `${e.kind}: ` : ''}${cell(e.msg)}`);
    out.push('');
  }
  return out.join('\n');
}
