import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { removeDir, tempDir } from '../../test/interop/support.js';
import { PasswordFile } from '../adapters/auth/password-file.js';
import { hashPassword } from '../adapters/auth/password-hash.js';
import { PASSWD_USAGE, runPasswd } from './passwd.js';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `culex passwd` in-process; `input` is what arrives on stdin (then it ends). */
async function passwd(args: string[], input?: string | ((stdin: PassThrough) => void), isTTY = false): Promise<Ran> {
  const stdin = new PassThrough();
  const stdout = new Sink();
  const stderr = new Sink();
  if (typeof input === 'string') stdin.end(input);
  else if (typeof input === 'function') input(stdin);
  else stdin.end();
  const code = await runPasswd(args, { stdin, stdout, stderr, isTTY });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const pw = (s: string): Buffer => Buffer.from(s);

describe('culex passwd', () => {
  let dir: string;
  let n = 0;
  const path = (): string => join(dir, `pw${++n}`);
  before(() => {
    dir = tempDir('culex-passwd-');
  });
  after(() => removeDir(dir));

  const verify = (file: string, user: string, password: string): boolean | Promise<boolean> => PasswordFile.load(file).verify(user, pw(password));

  test('no arguments: the usage on stdout, exit 1', async () => {
    const r = await passwd([]);
    assert.deepEqual(r, { code: 1, stdout: PASSWD_USAGE, stderr: '' });
  });

  test('-c -b creates a file of one $7$ line, mode 0600, that PasswordFile accepts', async () => {
    const file = path();
    writeFileSync(file, 'old:content\n');
    const r = await passwd(['-c', '-b', file, 'alice', 'alice pw']);
    assert.deepEqual(r, { code: 0, stdout: '', stderr: '' });
    assert.match(readFileSync(file, 'utf8'), /^alice:\$7\$101\$[^\n]+\n$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(verify(file, 'alice', 'alice pw'), true);
    assert.equal(verify(file, 'alice', 'alice pW'), false);
  });

  test('-H sha512, -H argon2id and -I choose the format', async () => {
    const f6 = path();
    const f7 = path();
    const fa = path();
    assert.equal((await passwd(['-H', 'sha512', '-c', '-b', f6, 'u', 'p'])).code, 0);
    assert.equal((await passwd(['-I', '1000', '-c', '-b', f7, 'u', 'p'])).code, 0);
    assert.equal((await passwd(['-H', 'argon2id', '-c', '-b', fa, 'u', 'p'])).code, 0);
    assert.match(readFileSync(f6, 'utf8'), /^u:\$6\$/);
    assert.match(readFileSync(f7, 'utf8'), /^u:\$7\$1000\$/);
    assert.match(readFileSync(fa, 'utf8'), /^u:\$argon2id\$v=19\$m=47104,t=1,p=1\$/);
    assert.equal(verify(f6, 'u', 'p'), true);
    assert.equal(verify(f7, 'u', 'p'), true);
    assert.equal(await verify(fa, 'u', 'p'), true);
  });

  test('adding and changing users keeps every other line (comments, blanks, CRLF) in its place', async () => {
    const file = path();
    const a = await hashPassword('a-pw');
    const b = await hashPassword('b-pw');
    writeFileSync(file, `# staff\nalice:${a}\n\n# second comment\r\nbob:${b}\r\n`);
    assert.deepEqual(await passwd(['-b', file, 'carol', 'c-pw']), { code: 0, stdout: '', stderr: '' });
    assert.deepEqual(await passwd(['-b', file, 'alice', 'a-new']), { code: 0, stdout: '', stderr: '' });
    const lines = readFileSync(file, 'utf8').split('\n');
    assert.equal(lines.length, 7);
    assert.equal(lines[0], '# staff');
    assert.match(lines[1] as string, /^alice:\$7\$/);
    assert.notEqual(lines[1], `alice:${a}`);
    assert.equal(lines[2], '');
    assert.equal(lines[3], '# second comment\r');
    assert.equal(lines[4], `bob:${b}\r`);
    assert.match(lines[5] as string, /^carol:\$7\$/);
    assert.equal(lines[6], '');
    assert.equal(verify(file, 'alice', 'a-new'), true);
    assert.equal(verify(file, 'bob', 'b-pw'), true);
    assert.equal(verify(file, 'carol', 'c-pw'), true);
  });

  test('a file without a final newline gets one before the new user', async () => {
    const file = path();
    writeFileSync(file, `alice:${await hashPassword('a')}`);
    assert.equal((await passwd(['-b', file, 'bob', 'b'])).code, 0);
    assert.deepEqual(PasswordFile.load(file).usernames(), ['alice', 'bob']);
  });

  test('an updated file keeps its mode; the write goes through a temporary file (none left behind)', async () => {
    const file = path();
    writeFileSync(file, `alice:${await hashPassword('a')}\n`);
    chmodSync(file, 0o640);
    assert.equal((await passwd(['-b', file, 'bob', 'b'])).code, 0);
    assert.equal(statSync(file).mode & 0o777, 0o640);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp')), []);
  });

  test('a symlinked password file is updated through the link (the link stays a link)', async () => {
    const target = path();
    const link = path();
    writeFileSync(target, `alice:${await hashPassword('a')}\n`);
    symlinkSync(target, link);
    assert.equal((await passwd(['-b', link, 'bob', 'b'])).code, 0);
    assert.deepEqual(PasswordFile.load(target).usernames(), ['alice', 'bob']);
  });

  test('-D deletes the user; an unknown user is a warning, exit 1, and the file is untouched', async () => {
    const file = path();
    const text = `# c\nalice:${await hashPassword('a')}\nbob:${await hashPassword('b')}\n`;
    writeFileSync(file, text);
    assert.deepEqual(await passwd(['-D', file, 'alice']), { code: 0, stdout: '', stderr: '' });
    assert.deepEqual(PasswordFile.load(file).usernames(), ['bob']);
    assert.match(readFileSync(file, 'utf8'), /^# c\nbob:/);
    const afterDelete = readFileSync(file, 'utf8');
    assert.deepEqual(await passwd(['-D', file, 'zed']), { code: 1, stdout: '', stderr: 'Warning: User zed not found in password file.\n' });
    assert.equal(readFileSync(file, 'utf8'), afterDelete);
  });

  test('-U hashes plain-text passwords, keeps hashed lines and comments as they are', async () => {
    const file = path();
    const hashed = `carol:${await hashPassword('c')}`;
    writeFileSync(file, `# plain\n alice : a pw \nbob:b-pw:ignored\n${hashed}\n`);
    assert.deepEqual(await passwd(['-U', file]), { code: 0, stdout: '', stderr: '' });
    const lines = readFileSync(file, 'utf8').split('\n');
    assert.equal(lines[0], '# plain');
    assert.match(lines[1] as string, /^alice:\$7\$/);
    assert.match(lines[2] as string, /^bob:\$7\$/);
    assert.equal(lines[3], hashed);
    assert.equal(verify(file, 'alice', 'a pw'), true);
    // mosquitto_passwd reads the password up to the next ':' (strtok)
    assert.equal(verify(file, 'bob', 'b-pw'), true);
    assert.equal(verify(file, 'carol', 'c'), true);
    // running it again changes nothing
    const once = readFileSync(file, 'utf8');
    assert.equal((await passwd(['-U', file])).code, 0);
    assert.equal(readFileSync(file, 'utf8'), once);
  });

  test('a corrupt line stops the tool before anything is written', async () => {
    const file = path();
    const text = `alice:${await hashPassword('a')}\nno-colon-here\n`;
    writeFileSync(file, text);
    assert.deepEqual(await passwd(['-b', file, 'bob', 'b']), { code: 1, stdout: '', stderr: 'Error: Corrupt password file at line 2.\n' });
    assert.equal(readFileSync(file, 'utf8'), text);
    assert.equal((await passwd(['-U', file])).code, 1);
    assert.equal((await passwd(['-D', file, 'alice'])).code, 1);
    assert.equal(readFileSync(file, 'utf8'), text);
  });

  describe('interactive (no -b): "Password: " and "Reenter password: " from stdin', () => {
    test('matching passwords create the user', async () => {
      const file = path();
      const r = await passwd(['-c', file, 'alice'], 'typed pw\ntyped pw\n');
      assert.deepEqual(r, { code: 0, stdout: 'Password: \nReenter password: \n', stderr: '' });
      assert.equal(verify(file, 'alice', 'typed pw'), true);
    });

    test('lines may arrive in pieces and end in CRLF; the second line may lack its newline', async () => {
      const file = path();
      const r = await passwd(['-c', file, 'alice'], (stdin) => {
        stdin.write('ty');
        setImmediate(() => {
          stdin.write('ped\r\ntyp');
          setImmediate(() => stdin.end('ed'));
        });
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(verify(file, 'alice', 'typed'), true);
    });

    test('a mismatch exits 2 (as mosquitto_passwd does) and writes nothing', async () => {
      const file = path();
      writeFileSync(file, '');
      const r = await passwd([file, 'alice'], 'one\ntwo\n');
      assert.deepEqual(r, { code: 2, stdout: 'Password: \nReenter password: \n', stderr: 'Error: Passwords do not match.\n' });
      assert.equal(readFileSync(file, 'utf8'), '');
    });

    test('an empty password or end of input exits 1', async () => {
      const file = path();
      assert.deepEqual(await passwd(['-c', file, 'alice'], ''), { code: 1, stdout: 'Password: ', stderr: 'Error: Empty password.\n' });
      assert.deepEqual(await passwd(['-c', file, 'alice'], '\n'), { code: 1, stdout: 'Password: ', stderr: 'Error: Empty password.\n' });
      assert.deepEqual(await passwd(['-c', file, 'alice'], 'x\n'), { code: 1, stdout: 'Password: \nReenter password: ', stderr: 'Error: Empty password.\n' });
      assert.equal(existsSync(file), false);
    });

    test('on a terminal: raw mode (no echo) while reading, Backspace edits, Enter ends a line, raw mode restored', async () => {
      const file = path();
      const modes: boolean[] = [];
      const r = await passwd(
        ['-c', file, 'alice'],
        (stdin) => {
          (stdin as PassThrough & { setRawMode: (raw: boolean) => void }).setRawMode = (raw: boolean) => modes.push(raw);
          stdin.write('secrex\x7ft\r');
          stdin.write('secret\r');
        },
        true,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(modes, [true, false]);
      assert.equal(verify(file, 'alice', 'secret'), true);
    });

    test('on a terminal, Ctrl-C abandons the prompt', async () => {
      const file = path();
      const r = await passwd(
        ['-c', file, 'alice'],
        (stdin) => {
          (stdin as PassThrough & { setRawMode: (raw: boolean) => void }).setRawMode = () => undefined;
          stdin.write('sec\x03');
        },
        true,
      );
      assert.equal(r.code, 1);
      assert.equal(existsSync(file), false);
    });
  });

  describe("usage errors: mosquitto_passwd's messages, exit 1", () => {
    const cases: [string[], string][] = [
      [['-H'], 'Error: -H argument given but not enough other arguments.\n'],
      [['-H', 'md5', 'f', 'u'], "Error: Unknown hash type 'md5'\n"],
      [['-I'], 'Error: -I argument given but not enough other arguments.\n'],
      [['-I', '0', 'f', 'u'], 'Error: Number of iterations must be > 0.\n'],
      [['-I', 'many', 'f', 'u'], 'Error: Number of iterations must be > 0.\n'],
      [['-c', '-D', 'f', 'u'], 'Error: -c and -D cannot be used together.\n'],
      [['-c', '-U', 'f'], 'Error: -c and -U cannot be used together.\n'],
      [['-D', '-U', 'f'], 'Error: -D and -U cannot be used together.\n'],
      [['-b', '-D', 'f', 'u'], 'Error: -b and -D cannot be used together.\n'],
      [['-c', 'f'], 'Error: -c argument given but password file or username missing.\n'],
      [['-c', '-b', 'f', 'u'], 'Error: -c argument given but password file, username, or password missing.\n'],
      [['-D', 'f'], 'Error: -D argument given but password file or username missing.\n'],
      [['-U'], 'Error: -U argument given but password file missing.\n'],
      [['-U', 'f', 'extra'], 'Error: -U argument given but password file missing.\n'],
      [['-b', 'f', 'a:b', 'p'], "Error: Username must not contain the ':' character.\n"],
      [['-b', 'f', 'a\tb', 'p'], 'Error: Username must not contain control characters.\n'],
    ];
    for (const [args, stderr] of cases) {
      test(`culex passwd ${args.join(' ')}`, async () => {
        assert.deepEqual(await passwd(args), { code: 1, stdout: '', stderr });
      });
    }

    test('wrong positional counts print the usage (stdout), exit 1', async () => {
      assert.deepEqual(await passwd(['f']), { code: 1, stdout: PASSWD_USAGE, stderr: '' });
      assert.deepEqual(await passwd(['-b', 'f', 'u']), { code: 1, stdout: PASSWD_USAGE, stderr: '' });
      assert.deepEqual(await passwd(['-x', 'f', 'u']), { code: 1, stdout: PASSWD_USAGE, stderr: '' });
    });

    test('updating a missing file, or creating one in a missing directory', async () => {
      const missing = join(dir, 'missing');
      assert.deepEqual(await passwd(['-b', missing, 'u', 'p']), { code: 1, stdout: '', stderr: `Error: Unable to open password file ${missing}. No such file or directory.\n` });
      const nodir = join(dir, 'no-dir', 'pw');
      assert.deepEqual(await passwd(['-c', '-b', nodir, 'u', 'p']), { code: 1, stdout: '', stderr: `Error: Unable to open file ${nodir} for writing. No such file or directory.\n` });
    });

    test('an empty argon2id password cannot be hashed', async () => {
      const file = path();
      assert.deepEqual(await passwd(['-H', 'argon2id', '-c', '-b', file, 'u', '']), { code: 1, stdout: '', stderr: 'Error: Unable to hash password.\n' });
    });
  });
});
