// API tokens: what is issued and stored, every verify verdict, and that a token created or
// revoked through another connection, or by another process, counts at the next verify.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type SqliteDatabase } from '../sqlite/database.js';
import { TokenError, TokenStore } from './token-store.js';

const root = mkdtempSync(join(tmpdir(), 'culex-tokens-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `d${n++}`);

/** A store over a fresh data directory; closed after the test. */
function withStore(fn: (store: TokenStore, db: SqliteDatabase, dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = freshDir();
    const db = openDatabase(dir);
    try {
      await fn(new TokenStore(db), db, dir);
    } finally {
      db.close();
    }
  };
}

const DAY = 86_400_000;

describe('TokenStore.create', () => {
  test(
    'issues a cx_ token of 32 random bytes and a 12-hex-digit id; stores only the SHA-256 of the token',
    withStore((store, db, dir) => {
      const t = store.create('sensor-17');
      assert.match(t.token, /^cx_[A-Za-z0-9_-]{43}$/);
      assert.match(t.id, /^[0-9a-f]{12}$/);
      assert.equal(t.name, 'sensor-17');
      assert.equal(t.expiresAt, undefined);
      assert.ok(Math.abs(t.createdAt - Date.now()) < 5000);
      const row = db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(t.id) as Record<string, unknown>;
      assert.deepEqual(row.token_hash, createHash('sha256').update(t.token).digest());
      assert.ok(!Object.values(row).some((v) => typeof v === 'string' && v.includes(t.token.slice(3))), 'no column holds the token');
      db.pragma('wal_checkpoint(TRUNCATE)');
      for (const file of readdirSync(dir)) {
        assert.ok(!readFileSync(join(dir, file)).includes(t.token.slice(3)), `the token is not in ${file}`);
      }
    }),
  );

  test(
    'every token and id is different; several tokens may share a name',
    withStore((store) => {
      const a = store.create('dashboard');
      const b = store.create('dashboard');
      assert.notEqual(a.token, b.token);
      assert.notEqual(a.id, b.id);
      assert.deepEqual(store.verify(a.token), { ok: true, owner: 'dashboard', id: a.id });
      assert.deepEqual(store.verify(b.token), { ok: true, owner: 'dashboard', id: b.id });
    }),
  );

  test(
    'names that would mean something in an ACL, or look like a flag, are TOKEN_NAME_INVALID',
    withStore((store) => {
      for (const name of ['', 'a/b', 'a+b', 'fleet/#', 'two words', '-rf', '.hidden', 'x'.repeat(129), 'tab\there', 'ü']) {
        assert.throws(() => store.create(name), (err: unknown) => err instanceof TokenError && err.code === 'TOKEN_NAME_INVALID', name);
      }
      for (const name of ['a', 'sensor_17', 'ops@example.com', 'fleet:eu-1.gw', 'x'.repeat(128)]) store.create(name);
      assert.equal(store.list().length, 5);
    }),
  );

  test(
    'an expiry that is not in the future is TOKEN_EXPIRY_INVALID',
    withStore((store) => {
      for (const expiresAt of [Date.now() - 1000, Number.NaN, 1.5, Number.POSITIVE_INFINITY]) {
        assert.throws(() => store.create('x', { expiresAt }), (err: unknown) => err instanceof TokenError && err.code === 'TOKEN_EXPIRY_INVALID');
      }
      assert.deepEqual(store.list(), []);
    }),
  );
});

describe('TokenStore.verify', () => {
  test(
    'a valid token gives its owner and id',
    withStore((store) => {
      const t = store.create('meter-4', { expiresAt: Date.now() + DAY });
      assert.deepEqual(store.verify(t.token), { ok: true, owner: 'meter-4', id: t.id });
    }),
  );

  test(
    'expired from its expiry on (the caller may pass the time)',
    withStore((store) => {
      const expiresAt = Date.now() + DAY;
      const t = store.create('meter-4', { expiresAt });
      assert.equal(store.verify(t.token, expiresAt - 1).ok, true);
      assert.deepEqual(store.verify(t.token, expiresAt), { ok: false, reason: 'expired' });
      assert.deepEqual(store.verify(t.token, expiresAt + DAY), { ok: false, reason: 'expired' });
    }),
  );

  test(
    'revoked: revoke answers true once, false again or for an unknown id; revoked wins over expired',
    withStore((store) => {
      const expiresAt = Date.now() + DAY;
      const t = store.create('meter-4', { expiresAt });
      const other = store.create('meter-5');
      assert.equal(store.revoke(t.id), true);
      assert.equal(store.revoke(t.id), false);
      assert.equal(store.revoke('000000000000'), false);
      assert.deepEqual(store.verify(t.token), { ok: false, reason: 'revoked' });
      assert.deepEqual(store.verify(t.token, expiresAt + 1), { ok: false, reason: 'revoked' });
      assert.equal(store.verify(other.token).ok, true, 'revoking one token leaves the others');
    }),
  );

  test(
    'anything else is unknown: a changed character, another prefix, empty, huge, or not issued here',
    withStore((store) => {
      const t = store.create('meter-4');
      const last = t.token.at(-1) === 'A' ? 'B' : 'A';
      for (const candidate of [t.token.slice(0, -1) + last, t.token.slice(0, -1), `${t.token}x`, t.token.slice(3), `xx_${t.token.slice(3)}`, '', 'cx_', `cx_${'A'.repeat(10_000)}`, t.id]) {
        assert.deepEqual(store.verify(candidate), { ok: false, reason: 'unknown' }, candidate.slice(0, 60));
      }
    }),
  );
});

describe('TokenStore.list and get', () => {
  test(
    'lists every token oldest first with its state, and never the secret',
    withStore((store, db) => {
      let clock = Date.now() - 3 * DAY;
      const past = new TokenStore(db, { now: () => clock });
      const old = past.create('old', { expiresAt: clock + DAY });
      clock += DAY / 2;
      const revoked = past.create('revoked');
      const active = store.create('active', { expiresAt: Date.now() + DAY });
      assert.equal(store.revoke(revoked.id), true);
      const list = store.list();
      assert.deepEqual(
        list.map((t) => [t.id, t.name, t.expiresAt, t.revokedAt !== undefined]),
        [
          [old.id, 'old', old.expiresAt, false],
          [revoked.id, 'revoked', undefined, true],
          [active.id, 'active', active.expiresAt, false],
        ],
      );
      const text = JSON.stringify(list);
      for (const t of [old, revoked, active]) assert.ok(!text.includes(t.token.slice(3)));
      assert.deepEqual(store.get(active.id), list[2]);
      assert.equal(store.get('nope'), undefined);
    }),
  );
});

describe('TokenStore across connections and processes (WAL)', () => {
  test('a token created or revoked through another connection counts at the next verify', () => {
    const dir = freshDir();
    const brokerDb = openDatabase(dir);
    const cliDb = openDatabase(dir);
    try {
      const broker = new TokenStore(brokerDb);
      const cli = new TokenStore(cliDb);
      const t = cli.create('late');
      assert.deepEqual(broker.verify(t.token), { ok: true, owner: 'late', id: t.id });
      assert.equal(cli.revoke(t.id), true);
      assert.deepEqual(broker.verify(t.token), { ok: false, reason: 'revoked' });
    } finally {
      cliDb.close();
      brokerDb.close();
    }
  });

  test('tokens survive closing and reopening the file', () => {
    const dir = freshDir();
    let db = openDatabase(dir);
    const t = new TokenStore(db).create('durable');
    db.close();
    db = openDatabase(dir);
    try {
      assert.equal(new TokenStore(db).verify(t.token).ok, true);
    } finally {
      db.close();
    }
  });

  test('another process (the CLI) creates and revokes while this one holds the file open', async () => {
    const dir = freshDir();
    const db = openDatabase(dir);
    try {
      const store = new TokenStore(db);
      const mine = store.create('held-open');
      assert.equal(store.verify(mine.token).ok, true);

      const created = await cli(['create', 'from-cli', '--data', dir]);
      assert.equal(created.code, 0, created.stderr);
      const token = /^token: +(\S+)$/m.exec(created.stdout)?.[1];
      const id = /^id: +(\S+)$/m.exec(created.stdout)?.[1];
      assert.ok(token !== undefined && id !== undefined, created.stdout);
      assert.deepEqual(store.verify(token), { ok: true, owner: 'from-cli', id });

      const revoked = await cli(['revoke', id, '--data', dir]);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.deepEqual(store.verify(token), { ok: false, reason: 'revoked' });
      assert.equal(store.verify(mine.token).ok, true);
    } finally {
      db.close();
    }
  });
});

/** Runs runTokens in a child process, as `culex tokens ...` would. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const moduleUrl = new URL('../../cli/tokens.js', import.meta.url).href;
  const script = `
    const { runTokens } = await import(${JSON.stringify(moduleUrl)});
    process.exitCode = await runTokens(process.argv.slice(1), { stdout: process.stdout, stderr: process.stderr });
  `;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
