// The soak's pass/fail rule ("no growth trend"), shared by bench/soak.mjs and the report.
//
// The first WARMUP_MINUTES minutes are warm-up and left out (runs under 15 minutes: a third of
// the run). "Early" is the first 5 minutes after the warm-up (minutes 6-10 of a 30-minute run),
// "late" the last 5 (shorter runs: the two halves of what is left).
//
//   broker RSS (each minute the mean of readings every 5 s): fails when its least-squares slope
//     exceeds RULE.rss.slopeMiBPerHour, or the late mean exceeds the early mean by more than
//     RULE.rss.growthPct. (Noise seen in 12-minute trials: about ±6 MiB a minute around 365 MiB,
//     so a standard error of the slope near 10 MiB/h over 25 minutes.)
//   V8 heap ($SYS/broker/heap/current: ONE reading a minute, taken anywhere in the GC cycle, so
//     it swings between about 70 and 220 MiB from minute to minute): its slope is reported but
//     not judged (its standard error is about as large as any sensible bound); what is judged is
//     the floor: the lowest late reading may exceed the lowest early one by RULE.heap.floorGrowthPct
//     at most. A leak keeps raising the floor; garbage does not. The lowest of 5 readings still
//     varies by tens of percent, so this is a coarse backstop: the RSS rule is the sensitive one
//     (a heap leak grows the RSS too).
//   event-loop lag p99 ($SYS/broker/eventloop/lag/p99, over each minute): at most
//     RULE.lag.p99MaxMs in every minute (warm-up included), and the late mean at most
//     RULE.lag.growthFactor × the early mean + RULE.lag.growthSlackMs.
// With fewer than MIN_FIT_SAMPLES minutes after the warm-up the trend rules are not judged (a
// trial run proves the pipeline, not the absence of a leak).
//
// Besides, the soak fails on: the broker dying, the idle connections dropping, a load generator
// minute failing, any lost QoS 1 message (load generator or churn clients), any churn error
// (connect, subscribe, session not present, closed by the broker, publish), a missing or
// unexpected will, or an error on the monitoring connection.

export const RULE = {
  warmupMinutes: 5,
  minFitSamples: 5,
  windowMinutes: 5,
  rss: { slopeMiBPerHour: 30, growthPct: 5 },
  heap: { floorGrowthPct: 50 },
  lag: { p99MaxMs: 200, growthFactor: 1.5, growthSlackMs: 10 },
};

/** Least-squares line through (x, y): { slope, intercept }. */
export function linearFit(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  return { slope, intercept: my - slope * mx };
}

const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;

/** Warm-up minutes for a run of `minutes`. */
export function warmupFor(minutes) {
  return minutes >= 3 * RULE.warmupMinutes ? RULE.warmupMinutes : Math.floor(minutes / 3);
}

/**
 * The trend of one series (`key` of each sample) over the minutes after the warm-up:
 * { n, from, slopePerHour, intercept (value at minute 0), early, late (minute ranges),
 *   earlyMean, lateMean, growthPct, earlyMin, lateMin, floorGrowthPct }.
 */
export function trend(samples, key, warm) {
  const pts = samples.filter((s) => s.minute > warm && typeof s[key] === 'number' && Number.isFinite(s[key]));
  if (pts.length < 2) return { n: pts.length };
  const fit = linearFit(
    pts.map((s) => s.minute),
    pts.map((s) => s[key]),
  );
  const w = pts.length >= 2 * RULE.windowMinutes ? RULE.windowMinutes : Math.floor(pts.length / 2);
  const early = pts.slice(0, w).map((s) => s[key]);
  const late = pts.slice(pts.length - w).map((s) => s[key]);
  const earlyMean = mean(early);
  const lateMean = mean(late);
  const earlyMin = Math.min(...early);
  const lateMin = Math.min(...late);
  return {
    n: pts.length,
    from: pts[0].minute,
    to: pts.at(-1).minute,
    slopePerHour: fit.slope * 60,
    intercept: fit.intercept,
    early: [pts[0].minute, pts[w - 1].minute],
    late: [pts[pts.length - w].minute, pts.at(-1).minute],
    earlyMean,
    lateMean,
    growthPct: earlyMean > 0 ? (100 * (lateMean - earlyMean)) / earlyMean : 0,
    earlyMin,
    lateMin,
    floorGrowthPct: earlyMin > 0 ? (100 * (lateMin - earlyMin)) / earlyMin : 0,
  };
}

const pct = (v) => `${v >= 0 ? '+' : ''}${v.toFixed(1)}%`;
const tooShort = (t) => t.n === undefined || t.n < RULE.minFitSamples;
const notJudged = (name, t) => ({ name, pass: null, value: `${t.n ?? 0} minutes after warm-up`, bound: `≥ ${RULE.minFitSamples} minutes needed: not judged` });

function rssCheck(t) {
  const name = 'broker RSS: no growth trend';
  if (tooShort(t)) return notJudged(name, t);
  const b = RULE.rss;
  return {
    name,
    pass: t.slopePerHour <= b.slopeMiBPerHour && t.growthPct <= b.growthPct,
    value:
      `slope ${t.slopePerHour.toFixed(1)} MiB/h over minutes ${t.from}–${t.to}; ` +
      `minutes ${t.late[0]}–${t.late[1]} mean ${t.lateMean.toFixed(1)} MiB vs minutes ${t.early[0]}–${t.early[1]} ${t.earlyMean.toFixed(1)} MiB (${pct(t.growthPct)})`,
    bound: `slope ≤ ${b.slopeMiBPerHour} MiB/h and growth ≤ ${b.growthPct}%`,
  };
}

function heapCheck(t) {
  const name = 'V8 heap: no growth of its floor';
  if (tooShort(t)) return notJudged(name, t);
  const b = RULE.heap;
  return {
    name,
    pass: t.floorGrowthPct <= b.floorGrowthPct,
    value:
      `lowest reading of minutes ${t.late[0]}–${t.late[1]} ${t.lateMin.toFixed(1)} MiB vs minutes ${t.early[0]}–${t.early[1]} ${t.earlyMin.toFixed(1)} MiB (${pct(t.floorGrowthPct)}); ` +
      `not judged: slope ${t.slopePerHour.toFixed(1)} MiB/h, means ${t.lateMean.toFixed(1)} vs ${t.earlyMean.toFixed(1)} MiB`,
    bound: `floor growth ≤ ${b.floorGrowthPct}%`,
  };
}

function lagTrendCheck(t) {
  const name = 'event-loop lag p99: no growth trend';
  if (tooShort(t)) return notJudged(name, t);
  const b = RULE.lag;
  const limit = b.growthFactor * t.earlyMean + b.growthSlackMs;
  return {
    name,
    pass: t.lateMean <= limit,
    value: `minutes ${t.late[0]}–${t.late[1]} mean ${t.lateMean.toFixed(1)} ms vs minutes ${t.early[0]}–${t.early[1]} ${t.earlyMean.toFixed(1)} ms (slope ${t.slopePerHour.toFixed(1)} ms/h)`,
    bound: `late ≤ ${b.growthFactor} × early + ${b.growthSlackMs} ms (${limit.toFixed(1)} ms)`,
  };
}

/**
 * The verdict of a soak run (the raw object bench/soak.mjs writes):
 * { pass, checks: [{ name, pass (true | false | null = not judged), value, bound }], warm, rss, heap }.
 */
export function verdict(raw) {
  const samples = raw.samples ?? [];
  const warm = warmupFor(samples.length);
  const rss = trend(samples, 'rss_mib', warm);
  const heap = trend(samples, 'heap_mib', warm);
  const lag = trend(samples, 'lag_p99_ms', warm);
  const checks = [];
  const add = (name, pass, value, bound) => checks.push({ name, pass, value, bound });

  const f = raw.failure;
  add('broker alive for the whole soak', !raw.brokerDied, raw.brokerDied ? `died: ${raw.brokerDied}` : 'yes', 'no exit');
  if (f) add('soak completed', false, f, 'all minutes run');
  else add('soak completed', samples.length >= (raw.params?.minutes ?? 0), `${samples.length} of ${raw.params?.minutes} minutes`, 'all minutes run');
  add('idle connections held', !raw.idleDropped, raw.idleDropped ? `dropped: ${raw.idleDropped}` : `${raw.params?.idleConns ?? '?'} held`, 'none dropped');

  checks.push(rssCheck(rss));
  if (samples.some((s) => typeof s.heap_mib === 'number')) checks.push(heapCheck(heap));
  else add('V8 heap: no growth of its floor', null, samples.length ? 'not measured ($SYS/broker/heap/current absent)' : 'no samples', 'not judged');

  const lags = samples.map((s) => s.lag_p99_ms).filter((v) => typeof v === 'number');
  if (lags.length) {
    const max = Math.max(...lags);
    const at = samples.find((s) => s.lag_p99_ms === max)?.minute;
    add('event-loop lag p99 (worst minute)', max <= RULE.lag.p99MaxMs, `${max.toFixed(1)} ms (minute ${at})`, `≤ ${RULE.lag.p99MaxMs} ms`);
    checks.push(lagTrendCheck(lag));
  } else add('event-loop lag p99', null, samples.length ? 'not measured ($SYS/broker/eventloop/lag/p99 absent)' : 'no samples', 'not judged');

  const failedMinutes = samples.filter((s) => !s.load?.ok);
  add('load generator minutes', failedMinutes.length === 0, failedMinutes.length ? `${failedMinutes.length} failed (first: minute ${failedMinutes[0].minute}: ${failedMinutes[0].load?.error})` : 'all ran', 'all run');

  const loadLost = samples.reduce((n, s) => n + Math.max(0, s.load?.lost ?? 0), 0);
  const c = raw.churnTotals ?? {};
  const churnLost = (c.lostClean ?? 0) + (c.lostPersistent ?? 0);
  add('lost QoS 1 messages', loadLost + churnLost === 0, `${loadLost} (load generator) + ${c.lostClean ?? 0} (clean churn clients) + ${c.lostPersistent ?? 0} (persistent churn sessions)`, '0');
  add('churn errors', (c.errors ?? 0) === 0, `${c.errors ?? 0}${c.sessionsLost ? ` (${c.sessionsLost} sessions lost)` : ''}`, '0');
  add('wills', (c.willsMissing ?? 0) === 0 && (c.willsUnexpected ?? 0) === 0, `${c.willsReceived ?? 0} received for ${c.abruptCloses ?? 0} abrupt closes; ${c.willsMissing ?? 0} missing, ${c.willsUnexpected ?? 0} unexpected`, 'one per abrupt close, none after DISCONNECT');
  const monitorErrors = raw.monitorErrors?.length ?? 0;
  add('monitoring connection', monitorErrors === 0, monitorErrors ? raw.monitorErrors[0].msg : 'no error', 'no error');

  const pass = checks.every((k) => k.pass !== false);
  return { pass, checks, warm, rss, heap, lag };
}
