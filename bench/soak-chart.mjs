#!/usr/bin/env node
// The chart of a soak run: `node bench/soak-chart.mjs SOAK.json [--out FILE]` reads the raw
// file bench/soak.mjs writes (default bench/soak/soak.json) and writes an SVG (default: beside it,
// soak.svg) with one panel per signal over the soak's minutes: broker RSS and V8 heap (MiB, the
// warm-up shaded and the RSS trend line of the verdict drawn), event-loop lag p50/p99/max (ms),
// and delivered throughput against the target rate (msg/s). Plain SVG, no dependencies;
// bench/soak.mjs draws it at the end of every run.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RULE, verdict } from './lib/soak-verdict.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
const W = 980;
const PLOT_L = 90;
const PLOT_R = W - 30;
const PANEL_H = 190; // plot height
const PANEL_GAP = 78; // title above, axis labels below
const TOP = 96;

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
const text = (x, y, s, attrs = '') => `<text x="${num(x)}" y="${num(y)}" ${attrs}>${esc(s)}</text>`;
const kilo = (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(v % 1e6 ? 1 : 0)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(v % 1e3 ? 1 : 0)}k` : `${+v.toFixed(2)}`);
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

/** A "nice" axis maximum and step for values up to `max` (about five gridlines). */
function niceScale(max) {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  return { top: Math.ceil((max * 1.05) / step) * step, step };
}

/**
 * One panel: `series` = [{ name, color, values (per sample, number | null), dash?, dots? }],
 * `extra(x, y)` returns more SVG drawn on top (trend line, target line).
 */
function panel(out, y0, samples, minutes, { title, unit, series, extra, shade, fmtY = kilo, empty }) {
  const x = (m) => PLOT_L + (m / Math.max(1, minutes)) * (PLOT_R - PLOT_L);
  // a `clip` series does not set the scale: its points above it are drawn as ▲ at the top
  const all = series.filter((s) => !s.clip).flatMap((s) => s.values.filter(isNum));
  const { top, step } = niceScale(Math.max(0, ...all, ...(extra?.maxY ? [extra.maxY] : [])));
  const y = (v) => y0 + PANEL_H - (Math.max(0, v) / top) * PANEL_H;
  out.push(text(PLOT_L, y0 - 30, title, 'font-size="14" font-weight="600" fill="#1a202c"'));
  // legend
  let lx = PLOT_L;
  for (const s of series) {
    out.push(`<line x1="${lx}" y1="${y0 - 13}" x2="${lx + 22}" y2="${y0 - 13}" stroke="${s.color}" stroke-width="2.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    out.push(text(lx + 28, y0 - 9, s.name, 'font-size="11" fill="#2d3748"'));
    lx += 36 + s.name.length * 6.2;
  }
  if (shade > 0) out.push(`<rect x="${PLOT_L}" y="${y0}" width="${num(x(shade) - PLOT_L)}" height="${PANEL_H}" fill="#edf2f7"/>`);
  for (let v = 0; v <= top + step / 2; v += step) {
    out.push(`<line x1="${PLOT_L}" y1="${num(y(v))}" x2="${PLOT_R}" y2="${num(y(v))}" stroke="${v === 0 ? '#a0aec0' : '#e2e8f0'}"/>`);
    out.push(text(PLOT_L - 8, y(v) + 4, fmtY(v), 'text-anchor="end" font-size="11" fill="#4a5568"'));
  }
  out.push(text(PLOT_L - 8, y0 - 9, unit, 'text-anchor="end" font-size="11" fill="#4a5568"'));
  const xStep = minutes <= 10 ? 1 : minutes <= 30 ? 5 : minutes <= 120 ? 10 : 30;
  for (let m = 0; m <= minutes; m += xStep) {
    out.push(`<line x1="${num(x(m))}" y1="${y0 + PANEL_H}" x2="${num(x(m))}" y2="${y0 + PANEL_H + 4}" stroke="#a0aec0"/>`);
    out.push(text(x(m), y0 + PANEL_H + 17, String(m), 'text-anchor="middle" font-size="11" fill="#4a5568"'));
  }
  out.push(text((PLOT_L + PLOT_R) / 2, y0 + PANEL_H + 33, 'minute of the soak', 'text-anchor="middle" font-size="11" fill="#4a5568"'));
  if (!series.some((s) => s.values.some(isNum))) {
    out.push(text((PLOT_L + PLOT_R) / 2, y0 + PANEL_H / 2, empty ?? 'not measured', 'text-anchor="middle" font-style="italic" fill="#718096"'));
  }
  for (const s of series) {
    const pts = samples.map((smp, i) => [smp.minute, s.values[i]]).filter(([, v]) => isNum(v));
    if (!pts.length) continue;
    const yc = (v) => y(Math.min(v, top));
    const d = pts.map(([m, v], i) => `${i ? 'L' : 'M'}${num(x(m))},${num(yc(v))}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.clip ? 1.2 : 2}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    if (s.dots !== false) {
      for (const [m, v] of pts) {
        const tip = `<title>minute ${m}: ${esc(s.name)} ${esc(fmtY(v))} ${esc(unit)}</title>`;
        if (v > top) {
          const cx = x(m);
          out.push(`<path d="M${num(cx - 5)},${num(y0 + 8)} L${num(cx + 5)},${num(y0 + 8)} L${num(cx)},${num(y0)} Z" fill="${s.color}">${tip}</path>`);
        } else out.push(`<circle cx="${num(x(m))}" cy="${num(y(v))}" r="2.8" fill="${s.color}">${tip}</circle>`);
      }
    }
  }
  if (extra) out.push(...extra.draw(x, y));
}

function lagMaxName(samples) {
  const maxes = samples.map((s) => s.lag_max_ms).filter(isNum);
  return maxes.length ? `max (▲: off scale; highest ${Math.max(...maxes).toFixed(0)} ms)` : 'max';
}

/** The SVG text of the chart of one raw soak object; `rawFile` is named in the subtitle. */
export function renderSoakChart(raw, rawFile = '') {
  const samples = raw.samples ?? [];
  const p = raw.params ?? {};
  const m = raw.machine ?? {};
  const v = verdict(raw); // the rule as it is now (bench/soak.mjs stores the same one in raw.verdict)
  const minutes = Math.max(p.minutes ?? 0, samples.at(-1)?.minute ?? 0, 1);
  const H = TOP + 3 * (PANEL_H + PANEL_GAP) + 30;
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${esc(FONT)}" font-size="13">`,
    `<title>Culex soak test: memory, event-loop lag and throughput per minute</title>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    text(20, 30, `Culex soak: ${samples.length} of ${p.minutes ?? '?'} minutes — verdict ${v.pass ? 'PASS' : 'FAIL'}`, `font-size="18" font-weight="600" fill="${v.pass ? '#1a202c' : '#c53030'}"`),
    text(
      20,
      52,
      `${kilo(p.rate ?? 0)} msg/s QoS 1 (100 pairs${raw.peak ? `, ${((100 * (p.rate ?? 0)) / raw.peak.recv_rate).toFixed(0)}% of the ${kilo(raw.peak.recv_rate)} msg/s peak` : ''}) · ` +
        `${(raw.maxConnections ?? p.plannedConnections ?? 0).toLocaleString('en')} connections at once · ${p.churnRate ?? '?'} reconnects/s`,
      'fill="#4a5568"',
    ),
    text(
      20,
      70,
      `${m.date ?? ''} · ${m.nproc ?? '?'} cores (${m.virt ?? '?'}) · culex ${m.culexVersion ?? '?'} (${m.culexRev ?? '?'}) · Node ${m.node ?? '?'}${rawFile ? ` · ${rawFile}` : ''}`,
      'font-size="11" fill="#718096"',
    ),
  );
  const warm = v.warm ?? 0;
  const rss = v.rss ?? {};
  let y0 = TOP + 30;
  panel(out, y0, samples, minutes, {
    title: `Broker memory (RSS: mean of the minute; heap: $SYS/broker/heap/current) — shaded: warm-up (${warm} min)`,
    unit: 'MiB',
    shade: warm,
    fmtY: (n) => `${+n.toFixed(1)}`,
    series: [
      { name: 'RSS', color: '#2b6cb0', values: samples.map((s) => s.rss_mib) },
      { name: 'V8 heap used', color: '#dd6b20', values: samples.map((s) => s.heap_mib) },
      { name: 'RSS trend after warm-up', color: '#1a202c', dash: '6 4', dots: false, values: samples.map(() => null) },
    ],
    extra: isNum(rss.slopePerHour)
      ? {
          draw: (x, y) => {
            const a = rss.from;
            const b = samples.at(-1).minute;
            const at = (mm) => rss.intercept + (rss.slopePerHour / 60) * mm;
            const judged = rss.n >= RULE.minFitSamples ? '' : ' (too few minutes: not judged)';
            return [
              `<line x1="${num(x(a))}" y1="${num(y(at(a)))}" x2="${num(x(b))}" y2="${num(y(at(b)))}" stroke="#1a202c" stroke-width="1.5" stroke-dasharray="6 4"/>`,
              text(x(b) - 4, y(at(b)) - 8, `${rss.slopePerHour >= 0 ? '+' : ''}${rss.slopePerHour.toFixed(1)} MiB/h${judged}`, 'text-anchor="end" font-size="11" fill="#1a202c"'),
            ];
          },
        }
      : undefined,
  });
  y0 += PANEL_H + PANEL_GAP;
  panel(out, y0, samples, minutes, {
    title: 'Broker event-loop lag over each minute ($SYS/broker/eventloop/lag/*)',
    unit: 'ms',
    fmtY: (n) => `${+n.toFixed(2)}`,
    empty: 'not measured: the broker published no $SYS/broker/eventloop/lag topics',
    series: [
      { name: 'p99', color: '#c53030', values: samples.map((s) => s.lag_p99_ms) },
      { name: 'p50', color: '#718096', values: samples.map((s) => s.lag_p50_ms) },
      { name: lagMaxName(samples), color: '#f6ad55', dash: '3 3', clip: true, values: samples.map((s) => s.lag_max_ms) },
    ],
  });
  y0 += PANEL_H + PANEL_GAP;
  const rate = p.rate;
  panel(out, y0, samples, minutes, {
    title: 'Load: QoS 1 messages delivered per second (load generator, each minute) against the target',
    unit: 'msg/s',
    series: [
      { name: 'delivered', color: '#2f855a', values: samples.map((s) => (s.load?.ok ? s.load.recv_rate : null)) },
      { name: `target ${kilo(rate ?? 0)}/s`, color: '#1a202c', dash: '6 4', dots: false, values: samples.map(() => null) },
    ],
    extra: isNum(rate)
      ? {
          maxY: rate,
          draw: (x, y) => [`<line x1="${num(x(0))}" y1="${num(y(rate))}" x2="${num(x(minutes))}" y2="${num(y(rate))}" stroke="#1a202c" stroke-width="1.5" stroke-dasharray="6 4"/>`],
        }
      : undefined,
  });
  out.push(text(20, H - 12, 'Numbers, the verdict rule and caveats: RESULTS.md beside this file.', 'font-size="11" fill="#4a5568"'), '</svg>', '');
  return out.join('\n');
}

function main() {
  const { values, positionals } = parseArgs({ options: { out: { type: 'string' }, help: { type: 'boolean' } }, allowPositionals: true });
  if (values.help || positionals.length > 1) {
    process.stdout.write('usage: node bench/soak-chart.mjs [SOAK.json (default bench/soak/soak.json)] [--out FILE (default: soak.svg beside it)]\n');
    process.exit(values.help ? 0 : 2);
  }
  const file = resolve(positionals[0] ?? join(ROOT, 'bench/soak/soak.json'));
  const raw = JSON.parse(readFileSync(file, 'utf8'));
  const outFile = resolve(values.out ?? join(dirname(file), 'soak.svg'));
  writeFileSync(outFile, renderSoakChart(raw, relative(dirname(outFile), file) || file));
  console.log(`wrote ${relative(process.cwd(), outFile)} from ${relative(process.cwd(), file)}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    console.error(`soak-chart: ${err.message}`);
    process.exit(1);
  }
}
