// Process helpers for the benchmark runner: free ports, pinned spawns, readiness polling.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

// Ports the bench must never use, even if the kernel hands them out.
const FORBIDDEN_PORTS = new Set([1883, 8883, 8080, 8083]);

export async function freePort() {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address();
        srv.close(() => resolve(p));
      });
    });
    if (!FORBIDDEN_PORTS.has(port)) return port;
  }
}

/**
 * Spawn `cmd args` pinned to `core` with `taskset`, with the open-files limit raised to the
 * hard limit. `exec` keeps the pid: the returned child's pid is the program's own pid.
 */
export function spawnPinned(core, cmd, args, opts = {}) {
  const script = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec taskset -c "$0" "$@"';
  return spawn('bash', ['-c', script, String(core), cmd, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...opts,
  });
}

/** Keeps the last `max` characters of a stream, for error messages. */
export function tail(stream, max = 4000) {
  const t = { text: '' };
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    t.text = (t.text + chunk).slice(-max);
  });
  return t;
}

/** True when something accepts a TCP connection on host:port (within 0.5 s). */
export function tryConnect(port, host) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(500, () => done(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll until something accepts on host:port, the child exits, or the deadline passes. */
export async function waitForPort(child, port, host, deadlineMs) {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (child.exitCode !== null || child.signalCode !== null) {
      return { ok: false, reason: `exited (${child.exitCode ?? child.signalCode}) before listening` };
    }
    if (await tryConnect(port, host)) return { ok: true };
    await sleep(50);
  }
  return { ok: false, reason: `not listening on ${host}:${port} after ${deadlineMs / 1000} s` };
}

/** SIGTERM the child by pid, then SIGKILL if it has not exited within `graceMs`. */
export async function stopChild(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, graceMs);
  await exited;
  clearTimeout(t);
}

/** Run the load generator pinned to `core`; resolves with its JSON report. */
export function runPinnedJson(core, cmd, args, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawnPinned(core, cmd, args);
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c) => (out += c));
    const err = tail(child.stderr);
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line));
      } catch {
        const why = signal === 'SIGKILL' ? `timed out after ${timeoutMs / 1000} s` : `exit ${code ?? signal}`;
        resolve({ ok: false, error: `loadgen ${why}: ${(err.text || line).trim().slice(-300)}` });
      }
    });
  });
}

export function commandOutput(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    return `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || null;
  }
}

/**
 * Builds the C load generator (bench/loadgen: loadgen.c + transport.c, OpenSSL for tls/wss)
 * into `tmp`, unless the binary there is newer than every source; returns its path. One
 * build rule for the bench, the profiles and the soak.
 */
export function buildLoadgen(root, tmp) {
  mkdirSync(tmp, { recursive: true });
  const dir = join(root, 'bench/loadgen');
  const sources = ['loadgen.c', 'transport.c'].map((f) => join(dir, f));
  const bin = join(tmp, 'loadgen');
  let fresh = false;
  try {
    const built = statSync(bin).mtimeMs;
    fresh = [...sources, join(dir, 'transport.h')].every((f) => built > statSync(f).mtimeMs);
  } catch {
    fresh = false;
  }
  if (!fresh) execFileSync('gcc', ['-O2', '-Wall', '-o', bin, ...sources, '-lssl', '-lcrypto'], { stdio: 'inherit' });
  return bin;
}
