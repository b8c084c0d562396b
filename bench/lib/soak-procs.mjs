// Process plumbing for the soak test (bench/soak.mjs): pinned spawns with the open-files limit
// raised, /proc readers for the broker, and stopping by pid. Free ports, the load generator's
// build and output tails are the bench's own (procs.mjs).
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildLoadgen, freePort, tail, tryConnect } from './procs.mjs';

export { buildLoadgen, freePort, tail };

export function commandOutput(cmd, args, opts = {}) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts }).trim();
  } catch {
    return null;
  }
}

/** The hard open-files limit a child can raise its soft limit to (Infinity when unlimited). */
export function hardFdLimit() {
  const out = commandOutput('bash', ['-c', 'ulimit -Hn']);
  if (out === 'unlimited') return Infinity;
  const n = Number(out);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`cannot read the hard open-files limit (ulimit -Hn: ${out})`);
  return n;
}

/**
 * Spawn `cmd args` pinned to `core` with taskset, the soft open-files limit raised to the hard
 * one. `exec` keeps the pid: the child's pid is the program's own.
 */
export function spawnPinned(core, cmd, args, opts = {}) {
  const script = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec taskset -c "$0" "$@"';
  return spawn('bash', ['-c', script, String(core), cmd, ...args.map(String)], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

export const alive = (child) => child !== undefined && child.exitCode === null && child.signalCode === null;

/** A child's exit as a promise of { code, signal } (already resolved if it is gone). */
export function exited(child) {
  if (!alive(child)) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** SIGTERM the child by pid, SIGKILL after `graceMs`; resolves when it has exited. */
export async function stopChild(child, graceMs = 3000) {
  if (!alive(child)) return;
  const done = exited(child);
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const t = setTimeout(() => killNow(child), graceMs);
  await done;
  clearTimeout(t);
}

/** SIGKILL by pid, synchronously (usable from a process 'exit' handler). */
export function killNow(child) {
  if (!alive(child)) return;
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/**
 * Run the load generator pinned to `core`. Returns { child, result }: `result` resolves with its
 * JSON report, or { ok: false, error } on a crash, a timeout or unreadable output.
 */
export function runLoadgen(core, bin, args, timeoutMs) {
  const child = spawnPinned(core, bin, args);
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c) => (out += c));
  const err = tail(child.stderr);
  const timer = setTimeout(() => killNow(child), timeoutMs);
  const result = exited(child).then(({ code, signal }) => {
    clearTimeout(timer);
    const line = out.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(line);
    } catch {
      const why = signal === 'SIGKILL' ? `killed (timeout ${timeoutMs / 1000} s or shutdown)` : `exit ${code ?? signal}`;
      return { ok: false, error: `loadgen ${why}: ${(err.text || line).trim().slice(-300)}` };
    }
  });
  return { child, result };
}

/** Poll until something accepts on host:port, the child exits, or the deadline passes. */
export async function waitForPort(child, port, host, deadlineMs) {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (!alive(child)) return `exited (${child.exitCode ?? child.signalCode}) before listening`;
    if (await tryConnect(port, host)) return null;
    await sleep(50);
  }
  return `not listening on ${host}:${port} after ${deadlineMs / 1000} s`;
}

// ---- /proc readers ----

/** VmRSS and VmHWM of a process in KiB, or null when it is gone. */
export function procMemory(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key) => Number(s.match(new RegExp(`^${key}:\\s+(\\d+)`, 'm'))?.[1] ?? NaN);
    return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
  } catch {
    return null;
  }
}

let clkTck;
/** User + system CPU seconds of a process, or null when it is gone. */
export function procCpuSeconds(pid) {
  clkTck ??= Number(commandOutput('getconf', ['CLK_TCK'])) || 100;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return (Number(f[11]) + Number(f[12])) / clkTck; // fields 14 (utime) and 15 (stime)
  } catch {
    return null;
  }
}

/** Open file descriptors of a process, or null when it is gone. */
export function procFdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** The machine, for the report. */
export function machineInfo(root) {
  const cpu = (() => {
    try {
      return readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m)?.[1] ?? 'unknown';
    } catch {
      return 'unknown';
    }
  })();
  const rev = commandOutput('git', ['-C', root, 'rev-parse', '--short', 'HEAD']);
  const dirty = commandOutput('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no', '--', 'src']);
  return {
    date: new Date().toISOString(),
    cpu,
    nproc: Number(commandOutput('nproc', [])) || null,
    kernel: commandOutput('uname', ['-sr']),
    virt: commandOutput('systemd-detect-virt', []) ?? 'unknown',
    memTotalMiB: (() => {
      try {
        return Math.round(Number(readFileSync('/proc/meminfo', 'utf8').match(/^MemTotal:\s+(\d+)/m)?.[1]) / 1024);
      } catch {
        return null;
      }
    })(),
    node: process.version,
    culexRev: rev ? `${rev}${dirty ? ' (src/ modified)' : ''}` : 'unknown',
    culexVersion: (() => {
      try {
        return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
      } catch {
        return 'unknown';
      }
    })(),
  };
}
