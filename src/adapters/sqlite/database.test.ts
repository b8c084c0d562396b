// The SQLite file: pragmas, typed open errors, and the forward-only migrations (including two
// processes migrating the same file at once, as the broker and the CLI may).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATABASE_FILE, DatabaseError, migrate, openDatabase, type Migration, type SqliteDatabase } from './database.js';

const root = mkdtempSync(join(tmpdir(), 'culex-db-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `d${n++}`);

function expectDatabaseError(fn: () => unknown, code: DatabaseError['code'], message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DatabaseError, `expected a DatabaseError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

describe('openDatabase', () => {
  test('creates the data directory and culex.db, in WAL mode with foreign keys and a busy timeout', () => {
    const dir = join(freshDir(), 'nested', 'data');
    const db = openDatabase(dir);
    try {
      assert.ok(existsSync(join(dir, DATABASE_FILE)));
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
      assert.equal(db.pragma('busy_timeout', { simple: true }), 5000);
      assert.equal(db.pragma('synchronous', { simple: true }), 1, 'synchronous = NORMAL');
    } finally {
      db.close();
    }
  });

  test('mustExist: a missing file is DATABASE_NOT_FOUND and nothing is created', () => {
    const dir = freshDir();
    expectDatabaseError(() => openDatabase(dir, { mustExist: true }), 'DATABASE_NOT_FOUND', /culex\.db/);
    assert.equal(existsSync(dir), false);
    openDatabase(dir).close();
    openDatabase(dir, { mustExist: true }).close();
  });

  test('a file that is not a database is DATABASE_OPEN_FAILED', () => {
    const dir = freshDir();
    openDatabase(dir).close();
    rmSync(join(dir, `${DATABASE_FILE}-wal`), { force: true });
    rmSync(join(dir, `${DATABASE_FILE}-shm`), { force: true });
    writeFileSync(join(dir, DATABASE_FILE), 'this is not a SQLite database, just some text that is long enough '.repeat(20));
    expectDatabaseError(() => openDatabase(dir), 'DATABASE_OPEN_FAILED', /not a database/);
  });

  test('a data directory that cannot be created is DATABASE_OPEN_FAILED', () => {
    const file = join(freshDir());
    writeFileSync(file, 'a file where the directory should be');
    expectDatabaseError(() => openDatabase(join(file, 'data')), 'DATABASE_OPEN_FAILED', /data directory/);
  });
});

describe('migrate', () => {
  const steps: Migration[] = [
    { name: 'a', up: 'CREATE TABLE a (x INTEGER)' },
    { name: 'b', up: (db) => void db.exec("CREATE TABLE b (y TEXT); INSERT INTO b VALUES ('seed')") },
  ];
  const versions = (db: SqliteDatabase, scope: string): number[] =>
    db.prepare('SELECT version FROM schema_migrations WHERE scope = ? ORDER BY version').pluck().all(scope) as number[];

  test('applies each step once, in order, and records it under its scope', () => {
    const db = openDatabase(freshDir());
    try {
      migrate(db, 'test', steps);
      migrate(db, 'test', steps);
      assert.deepEqual(versions(db, 'test'), [1, 2]);
      assert.deepEqual(db.prepare('SELECT y FROM b').pluck().all(), ['seed'], 'the data step ran once');
      assert.deepEqual(
        db.prepare('SELECT name FROM schema_migrations WHERE scope = ? ORDER BY version').pluck().all('test'),
        ['a', 'b'],
      );
    } finally {
      db.close();
    }
  });

  test('a later release adds a step: only the new one runs', () => {
    const dir = freshDir();
    let db = openDatabase(dir);
    migrate(db, 'test', steps.slice(0, 1));
    db.close();
    db = openDatabase(dir);
    try {
      migrate(db, 'test', steps);
      assert.deepEqual(versions(db, 'test'), [1, 2]);
    } finally {
      db.close();
    }
  });

  test('scopes are independent', () => {
    const db = openDatabase(freshDir());
    try {
      migrate(db, 'one', steps);
      migrate(db, 'two', [{ name: 'c', up: 'CREATE TABLE c (z INTEGER)' }]);
      assert.deepEqual(versions(db, 'one'), [1, 2]);
      assert.deepEqual(versions(db, 'two'), [1]);
    } finally {
      db.close();
    }
  });

  test('a failing step is DATABASE_MIGRATION_FAILED and leaves nothing of itself behind', () => {
    const db = openDatabase(freshDir());
    try {
      const bad: Migration[] = [steps[0] as Migration, { name: 'broken', up: 'CREATE TABLE half (x INTEGER); CREATE TABLE oops (' }];
      expectDatabaseError(() => migrate(db, 'test', bad), 'DATABASE_MIGRATION_FAILED', /migration 2 \(broken\)/);
      assert.deepEqual(versions(db, 'test'), [1], 'step 1 kept, step 2 not recorded');
      const half = db.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'half'").pluck().get();
      assert.equal(half, 0, 'the first statement of the failed step was rolled back');
    } finally {
      db.close();
    }
  });

  test('a file migrated by a newer Culex is DATABASE_TOO_NEW', () => {
    const db = openDatabase(freshDir());
    try {
      migrate(db, 'test', steps);
      expectDatabaseError(() => migrate(db, 'test', steps.slice(0, 1)), 'DATABASE_TOO_NEW', /version 2.*only 1/);
    } finally {
      db.close();
    }
  });

  test('several processes migrating one file at once apply each step exactly once', async () => {
    const dir = freshDir();
    const moduleUrl = new URL('./database.js', import.meta.url).href;
    // each child opens the file and runs the same two steps; the second one fails if run twice
    const script = `
      const { openDatabase, migrate } = await import(${JSON.stringify(moduleUrl)});
      const db = openDatabase(process.argv[1]);
      migrate(db, 'race', [
        { name: 'a', up: 'CREATE TABLE r (x INTEGER)' },
        { name: 'b', up: 'INSERT INTO r VALUES (1)' },
      ]);
      db.close();
    `;
    const runs = Array.from({ length: 4 }, () =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('close', (code) => resolve({ code, stderr }));
      }),
    );
    for (const r of await Promise.all(runs)) assert.equal(r.code, 0, r.stderr);
    const db = openDatabase(dir);
    try {
      assert.deepEqual(versions(db, 'race'), [1, 2]);
      assert.equal(db.prepare('SELECT count(*) FROM r').pluck().get(), 1);
    } finally {
      db.close();
    }
  });
});
