#!/usr/bin/env node
// The ratio chart of a benchmark run: `node bench/chart.mjs [RAW.json] [--out FILE]` reads a
// raw results file (default: the newest in bench/results/) and writes bench/results.svg, one
// group per table row with two horizontal bars, culex ÷ mosquitto and culex ÷ aedes, on a log
// scale starting at 1.0 (> 1: Culex is better; latency and memory rows are inverted as in the
// table), with the 1.5× target against mosquitto marked. Plain SVG, no dependencies.
// `npm run bench` and `node bench/run.mjs --render FILE` redraw it after RESULTS.md.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cellValue, GEN_BOUND_PCT, ratioValue } from './lib/report.mjs';
import { scenarios } from './lib/scenarios.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the chart goes, relative to the repository root. */
export const CHART_FILE = 'bench/results.svg';
const TARGET = 1.5; // the performance issue's target against mosquitto

const SERIES = [
  { broker: 'mosquitto', color: '#2b6cb0' },
  { broker: 'aedes', color: '#dd6b20' },
];
const TICKS = [0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200]; // 1.5: the target line
const MIN_X = 0.02;
const MAX_X = 200;

const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
const W = 980;
const LABEL_W = 220; // row labels, left of the plot
const PLOT_L = LABEL_W + 60; // room for the value labels of bars below 1
const PLOT_R = W - 80; // room for the value labels of bars above 1
const BAR_H = 13;
const BAR_GAP = 3;
const GROUP_H = 2 * BAR_H + BAR_GAP + 14;

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const plain = (label) => label.replace(/`/g, '');
const num = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(1));

function text(x, y, s, attrs = '') {
  return `<text x="${num(x)}" y="${num(y)}" ${attrs}>${esc(s)}</text>`;
}

function fmtRatio(r) {
  if (r >= 100) return `${r.toFixed(0)}×`;
  if (r >= 10) return `${r.toFixed(1)}×`;
  return `${r.toFixed(2)}×`;
}

/** The rows to draw: per table row, the two ratios and what to say when one is missing. */
function chartRows(raw) {
  const ids = raw.options?.scenarioIds ?? [];
  const list = scenarios(raw.options ?? {}).filter((s) => ids.includes(s.id));
  const rows = [];
  for (const sc of list) {
    for (const row of sc.rows) {
      const cell = (b) => cellValue(row, raw.results?.[b]?.[sc.id]);
      const culex = cell('culex');
      rows.push({
        label: row.short ?? plain(row.label),
        detail: `${sc.id}, ${row.unit}${row.better === 'lower' ? ' (lower is better: inverted)' : ''}`,
        bars: SERIES.map((s) => {
          const other = cell(s.broker);
          const r = ratioValue(row, culex.v, other.v);
          const genBound = [culex, other].some((c) => c.text.includes('generator-bound'));
          const why = culex.v === undefined ? `culex ${culex.text}` : `${s.broker} ${other.text}`;
          return { ...s, r, genBound, missing: r === undefined ? why : null };
        }),
      });
    }
  }
  return rows;
}

/** The SVG text of the chart of one raw results object; `rawFile` is named in the subtitle. */
export function renderChart(raw, rawFile = '') {
  const rows = chartRows(raw);
  const all = rows.flatMap((r) => r.bars.map((b) => b.r)).filter((r) => r !== undefined);
  const lo = Math.max(MIN_X, TICKS.filter((t) => t <= Math.min(0.5, ...all.map((r) => r / 1.15))).pop() ?? MIN_X);
  const hi = Math.min(MAX_X, TICKS.find((t) => t >= Math.max(2, ...all.map((r) => r * 1.15))) ?? MAX_X);
  const x = (r) => PLOT_L + ((Math.log(Math.min(hi, Math.max(lo, r))) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * (PLOT_R - PLOT_L);

  const m = raw.machine ?? {};
  const v = m.versions ?? {};
  const top = 136;
  const plotH = rows.length * GROUP_H;
  const H = top + plotH + 80;
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${esc(FONT)}" font-size="13">`,
    `<title>Culex ÷ mosquitto and Culex ÷ aedes per benchmark row</title>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    text(20, 30, 'Culex against mosquitto and aedes: ratio per benchmark row', 'font-size="18" font-weight="600" fill="#1a202c"'),
    text(
      20,
      52,
      '> 1 means Culex is better: culex ÷ other for throughput, other ÷ culex for latency and memory. Log scale, bars start at 1.',
      'fill="#4a5568"',
    ),
    text(
      20,
      72,
      `${m.date ?? ''} · ${m.nproc ?? '?'} cores (${m.virt ?? '?'}) · culex ${v.culex ?? '?'}, mosquitto ${v.mosquitto ?? '?'}, aedes ${v.aedes ?? '?'}` +
        `${rawFile ? ` · ${rawFile}` : ''}${raw.options?.quick ? ' · QUICK RUN' : ''}`,
      'font-size="11" fill="#718096"',
    ),
  );
  // legend
  let lx = 20;
  for (const s of SERIES) {
    out.push(`<rect x="${lx}" y="86" width="14" height="14" fill="${s.color}"/>`);
    out.push(text(lx + 20, 98, `culex ÷ ${s.broker}`, 'fill="#1a202c"'));
    lx += 170;
  }
  out.push(`<line x1="${lx}" y1="93" x2="${lx + 24}" y2="93" stroke="#c53030" stroke-width="2" stroke-dasharray="6 4"/>`);
  out.push(text(lx + 30, 98, `target: ${TARGET}× mosquitto`, 'fill="#1a202c"'));

  // grid and axis
  const yAxis = top + plotH + 8;
  for (const t of TICKS.filter((t) => t >= lo && t <= hi)) {
    const tx = x(t);
    if (t !== 1) out.push(`<line x1="${num(tx)}" y1="${top - 6}" x2="${num(tx)}" y2="${yAxis}" stroke="#e2e8f0"/>`);
    out.push(text(tx, yAxis + 16, `${t}×`, 'text-anchor="middle" font-size="11" fill="#4a5568"'));
  }
  out.push(`<line x1="${PLOT_L}" y1="${yAxis}" x2="${PLOT_R}" y2="${yAxis}" stroke="#a0aec0"/>`);
  out.push(text((PLOT_L + PLOT_R) / 2, yAxis + 34, 'ratio (log scale)', 'text-anchor="middle" font-size="11" fill="#4a5568"'));

  // rows: bars now, their value labels after the reference lines (so that no line crosses them)
  const labels = [];
  const halo = 'stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"';
  rows.forEach((row, i) => {
    const gy = top + i * GROUP_H;
    if (i % 2 === 0) out.push(`<rect x="10" y="${gy - 4}" width="${W - 20}" height="${GROUP_H}" fill="#f7fafc"/>`);
    out.push(text(20, gy + BAR_H, row.label, 'font-weight="600" fill="#1a202c"'));
    out.push(text(20, gy + 2 * BAR_H + BAR_GAP, row.detail, 'font-size="10" fill="#718096"'));
    row.bars.forEach((b, k) => {
      const by = gy + k * (BAR_H + BAR_GAP);
      const mid = by + BAR_H / 2 + 4;
      if (b.r === undefined) {
        labels.push(text(x(1) + 6, mid, `no ratio: ${b.missing}`, `font-size="11" font-style="italic" fill="#718096" ${halo}`));
        return;
      }
      const x0 = x(1);
      const x1 = x(b.r);
      const capped = b.r > hi || b.r < lo;
      out.push(
        `<rect x="${num(Math.min(x0, x1))}" y="${by}" width="${num(Math.max(1, Math.abs(x1 - x0)))}" height="${BAR_H}" fill="${b.color}">` +
          `<title>culex ÷ ${esc(b.broker)}: ${esc(fmtRatio(b.r))}</title></rect>`,
      );
      const label = `${fmtRatio(b.r)}${capped ? ' (off scale)' : ''}${b.genBound ? ' ⚠' : ''}`;
      const above = b.r >= 1;
      labels.push(text(above ? x1 + 5 : x1 - 5, mid, label, `text-anchor="${above ? 'start' : 'end'}" font-size="11" fill="#1a202c" ${halo}`));
    });
  });

  // reference lines on top of the bars
  out.push(`<line x1="${num(x(1))}" y1="${top - 8}" x2="${num(x(1))}" y2="${yAxis}" stroke="#1a202c" stroke-width="1.5"/>`);
  out.push(text(x(1), top - 12, 'parity', 'text-anchor="middle" font-size="11" fill="#1a202c"'));
  out.push(
    `<line x1="${num(x(TARGET))}" y1="${top - 8}" x2="${num(x(TARGET))}" y2="${yAxis}" stroke="#c53030" stroke-width="2" stroke-dasharray="6 4"/>`,
  );
  out.push(text(x(TARGET) + 4, top - 12, `target ${TARGET}×`, 'font-size="11" fill="#c53030"'));
  out.push(...labels);

  const genNote = rows.some((r) => r.bars.some((b) => b.genBound))
    ? `⚠ the load generator was above ${GEN_BOUND_PCT}% CPU for one of the two brokers: that broker may be faster than measured. `
    : '';
  out.push(
    text(20, H - 16, `${genNote}Numbers and caveats: bench/RESULTS.md.`, 'font-size="11" fill="#4a5568"'),
    '</svg>',
    '',
  );
  return out.join('\n');
}

/** The newest raw results file in bench/results/ (names are UTC time stamps). */
export function newestRawFile() {
  const dir = join(ROOT, 'bench/results');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (!files.length) throw new Error(`no raw results in ${relative(ROOT, dir)}/`);
  return join(dir, files[files.length - 1]);
}

function main() {
  const { values, positionals } = parseArgs({
    options: { out: { type: 'string' }, help: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (values.help || positionals.length > 1) {
    process.stdout.write('usage: node bench/chart.mjs [RAW.json (default: newest in bench/results/)] [--out FILE (default bench/results.svg)]\n');
    process.exit(values.help ? 0 : 2);
  }
  const file = positionals[0] ? resolve(positionals[0]) : newestRawFile();
  const raw = JSON.parse(readFileSync(file, 'utf8'));
  const outFile = resolve(values.out ?? join(ROOT, CHART_FILE));
  writeFileSync(outFile, renderChart(raw, relative(ROOT, file)));
  console.log(`wrote ${relative(process.cwd(), outFile)} from ${relative(process.cwd(), file)}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    console.error(`chart: ${err.message}`);
    process.exit(1);
  }
}
