// Sessions kept in process memory: they survive reconnects, not restarts.
import type { SessionStore } from '../../core/ports.js';
import type { SessionState } from '../../core/session-state.js';

export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, SessionState>();

  get(clientId: string): SessionState | undefined {
    return this.#sessions.get(clientId);
  }

  set(state: SessionState): void {
    this.#sessions.set(state.clientId, state);
  }

  delete(clientId: string): void {
    this.#sessions.delete(clientId);
  }

  all(): Iterable<SessionState> {
    return this.#sessions.values();
  }

  get size(): number {
    return this.#sessions.size;
  }
}
