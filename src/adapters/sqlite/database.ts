// The embedded SQLite file, <data dir>/culex.db: one connection per process, WAL mode so a
// second process (the `culex tokens` CLI) can write while the broker reads, and a tiny
// forward-only migration table so each store (API tokens now, durable sessions later) owns
// and evolves its own tables.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export type SqliteDatabase = Database.Database;
export type SqliteStatement = Database.Statement;

/** The database file inside the data directory. */
export const DATABASE_FILE = 'culex.db';

/**
 * How long a statement waits for another connection's write lock before failing with
 * SQLITE_BUSY. Writes here are tiny (a token row), so 5 s is generous.
 */
const BUSY_TIMEOUT_MS = 5000;

export type DatabaseErrorCode =
  /** The file (or its directory) could not be created or opened, or is not a SQLite database. */
  | 'DATABASE_OPEN_FAILED'
  /** `mustExist` was set and there is no database file. */
  | 'DATABASE_NOT_FOUND'
  /** A migration failed; nothing of it was kept (each runs in a transaction). */
  | 'DATABASE_MIGRATION_FAILED'
  /** The file was migrated by a newer Culex: this version does not know its schema. */
  | 'DATABASE_TOO_NEW';

export class DatabaseError extends Error {
  readonly code: DatabaseErrorCode;
  readonly file: string;
  constructor(code: DatabaseErrorCode, file: string, message: string, cause?: unknown) {
    super(`${file}: ${message}`, cause === undefined ? undefined : { cause });
    this.name = 'DatabaseError';
    this.code = code;
    this.file = file;
  }
}

export interface OpenDatabaseOptions {
  /** Fail with DATABASE_NOT_FOUND instead of creating the directory and file. Default false. */
  mustExist?: boolean;
}

/**
 * Opens (creating if needed) `<dataDir>/culex.db`. The caller owns the connection and
 * closes it. Throws DatabaseError (DATABASE_OPEN_FAILED / DATABASE_NOT_FOUND).
 */
export function openDatabase(dataDir: string, options: OpenDatabaseOptions = {}): SqliteDatabase {
  const file = join(dataDir, DATABASE_FILE);
  const mustExist = options.mustExist ?? false;
  if (mustExist) {
    if (!existsSync(file)) throw new DatabaseError('DATABASE_NOT_FOUND', file, 'no database file here');
  } else {
    try {
      mkdirSync(dataDir, { recursive: true });
    } catch (err) {
      throw new DatabaseError('DATABASE_OPEN_FAILED', file, `cannot create the data directory: ${(err as Error).message}`, err);
    }
  }
  let db: SqliteDatabase;
  try {
    db = new Database(file, { fileMustExist: mustExist, timeout: BUSY_TIMEOUT_MS });
  } catch (err) {
    throw new DatabaseError('DATABASE_OPEN_FAILED', file, `cannot open: ${(err as Error).message}`, err);
  }
  try {
    // WAL: readers never block the writer and see every transaction committed before they
    // start, so a token written by the CLI counts at the broker's next CONNECT. WAL needs
    // a local file system (shared memory); the data directory must not be on NFS/SMB.
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (typeof mode !== 'string' || mode.toLowerCase() !== 'wal') {
      throw new Error(`could not switch to WAL mode (journal_mode is ${String(mode)})`);
    }
    // NORMAL is durable against process crashes in WAL mode (only a power loss may drop
    // the last transactions), and avoids an fsync per write.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // Touches the schema: a file that is not a database fails here rather than later.
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
  } catch (err) {
    db.close();
    throw new DatabaseError('DATABASE_OPEN_FAILED', file, `cannot use: ${(err as Error).message}`, err);
  }
  return db;
}

/** One schema step. Shipped steps are never edited or removed: add a new one instead. */
export interface Migration {
  /** A short description, stored for people reading the table. */
  name: string;
  /** SQL (may hold several statements) or a function for data changes. */
  up: string | ((db: SqliteDatabase) => void);
}

/**
 * Brings one store's tables up to date. `scope` names the store ("tokens", "sessions");
 * its steps are numbered by their position (1, 2, ...), so a scope's history is append-only.
 * Each pending step runs in its own IMMEDIATE transaction, re-checked inside it, so two
 * processes opening the file at once (broker and CLI) apply each step exactly once.
 * Throws DatabaseError (DATABASE_MIGRATION_FAILED / DATABASE_TOO_NEW).
 */
export function migrate(db: SqliteDatabase, scope: string, steps: readonly Migration[]): void {
  const file = db.name;
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      scope      TEXT    NOT NULL,
      version    INTEGER NOT NULL,
      name       TEXT    NOT NULL,
      applied_at INTEGER NOT NULL,
      PRIMARY KEY (scope, version)
    ) STRICT`);
  } catch (err) {
    throw new DatabaseError('DATABASE_MIGRATION_FAILED', file, `cannot create schema_migrations: ${(err as Error).message}`, err);
  }
  const current = db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_migrations WHERE scope = ?').pluck();
  const record = db.prepare('INSERT INTO schema_migrations (scope, version, name, applied_at) VALUES (?, ?, ?, ?)');
  const applied = (): number => current.get(scope) as number;
  if (applied() > steps.length) {
    throw new DatabaseError(
      'DATABASE_TOO_NEW',
      file,
      `the "${scope}" tables are at version ${applied()}, this Culex knows only ${steps.length}: use a newer Culex`,
    );
  }
  for (let version = 1; version <= steps.length; version++) {
    const step = steps[version - 1] as Migration;
    const run = db.transaction(() => {
      if (applied() >= version) return;
      if (typeof step.up === 'string') db.exec(step.up);
      else step.up(db);
      record.run(scope, version, step.name, Date.now());
    });
    try {
      run.immediate();
    } catch (err) {
      throw new DatabaseError('DATABASE_MIGRATION_FAILED', file, `${scope} migration ${version} (${step.name}) failed: ${(err as Error).message}`, err);
    }
  }
}
