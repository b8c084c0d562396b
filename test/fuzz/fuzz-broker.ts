// The broker under fuzz: the real `culex` CLI as a child process (startCliBroker), so a crash
// is an exit and an unhandled rejection is an exit with a stack trace on stderr, with an
// inspector on a free loopback port for the memory readings (inspector-probe.ts).
import { startCliBroker, type CliBroker } from '../interop/support.js';

/** Retained messages kept at most: fuzz clients retain on random topics, and this bounds it. */
export const MAX_RETAINED = 1000;

/**
 * The broker's configuration. Fuzz clients leave state behind that a correct broker keeps
 * (persistent sessions, retained messages); these settings bound it, so that memory which
 * does not come back is a leak and not state the broker was asked to keep.
 */
const FUZZ_CONFIG: Record<string, string | number | boolean> = {
  allow_anonymous: true,
  sys_interval: 1, // the $SYS watcher sees clients, sessions and subscriptions within a second
  max_retained_messages: MAX_RETAINED,
  persistent_client_expiration: 1, // 3.1/3.1.1 sessions (clean session 0) end 1 s after their connection
  max_session_expiry_interval: 1, // and 5.0 ones, whatever Session Expiry Interval they ask for
  auth_failure_delay: 0, // one failed login would slow down every later connection from 127.0.0.1 (all of them)
};

export function brokerConfig(overrides: Record<string, string | number | boolean> = {}): string {
  return Object.entries({ ...FUZZ_CONFIG, ...overrides })
    .map(([key, value]) => `${key}: ${String(value)}\n`)
    .join('');
}

export function startFuzzBroker(persistence: 'memory' | 'sqlite', overrides: Record<string, string | number | boolean> = {}): Promise<CliBroker> {
  // startCliBroker spawns `node bin/culex.js` synchronously, with this process's environment:
  // NODE_OPTIONS set around that call reaches the broker and nothing else
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = [saved, '--inspect=127.0.0.1:0'].filter((o) => o !== undefined && o !== '').join(' ');
  try {
    return startCliBroker({ config: brokerConfig(overrides), extraArgs: ['--persistence', persistence] });
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
}
