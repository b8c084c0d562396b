// `culex tokens`: what each command prints and returns, and that bad input is a clear
// message with exit code 2 (and never an exception).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { openDatabase } from '../adapters/sqlite/database.js';
import { TokenStore } from '../adapters/tokens/token-store.js';
import { DurationError, parseDuration, runTokens } from './tokens.js';

const root = mkdtempSync(join(tmpdir(), 'culex-tokens-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(root, `d${n++}`);

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runTokens(args, { stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function field(output: string, name: string): string {
  const value = new RegExp(`^${name}: +(.+)$`, 'm').exec(output)?.[1];
  assert.ok(value !== undefined, `no "${name}:" line in:\n${output}`);
  return value;
}

/** Opens the data directory's store for a check, then closes it. */
function withStore<T>(dir: string, fn: (store: TokenStore) => T): T {
  const db = openDatabase(dir, { mustExist: true });
  try {
    return fn(new TokenStore(db));
  } finally {
    db.close();
  }
}

const DAY = 86_400_000;

describe('parseDuration', () => {
  test('a whole number and one unit of s, m, h, d, w', () => {
    assert.equal(parseDuration('45s'), 45_000);
    assert.equal(parseDuration('90m'), 90 * 60_000);
    assert.equal(parseDuration('12h'), 12 * 3_600_000);
    assert.equal(parseDuration('30d'), 30 * DAY);
    assert.equal(parseDuration('2w'), 14 * DAY);
  });

  test('anything else is a DurationError naming the input', () => {
    for (const bad of ['', '30', 'd', '1.5h', '-1d', '0s', '0w', '10y', '1d2h', '30 d', 'thirty days', '9999999999w', '1D']) {
      assert.throws(
        () => parseDuration(bad),
        (err: unknown) => err instanceof DurationError && err.code === 'DURATION_INVALID' && err.message.includes(JSON.stringify(bad)),
        bad,
      );
    }
  });
});

describe('culex tokens create', () => {
  test('prints the token once with its id, name and expiry; the token works', async () => {
    const dir = join(freshDir(), 'new');
    const r = await run('create', 'sensor-17', '--data', dir);
    assert.equal(r.code, 0, r.stderr);
    const token = field(r.stdout, 'token');
    const id = field(r.stdout, 'id');
    assert.match(token, /^cx_/);
    assert.equal(field(r.stdout, 'name'), 'sensor-17');
    assert.equal(field(r.stdout, 'expires'), 'never');
    assert.match(r.stderr, /only this once/);
    assert.deepEqual(
      withStore(dir, (s) => s.verify(token)),
      { ok: true, owner: 'sensor-17', id },
    );
  });

  test('--expires sets the expiry that far from now', async () => {
    const dir = freshDir();
    const before = Date.now();
    const r = await run('create', 'temp', '--expires', '30d', '--data', dir);
    assert.equal(r.code, 0, r.stderr);
    const expires = Date.parse(field(r.stdout, 'expires'));
    assert.ok(expires >= before + 30 * DAY && expires <= Date.now() + 30 * DAY, field(r.stdout, 'expires'));
    const token = field(r.stdout, 'token');
    withStore(dir, (s) => {
      assert.equal(s.verify(token).ok, true);
      assert.deepEqual(s.verify(token, expires), { ok: false, reason: 'expired' });
    });
  });

  test('bad input: exit 2, a clear message on stderr, nothing created', async () => {
    const dir = freshDir();
    const cases: [string[], RegExp][] = [
      [['create', 'x', '--expires', '30 days'], /invalid duration "30 days"/],
      [['create', 'x', '--expires', '0s'], /more than zero/],
      [['create', 'x', '--expires'], /--expires/],
      [['create'], /create needs exactly one NAME/],
      [['create', 'a', 'b'], /create needs exactly one NAME/],
      [['create', 'fleet/#'], /invalid token name "fleet\/#"/],
      [['create', 'x', '--colour'], /--colour/],
      [['list', '--expires', '1d'], /--expires goes with create only/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [[], /missing command/],
    ];
    for (const [args, message] of cases) {
      const r = await run(...args, '--data', dir);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
    }
    assert.equal(existsSync(dir), false, 'no data directory was created');
  });
});

describe('culex tokens revoke and list', () => {
  test('revoke by id; again says already revoked; an unknown id is exit 1', async () => {
    const dir = freshDir();
    const created = await run('create', 'gw-1', '--data', dir);
    const id = field(created.stdout, 'id');
    const token = field(created.stdout, 'token');

    const r1 = await run('revoke', id, '--data', dir);
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, new RegExp(`revoked token ${id} \\(gw-1\\)`));
    assert.deepEqual(
      withStore(dir, (s) => s.verify(token)),
      { ok: false, reason: 'revoked' },
    );

    const r2 = await run('revoke', id, '--data', dir);
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stdout, /already revoked/);

    const r3 = await run('revoke', 'ffffffffffff', '--data', dir);
    assert.equal(r3.code, 1);
    assert.match(r3.stderr, /no token with id "ffffffffffff"/);
  });

  test('list shows id, name, dates and status (active, expired, revoked), never a token', async () => {
    const dir = freshDir();
    const a = await run('create', 'active-one', '--expires', '2w', '--data', dir);
    const r = await run('create', 'revoked-one', '--data', dir);
    await run('revoke', field(r.stdout, 'id'), '--data', dir);
    // created two days ago, expired yesterday
    const db = openDatabase(dir);
    const expired = new TokenStore(db, { now: () => Date.now() - 2 * DAY }).create('expired-one', { expiresAt: Date.now() - DAY });
    db.close();

    const list = await run('list', '--data', dir);
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trimEnd().split('\n');
    assert.match(lines[0] as string, /^ID +NAME +CREATED +EXPIRES +STATUS$/);
    const rows = lines.slice(1).map((l) => l.split(/ {2,}/));
    const byName = new Map(rows.map((cells) => [cells[1], cells]));
    assert.equal(byName.get('active-one')?.[0], field(a.stdout, 'id'));
    assert.equal(byName.get('active-one')?.[4], 'active');
    assert.match(byName.get('active-one')?.[3] as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(byName.get('revoked-one')?.[3], 'never');
    assert.equal(byName.get('revoked-one')?.[4], 'revoked');
    assert.equal(byName.get('expired-one')?.[0], expired.id);
    assert.equal(byName.get('expired-one')?.[4], 'expired');
    for (const out of [a, r]) assert.ok(!list.stdout.includes(field(out.stdout, 'token')), 'list never shows a token');
  });

  test('an empty store says so', async () => {
    const dir = freshDir();
    openDatabase(dir).close();
    const r = await run('list', '--data', dir);
    assert.deepEqual([r.code, r.stdout], [0, 'no tokens\n']);
  });

  test('revoke and list on a data directory without a database: exit 1, and nothing is created', async () => {
    const dir = freshDir();
    for (const args of [['list'], ['revoke', 'abcdef012345']]) {
      const r = await run(...args, '--data', dir);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /no token database in .*--data DIR/);
    }
    assert.equal(existsSync(dir), false);
  });

  test('--help prints the usage', async () => {
    const r = await run('--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /usage: culex tokens/);
  });
});
