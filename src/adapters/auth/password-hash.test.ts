// The three hash formats against independent producers: Debian's mosquitto_passwd (run at
// test time) for $6$ and $7$, python3's hashlib for what Culex writes, and the argon2
// reference implementation's published vectors for argon2id (no tool on the machine makes
// argon2id, so those few are written down; they come from phc-winner-argon2's test suite).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, requireTool, run, tempDir } from '../../../test/interop/support.js';
import {
  DEFAULT_ARGON2,
  PasswordHashError,
  SYNC_PBKDF2_MAX_ITERATIONS,
  hashPassword,
  parsePasswordHash,
  verifyPasswordHash,
  type PasswordHashErrorCode,
} from './password-hash.js';

const pw = (s: string): Buffer => Buffer.from(s, 'utf8');

function passwdTool(): string {
  try {
    return requireTool('mosquitto_passwd');
  } catch {
    throw new Error('mosquitto_passwd not found: apt-get install mosquitto, or run npm run test:all');
  }
}

/** Runs Debian's mosquitto_passwd -c -b with extra options; returns the hash it wrote. */
async function mosquittoHash(password: string, options: string[] = []): Promise<string> {
  const tool = passwdTool();
  const dir = tempDir('culex-pwhash-');
  try {
    const file = join(dir, 'pw');
    const child = await run(tool, [...options, '-c', '-b', file, 'user', password]);
    assert.equal(child.exit?.code, 0, child.describe());
    const line = readFileSync(file, 'utf8').trim();
    assert.match(line, /^user:/);
    return line.slice('user:'.length);
  } finally {
    removeDir(dir);
  }
}

async function python(script: string, ...args: string[]): Promise<string> {
  const py = requireTool('/usr/bin/python3');
  const child = await run(py, ['-c', script, ...args]);
  assert.equal(child.exit?.code, 0, child.describe());
  return child.stdout.trim();
}

describe('$7$ (PBKDF2-HMAC-SHA512)', () => {
  test('verifies a hash written by mosquitto_passwd 2.0 (default: 101 iterations, 12-byte salt)', async () => {
    const encoded = await mosquittoHash('s3cret pass');
    const parsed = parsePasswordHash(encoded);
    assert.equal(parsed.type, 'sha512-pbkdf2');
    assert.ok(parsed.type === 'sha512-pbkdf2' && parsed.iterations === 101 && parsed.salt.length === 12 && parsed.hash.length === 64);
    assert.equal(verifyPasswordHash(parsed, pw('s3cret pass')), true);
    assert.equal(verifyPasswordHash(parsed, pw('s3cret pasS')), false);
    assert.equal(verifyPasswordHash(parsed, pw('')), false);
  });

  test('verifies mosquitto_passwd -I 7 (iterations are read from the hash)', async () => {
    const encoded = await mosquittoHash('pw', ['-I', '7']);
    assert.match(encoded, /^\$7\$7\$/);
    assert.equal(verifyPasswordHash(parsePasswordHash(encoded), pw('pw')), true);
    assert.equal(verifyPasswordHash(parsePasswordHash(encoded.replace('$7$7$', '$7$8$')), pw('pw')), false);
  });

  test('an empty password written by mosquitto_passwd -b "" matches only the empty password', async () => {
    const parsed = parsePasswordHash(await mosquittoHash(''));
    assert.equal(verifyPasswordHash(parsed, pw('')), true);
    assert.equal(verifyPasswordHash(parsed, pw(' ')), false);
  });

  test('what Culex writes is PBKDF2-HMAC-SHA512 by python3 hashlib, 101 iterations and a 12-byte salt by default', async () => {
    const encoded = await hashPassword('grüße:1');
    const m = /^\$7\$101\$([A-Za-z0-9+/]{16})\$([A-Za-z0-9+/]{86}==)$/.exec(encoded);
    assert.ok(m, encoded);
    const expected = await python(
      'import base64,hashlib,sys; print(base64.b64encode(hashlib.pbkdf2_hmac("sha512", sys.argv[1].encode(), base64.b64decode(sys.argv[2]), 101)).decode())',
      'grüße:1',
      m[1] as string,
    );
    assert.equal(m[2], expected);
  });

  test('above SYNC_PBKDF2_MAX_ITERATIONS the check is asynchronous (off the event loop) and still right', async () => {
    const encoded = await hashPassword('pw', { iterations: SYNC_PBKDF2_MAX_ITERATIONS + 1 });
    const parsed = parsePasswordHash(encoded);
    const good = verifyPasswordHash(parsed, pw('pw'));
    const bad = verifyPasswordHash(parsed, pw('px'));
    assert.ok(good instanceof Promise && bad instanceof Promise);
    assert.equal(await good, true);
    assert.equal(await bad, false);
  });

  test('the password is every byte the client sent (a zero byte does not cut it short)', async () => {
    const parsed = parsePasswordHash(await hashPassword('abc'));
    assert.equal(verifyPasswordHash(parsed, Buffer.from('abc\0xyz')), false);
    assert.equal(verifyPasswordHash(parsed, Buffer.from('abc')), true);
  });
});

describe('$6$ (one round of SHA-512 over password || salt)', () => {
  test('verifies a hash written by mosquitto_passwd -H sha512', async () => {
    const encoded = await mosquittoHash('old style', ['-H', 'sha512']);
    assert.match(encoded, /^\$6\$/);
    const parsed = parsePasswordHash(encoded);
    assert.equal(verifyPasswordHash(parsed, pw('old style')), true);
    assert.equal(verifyPasswordHash(parsed, pw('old stylE')), false);
  });

  test('what Culex writes is sha512(password + salt) by python3 hashlib (not sha512-crypt)', async () => {
    const encoded = await hashPassword('pw$6', { type: 'sha512' });
    const m = /^\$6\$([A-Za-z0-9+/]{16})\$([A-Za-z0-9+/=]{88})$/.exec(encoded);
    assert.ok(m, encoded);
    const expected = await python(
      'import base64,hashlib,sys; print(base64.b64encode(hashlib.sha512(sys.argv[1].encode() + base64.b64decode(sys.argv[2])).digest()).decode())',
      'pw$6',
      m[1] as string,
    );
    assert.equal(m[2], expected);
  });
});

describe('$argon2id$', () => {
  // phc-winner-argon2 src/test.c (argon2id, v=19, password "password", salt "somesalt")
  const vectors = [
    '$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4',
    '$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc',
    '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc',
  ];
  for (const encoded of vectors) {
    test(`reference vector ${encoded.split('$')[3]} verifies "password" and refuses others`, async () => {
      const parsed = parsePasswordHash(encoded);
      assert.equal(parsed.type, 'argon2id');
      const good = verifyPasswordHash(parsed, pw('password'));
      assert.ok(good instanceof Promise, 'argon2id is checked asynchronously');
      assert.equal(await good, true);
      assert.equal(await verifyPasswordHash(parsed, pw('passwore')), false);
      assert.equal(await verifyPasswordHash(parsed, pw('')), false);
    });
  }

  test("Culex writes mosquitto 2.1's parameters (m=47104, t=1, p=1, 64-byte salt and hash) and verifies them", async () => {
    const encoded = await hashPassword('pw', { type: 'argon2id' });
    assert.match(encoded, /^\$argon2id\$v=19\$m=47104,t=1,p=1\$[A-Za-z0-9+/]{86}\$[A-Za-z0-9+/]{86}$/);
    const parsed = parsePasswordHash(encoded);
    assert.ok(parsed.type === 'argon2id' && parsed.salt.length === DEFAULT_ARGON2.saltBytes && parsed.hash.length === DEFAULT_ARGON2.hashBytes);
    assert.equal(await verifyPasswordHash(parsed, pw('pw')), true);
    assert.equal(await verifyPasswordHash(parsed, pw('pW')), false);
  });

  test('an empty argon2id password cannot be hashed (typed error)', async () => {
    await assert.rejects(hashPassword('', { type: 'argon2id' }), (e: unknown) => e instanceof PasswordHashError && e.code === 'PASSWORD_HASH_UNSUPPORTED');
  });
});

describe('refused hashes: a typed error with a stable code, never echoing the hash', () => {
  const salt12 = Buffer.alloc(12, 1).toString('base64');
  const salt16 = Buffer.alloc(16, 1).toString('base64');
  const hash64 = Buffer.alloc(64, 2).toString('base64');
  const hash32 = Buffer.alloc(32, 2).toString('base64');
  const cases: [string, string, PasswordHashErrorCode][] = [
    ['plain text', 'hunter2-plain', 'PASSWORD_HASH_UNKNOWN_TYPE'],
    ['empty', '', 'PASSWORD_HASH_UNKNOWN_TYPE'],
    ['sha512-crypt ($5$)', `$5$${salt12}$${hash64}`, 'PASSWORD_HASH_UNKNOWN_TYPE'],
    ['bcrypt', '$2y$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234', 'PASSWORD_HASH_UNKNOWN_TYPE'],
    ['$6$ missing hash', `$6$${salt12}`, 'PASSWORD_HASH_MALFORMED'],
    ['$6$ extra field', `$6$${salt12}$${hash64}$x`, 'PASSWORD_HASH_MALFORMED'],
    ['$6$ 16-byte salt', `$6$${salt16}$${hash64}`, 'PASSWORD_HASH_MALFORMED'],
    ['$6$ 32-byte hash', `$6$${salt12}$${hash32}`, 'PASSWORD_HASH_MALFORMED'],
    ['$6$ bad base64', `$6$${salt12.slice(0, 15)}!$${hash64}`, 'PASSWORD_HASH_MALFORMED'],
    ['$7$ zero iterations', `$7$0$${salt12}$${hash64}`, 'PASSWORD_HASH_MALFORMED'],
    ['$7$ non-numeric iterations', `$7$ten$${salt12}$${hash64}`, 'PASSWORD_HASH_MALFORMED'],
    ['$7$ negative iterations', `$7$-5$${salt12}$${hash64}`, 'PASSWORD_HASH_MALFORMED'],
    ['$7$ iterations beyond int', `$7$3000000000$${salt12}$${hash64}`, 'PASSWORD_HASH_MALFORMED'],
    ['$7$ missing iterations', `$7$${salt12}$${hash64}`, 'PASSWORD_HASH_MALFORMED'],
    ['$7$ trailing junk', `$7$101$${salt12}$${hash64}:junk`, 'PASSWORD_HASH_MALFORMED'],
    ['argon2id without version', '$argon2id$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4', 'PASSWORD_HASH_MALFORMED'],
    ['argon2id v=16', '$argon2id$v=16$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4', 'PASSWORD_HASH_UNSUPPORTED'],
    ['argon2id params out of order', '$argon2id$v=19$t=2,m=256,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4', 'PASSWORD_HASH_MALFORMED'],
    ['argon2id memory below 8 KiB per lane', '$argon2id$v=19$m=15,t=2,p=2$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4', 'PASSWORD_HASH_MALFORMED'],
    ['argon2id 4 GiB of memory', '$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4', 'PASSWORD_HASH_UNSUPPORTED'],
    ['argon2id padded salt', '$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ=$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4', 'PASSWORD_HASH_MALFORMED'],
    ['argon2id 4-byte salt', '$argon2id$v=19$m=256,t=2,p=1$c29tZQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4', 'PASSWORD_HASH_MALFORMED'],
    ['argon2i (another variant)', '$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8', 'PASSWORD_HASH_UNSUPPORTED'],
  ];
  for (const [name, encoded, code] of cases) {
    test(`${name} → ${code}`, () => {
      assert.throws(
        () => parsePasswordHash(encoded),
        (e: unknown) => {
          assert.ok(e instanceof PasswordHashError, String(e));
          assert.equal(e.code, code);
          for (const part of encoded.split('$').filter((p) => p.length >= 6 && !/^argon2/.test(p))) assert.ok(!e.message.includes(part), `message echoes "${part}": ${e.message}`);
          return true;
        },
      );
    });
  }
});
