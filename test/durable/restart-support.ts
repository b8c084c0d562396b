// In-process restarts of a broker on one SQLite file: boot() opens the file and starts a
// broker on it; crash() drops the broker the way kill -9 would (the file handle goes first,
// so nothing not yet committed reaches it); stop() is a clean shutdown.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type SqliteDatabase } from '../../src/adapters/sqlite/database.js';
import { SqliteDurableStore } from '../../src/adapters/sqlite/durable-store.js';
import type { CreateBrokerOptions } from '../../src/app/create-broker.js';
import type { DurableStore } from '../../src/core/ports.js';
import { memoryBroker, type BrokerFixture } from '../helpers/broker-fixture.js';
import { FakeClock } from '../helpers/fake-clock.js';

export interface Node extends BrokerFixture {
  db: SqliteDatabase;
  store: SqliteDurableStore;
  /** Simulates kill -9: the database handle is closed first, then everything is dropped. */
  crash(): Promise<void>;
  /** Rows of a table, for asserting what is (not) stored. */
  count(table: string): number;
}

export class Restarts {
  readonly dir = mkdtempSync(join(tmpdir(), 'culex-durable-'));
  readonly clock = new FakeClock();
  readonly #open: Node[] = [];

  /** A broker on the data directory, restoring what the file holds. */
  boot(options: CreateBrokerOptions = {}, wrap?: (store: SqliteDurableStore) => DurableStore): Node {
    const db = openDatabase(this.dir);
    const store = new SqliteDurableStore(db);
    const fixture = memoryBroker({ clock: this.clock, durable: wrap?.(store) ?? store, ...options });
    let dead = false;
    const node: Node = {
      ...fixture,
      db,
      store,
      async crash() {
        if (dead) return;
        dead = true;
        db.close();
        await fixture.close();
      },
      async close() {
        if (dead) return;
        dead = true;
        await fixture.close();
        db.close();
      },
      count(table: string) {
        return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
      },
    };
    this.#open.push(node);
    return node;
  }

  async cleanup(): Promise<void> {
    for (const node of this.#open) await node.crash();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Lets the broker's end-of-turn commit and flush run. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
