import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, tempDir } from '../../../test/interop/support.js';
import { PasswordFile, PasswordFileError, parsePasswordFile, type PasswordFileErrorCode } from './password-file.js';
import { hashPassword } from './password-hash.js';

const pw = (s: string): Buffer => Buffer.from(s, 'utf8');
// argon2id reference vector (phc-winner-argon2): "password", cheap parameters
const ARGON = '$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4';

describe('PasswordFile', () => {
  let dir: string;
  let alice: string;
  let bob: string;
  let carol6: string;

  before(async () => {
    dir = tempDir('culex-pwfile-');
    alice = await hashPassword('alice-pw');
    bob = await hashPassword('bob-pw');
    carol6 = await hashPassword('carol-pw', { type: 'sha512' });
  });
  after(() => removeDir(dir));

  function file(name: string, text: string): string {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  }

  test("mosquitto's line rules: '#' comments in column 1, blank lines, blanks around fields, CRLF", () => {
    const path = file('rules', `# a comment: with a colon\n\n   \t\n  alice \t: ${alice}  \r\nbob:${bob}\r\n\tcarol:${carol6}`);
    const pf = PasswordFile.load(path);
    assert.deepEqual(pf.usernames(), ['alice', 'bob', 'carol']);
    assert.equal(pf.verify('alice', pw('alice-pw')), true);
    assert.equal(pf.verify('bob', pw('bob-pw')), true);
    assert.equal(pf.verify('carol', pw('carol-pw')), true);
    assert.equal(pf.verify('alice', pw('bob-pw')), false);
    assert.equal(pf.verify('nobody', pw('alice-pw')), false);
    assert.equal(pf.has('nobody'), false);
  });

  test('$6$ and $7$ are checked synchronously, argon2id asynchronously', async () => {
    const pf = PasswordFile.load(file('mixed', `a:${alice}\nc:${carol6}\nx:${ARGON}\n`));
    assert.equal(typeof pf.verify('a', pw('alice-pw')), 'boolean');
    assert.equal(typeof pf.verify('c', pw('carol-pw')), 'boolean');
    const r = pf.verify('x', pw('password'));
    assert.ok(r instanceof Promise);
    assert.equal(await r, true);
    assert.equal(await pf.verify('x', pw('Password')), false);
  });

  const bad: [string, string, number, PasswordFileErrorCode, RegExp][] = [
    ['a line without ":"', 'alice:HASH\njust-a-name\n', 2, 'PASSWORD_FILE_SYNTAX', /no ":"/],
    ['an indented "#" is not a comment', 'alice:HASH\n  # not a comment\n', 2, 'PASSWORD_FILE_SYNTAX', /no ":"/],
    ['an empty user name', '\n:HASH\n', 2, 'PASSWORD_FILE_SYNTAX', /empty user name/],
    ['a user without a hash', 'alice:HASH\nbob:  \n', 2, 'PASSWORD_FILE_SYNTAX', /user "bob": no password hash/],
    ['a plain-text password', '# users\nalice:HASH\nbob:hunter2secret\n', 3, 'PASSWORD_HASH_UNKNOWN_TYPE', /user "bob": .*culex passwd -U/],
    ['a garbled $7$ hash', 'bob:$7$101$!!!!$AAAA\n', 1, 'PASSWORD_HASH_MALFORMED', /user "bob": \$7\$ salt is not valid base64/],
    ['a user named twice', 'alice:HASH\nbob:HASH\nalice:HASH\n', 3, 'PASSWORD_FILE_DUPLICATE_USER', /user "alice" appears again \(first on line 1\)/],
    ['a user name over 65535 bytes', `${'u'.repeat(65536)}:HASH\n`, 1, 'PASSWORD_FILE_SYNTAX', /longer than 65535/],
  ];
  for (const [name, text, line, code, message] of bad) {
    test(`refuses ${name}: ${code} naming file:${line}, never the hash or password`, () => {
      const path = file('bad', text.replaceAll('HASH', alice));
      assert.throws(
        () => PasswordFile.load(path),
        (e: unknown) => {
          assert.ok(e instanceof PasswordFileError, String(e));
          assert.equal(e.code, code);
          assert.equal(e.file, path);
          assert.equal(e.line, line);
          assert.ok(e.message.startsWith(`${path}:${line}: `), e.message);
          assert.match(e.message, message);
          assert.ok(!e.message.includes(alice.split('$')[4] as string), 'message holds a hash');
          assert.ok(!e.message.includes('hunter2secret'), 'message holds a password');
          return true;
        },
      );
    });
  }

  test('a missing file is PASSWORD_FILE_UNREADABLE', () => {
    assert.throws(
      () => PasswordFile.load(join(dir, 'nope')),
      (e: unknown) => e instanceof PasswordFileError && e.code === 'PASSWORD_FILE_UNREADABLE' && e.line === undefined && e.message.includes('nope'),
    );
  });

  test('reload() picks up changes; a failed reload throws and keeps the previous table', async () => {
    const path = file('reload', `alice:${alice}\n`);
    const pf = PasswordFile.load(path);
    assert.equal(pf.verify('bob', pw('bob-pw')), false);

    writeFileSync(path, `alice:${await hashPassword('new-alice')}\nbob:${bob}\n`);
    pf.reload();
    assert.equal(pf.verify('bob', pw('bob-pw')), true);
    assert.equal(pf.verify('alice', pw('alice-pw')), false);
    assert.equal(pf.verify('alice', pw('new-alice')), true);

    writeFileSync(path, `alice:${alice}\nbob:plaintext\n`);
    assert.throws(() => pf.reload(), (e: unknown) => e instanceof PasswordFileError && e.code === 'PASSWORD_HASH_UNKNOWN_TYPE' && e.line === 2);
    assert.equal(pf.verify('alice', pw('new-alice')), true, 'the old table is still in force');
    assert.equal(pf.verify('bob', pw('bob-pw')), true);

    rmSync(path);
    assert.throws(() => pf.reload(), (e: unknown) => e instanceof PasswordFileError && e.code === 'PASSWORD_FILE_UNREADABLE');
    assert.equal(pf.size, 2);
    assert.equal(pf.verify('bob', pw('bob-pw')), true);
  });

  test('argon2id checks are queued: beyond maxArgon2Waiting, verify() rejects with PASSWORD_VERIFY_BUSY', async () => {
    const pf = PasswordFile.load(file('busy', `x:${ARGON}\n`), { maxArgon2Concurrent: 1, maxArgon2Waiting: 1 });
    const first = pf.verify('x', pw('password'));
    const second = pf.verify('x', pw('wrong'));
    const third = pf.verify('x', pw('password'));
    await assert.rejects(third as Promise<boolean>, (e: unknown) => e instanceof PasswordFileError && e.code === 'PASSWORD_VERIFY_BUSY');
    assert.equal(await first, true);
    assert.equal(await second, false);
    // the queue drained: a new check runs again
    assert.equal(await pf.verify('x', pw('password')), true);
  });

  test('parsePasswordFile on text (no file) names the given source', () => {
    assert.throws(() => parsePasswordFile('x\n', 'inline'), (e: unknown) => e instanceof PasswordFileError && e.message === 'inline:1: expected user:hash (no ":" on this line)');
    assert.equal(parsePasswordFile('# only a comment\n\n', 'inline').size, 0);
  });
});
