// The numbers of a socket-fuzz run, as text lines (printed by the test and by `npm run fuzz`).
import { mib } from './broker-probe.js';
import { live, type Reading, type ScenarioReport } from './fuzz-scenario.js';

function reading(r: Reading | undefined): string {
  return r === undefined ? 'n/a' : `RSS ${mib(r.rss)}, heap ${mib(r.heapUsed)}, Buffers ${mib(r.arrayBuffers)}, fds ${r.fds}`;
}

function counts(record: Record<string, number>): string {
  return Object.entries(record)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/**
 * Fuzz packets the broker decoded (it stops reading a connection at its first bad packet,
 * and a reset may beat the data): its packet count less what the good clients sent, which
 * is 3 packets per QoS 1 message (PUBLISH, a PUBACK from each subscriber) and 6 per QoS 2
 * one (PUBLISH, PUBREL, PUBREC and PUBCOMP from each subscriber).
 */
function fuzzDecoded(r: ScenarioReport): string {
  if (r.sysAfter === undefined || r.good === undefined) return '?';
  return String(Math.max(0, r.sysAfter.packetsReceived - 3 * r.good.ackedQos1 - 6 * r.good.ackedQos2));
}

export function summaryLines(r: ScenarioReport): string[] {
  const f = r.fuzz;
  const g = r.good;
  const m = r.memory;
  const rate = f.durationMs > 0 ? Math.round((f.packetsSent / f.durationMs) * 1000) : 0;
  const lines = [
    `seed ${r.seed} (replay: FUZZ_SEED=${r.seed}), persistence ${r.persistence}, ${(r.durationMs / 1000).toFixed(1)} s in all`,
    `fuzz: ${f.packetsSent} packets sent (${f.packetsPlanned} planned), ${mib(f.bytesSent)}, over ${f.connections} connections, ${(f.durationMs / 1000).toFixed(1)} s fuzzing (${rate} packets/s)`,
    `  broker decoded about ${fuzzDecoded(r)} of them (its $SYS messages/received, ${r.sysAfter?.packetsReceived ?? '?'}, less the good clients' share)`,
    `  versions: ${counts(f.versions)}`,
    `  openings: ${counts(f.openings)}`,
    `  packet kinds: ${counts(f.kinds)}`,
    `  closed by the broker first: ${f.closedByBroker}; connect failures ${f.connectFailures}; close timeouts ${f.closeTimeouts}; stalled ${f.stalled}`,
  ];
  if (r.log !== undefined) lines.push(`  broker close reasons: ${counts(r.log.closeReasons)}; error-level log lines ${r.log.errorCount}`);
  if (g !== undefined) {
    lines.push(
      `good clients: ${g.acked} messages acked (QoS 1 ${g.ackedQos1}, QoS 2 ${g.ackedQos2}), delivered ${counts(g.delivered)}; ` +
        `lost ${g.lost}, QoS 2 duplicates ${g.duplicatesQos2}, QoS 1 duplicates ${g.duplicatesQos1}, incidents ${g.incidents.length}`,
    );
  }
  const b = m.baseline;
  const a = m.after;
  lines.push(`broker memory, each reading after a full GC: RSS at startup ${mib(m.startup)} (no GC), peak RSS (VmHWM) ${mib(m.peak)}`);
  lines.push(`  baseline (after the warm-up, ${b?.packetsSent ?? '?'} packets): ${reading(b)}`);
  lines.push(`  after the run: ${reading(a)}`);
  if (a !== undefined && b !== undefined) lines.push(`  after - baseline: RSS ${mib(a.rss - b.rss)}, heap + Buffers ${mib(live(a) - live(b))}, fds ${a.fds - b.fds}`);
  if (m.phases.length > 1) lines.push(`  per phase (packets: RSS / heap + Buffers): ${m.phases.map((p) => `${p.packetsSent}: ${mib(p.rss)} / ${mib(live(p))}`).join(', ')}`);
  if (r.sysAfter !== undefined) lines.push(`broker state after ($SYS): ${JSON.stringify(r.sysAfter)}`);
  lines.push(`broker exit during the run: ${r.exitDuringRun ?? 'none'}; shutdown on SIGTERM: ${r.shutdown ?? 'n/a'}; stderr ${r.stderr.trim() === '' ? 'empty' : 'NOT empty'}`);
  lines.push(r.failures.length === 0 ? 'result: PASS' : `result: FAIL\n  ${r.failures.join('\n  ')}`);
  return lines;
}
