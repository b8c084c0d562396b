// Helpers for the interoperability suites: the real `culex` CLI as a child process, and
// external tools (mosquitto_pub/sub, Debian's python3) run with deadlines. Every child is
// tracked so a suite's `after` can kill what it started, by pid, even after a failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/wait-for.js';

/** The repository root (this file runs from dist/test/interop/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(REPO_ROOT, 'bin', 'culex.js');

/** Where to get each external tool, for the failure message when it is missing. */
const HOW_TO_GET: Record<string, string> = {
  mosquitto_pub: 'apt-get install mosquitto-clients, or run npm run test:all',
  mosquitto_sub: 'apt-get install mosquitto-clients, or run npm run test:all',
  stdbuf: 'apt-get install coreutils',
  '/usr/bin/python3': 'apt-get install python3 python3-paho-mqtt, or run npm run test:all',
};

/** Fails (never skips) when an external tool is missing, saying how to get it. */
export function requireTool(name: string): string {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // try the next PATH entry
    }
  }
  throw new Error(`${name} not found: ${HOW_TO_GET[name] ?? 'install it'}`);
}

/** A child process with its output collected as it arrives. */
export class Child {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  spawnError: Error | undefined;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}) {
    const stdin = options.input === undefined ? 'ignore' : 'pipe';
    this.proc = spawn(command, args, { cwd: options.cwd ?? REPO_ROOT, env: options.env ?? process.env, stdio: [stdin, 'pipe', 'pipe'] });
    if (options.input !== undefined) {
      this.proc.stdin?.on('error', () => undefined);
      this.proc.stdin?.end(options.input);
    }
    this.proc.stdout?.setEncoding('utf8').on('data', (s: string) => (this.stdout += s));
    this.proc.stderr?.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve, reject) => {
      this.proc.once('error', (err) => {
        this.spawnError = err;
        this.exit = { code: null, signal: null };
        reject(err);
      });
      this.proc.once('close', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    this.exited.catch(() => undefined);
    running.add(this);
    void this.exited.finally(() => running.delete(this)).catch(() => undefined);
  }

  get stdoutLines(): string[] {
    return this.stdout.split('\n').filter((l) => l.length > 0);
  }

  /** Sends a signal to this child only (by its pid), if it still runs. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.exit === undefined && this.proc.pid !== undefined) {
      try {
        process.kill(this.proc.pid, signal);
      } catch {
        // already gone
      }
    }
  }

  /** Waits for the exit; kills the child (SIGKILL) and fails if it takes longer than timeoutMs. */
  async waitExit(timeoutMs: number, what = 'the process to exit'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    try {
      await waitFor(() => this.exit !== undefined, { timeoutMs, message: () => `${what}; stdout: ${this.stdout} stderr: ${this.stderr}` });
    } catch (err) {
      this.kill('SIGKILL');
      throw err;
    }
    if (this.spawnError !== undefined) throw this.spawnError;
    return this.exit as { code: number | null; signal: NodeJS.Signals | null };
  }

  describe(): string {
    return `exit ${JSON.stringify(this.exit)}\n--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`;
  }
}

const running = new Set<Child>();

/** Kills (SIGKILL, by pid) every child started through this module that still runs. */
export async function killAllChildren(): Promise<void> {
  const children = [...running];
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited.catch(() => undefined)));
}

/** Runs a command to completion within timeoutMs (killed and failed otherwise). */
export async function run(command: string, args: readonly string[], timeoutMs = 10_000, input?: string): Promise<Child> {
  const child = new Child(command, args, input === undefined ? {} : { input });
  await child.waitExit(timeoutMs, `${command} ${args.join(' ')} to exit`);
  return child;
}

export function tempDir(prefix = 'culex-interop-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface CliBroker {
  readonly child: Child;
  readonly port: number;
  readonly dir: string;
  readonly dataDir: string;
  /** The JSON log lines printed so far. */
  logs(): Record<string, unknown>[];
  /** SIGTERM, then waits for the exit; returns it. */
  stop(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Kills the process if it still runs and removes its temp dir (for `after`). */
  dispose(): Promise<void>;
}

export function parseLogLines(stdout: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial line still being written
    }
  }
  return out;
}

/**
 * Starts `node bin/culex.js --port 0 --host 127.0.0.1 --data <tmp>/data` (plus a config file
 * when `config` is given, and `extraArgs`) and waits for its "listening" line.
 */
export async function startCliBroker(options: { config?: string; extraArgs?: string[]; logLevel?: string } = {}): Promise<CliBroker> {
  const dir = tempDir();
  const dataDir = join(dir, 'data');
  const args = [CLI, '--port', '0', '--host', '127.0.0.1', '--http-port', '0', '--data', dataDir, '--log-level', options.logLevel ?? 'info'];
  if (options.config !== undefined) {
    const file = join(dir, 'culex.yaml');
    writeFileSync(file, options.config);
    args.push('--config', file);
  }
  args.push(...(options.extraArgs ?? []));
  const child = new Child(process.execPath, args);
  const logs = (): Record<string, unknown>[] => parseLogLines(child.stdout);
  let port = 0;
  try {
    await waitFor(
      () => {
        if (child.exit !== undefined) throw new Error(`culex exited before listening: ${child.describe()}`);
        const line = logs().find((l) => l.msg === 'listening');
        if (line === undefined) return false;
        port = Number(line.port);
        return true;
      },
      { timeoutMs: 10_000, message: () => `culex to print its listening line; ${child.describe()}` },
    );
  } catch (err) {
    child.kill('SIGKILL');
    removeDir(dir);
    throw err;
  }
  return {
    child,
    port,
    dir,
    dataDir,
    logs,
    async stop(timeoutMs = 5000) {
      child.kill('SIGTERM');
      return child.waitExit(timeoutMs, 'culex to exit after SIGTERM');
    },
    async dispose() {
      child.kill('SIGKILL');
      await child.exited.catch(() => undefined);
      removeDir(dir);
    },
  };
}

/** A unique topic prefix per test, so tests sharing a broker never see each other's messages. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}/${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Starts `mosquitto_sub -d <args>` line-buffered through stdbuf (its -d lines go through
 * stdio, fully buffered on a pipe) and resolves once its SUBACK arrived ("Subscribed
 * (mid: ...)"), so publishing after that cannot race the subscription.
 */
export async function startMosquittoSub(stdbufPath: string, subPath: string, args: readonly string[]): Promise<Child> {
  const child = new Child(stdbufPath, ['-oL', subPath, '-d', ...args]);
  await waitFor(
    () => {
      if (child.exit !== undefined) throw new Error(`mosquitto_sub exited early: ${child.describe()}`);
      return /Subscribed \(mid: \d+\)/.test(child.stdout);
    },
    { timeoutMs: 5000, message: () => `mosquitto_sub to subscribe; ${child.describe()}` },
  );
  return child;
}

/** Runs mosquitto_pub to completion; throws unless it exited 0. */
export async function runMosquittoPub(pubPath: string, args: readonly string[], input?: string): Promise<void> {
  const child = await run(pubPath, args, 10_000, input);
  if (child.exit?.code !== 0) throw new Error(`mosquitto_pub ${args.join(' ')} failed: ${child.describe()}`);
}

/** Children still running when the test process exits are killed (by pid), so none outlives a failed run. */
const exitKills = new Set<Child>();
let exitHookInstalled = false;
export function killOnExit(child: Child): void {
  exitKills.add(child);
  void child.exited.finally(() => exitKills.delete(child)).catch(() => undefined);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of exitKills) c.kill('SIGKILL');
    });
  }
}
