// `culex passwd`: mosquitto_passwd's options, messages and exit codes (read from
// apps/mosquitto_passwd of mosquitto 2.0 and 2.1, and checked against Debian's 2.0.11), plus
// -H argon2id from 2.1. The files it writes are read by PasswordFile and by mosquitto
// (2.0 reads $6$ and $7$; 2.1 also argon2id).
//
// Where Culex departs from mosquitto_passwd 2.0.11, on purpose:
// - Comment ('#' first) and blank lines are kept where they are. mosquitto_passwd 2.0.11
//   reports them as "Corrupt password file" and, when adding a user, silently drops every
//   line from the comment on; its broker accepts them, so Culex's tool does too.
// - A corrupt line stops the tool before anything is written; the file is left as it was.
// - The file is replaced atomically (a temporary file in the same directory, then rename),
//   not rewritten in place, so a crash never leaves half a file. A new file (-c) gets mode
//   0600; an updated file keeps its mode and, where permitted, its owner and group.
// - -U keeps lines that already hold a valid hash instead of hashing the hash (mosquitto's
//   -U on a hashed file makes every password unusable), and honours -I.
// - A passwords mismatch exits 2, an empty password 1: mosquitto_passwd's own codes.
import { randomBytes } from 'node:crypto';
import { chown, open, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import {
  DEFAULT_PBKDF2_ITERATIONS,
  MAX_PBKDF2_ITERATIONS,
  hashPassword,
  parsePasswordHash,
  type PasswordHashType,
} from '../adapters/auth/password-hash.js';

export interface PasswdIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** stdin is a terminal: passwords are read without echo (raw mode). */
  isTTY?: boolean;
}

export const PASSWD_USAGE = `culex passwd is a tool for managing password files for Culex and mosquitto.

Usage: culex passwd [-H argon2id | -H sha512-pbkdf2 | -H sha512] [-I iterations] [-c | -D] passwordfile username
       culex passwd [-H argon2id | -H sha512-pbkdf2 | -H sha512] [-I iterations] [-c] -b passwordfile username password
       culex passwd [-H argon2id | -H sha512-pbkdf2 | -H sha512] [-I iterations] -U passwordfile
 -b : run in batch mode to allow passing passwords on the command line.
 -c : create a new password file. This will overwrite existing files.
 -D : delete the username rather than adding/updating its password.
 -H : specify the hashing algorithm. Defaults to sha512-pbkdf2 ($7$), which mosquitto 2.0 and later read.
      argon2id is read by mosquitto 2.1 and later; sha512 ($6$) by every version.
 -I : iterations of sha512-pbkdf2 (default ${DEFAULT_PBKDF2_ITERATIONS}, as mosquitto_passwd 2.0).
 -U : update a plain text password file to use hashed passwords (lines already hashed are kept).

Password file lines are user:hash; lines starting with # and blank lines are kept as they are.

`;

const MAX_FIELD = 65535;

type Lines = { text: string; entry: { username: string; value: string } | undefined }[];

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export async function runPasswd(args: string[], io: PasswdIo): Promise<number> {
  const err = (message: string): void => void io.stderr.write(`${message}\n`);
  try {
    return await passwd(args, io, err);
  } catch (e) {
    if (e instanceof Exit) return e.code;
    throw e;
  }
}

async function passwd(args: string[], io: PasswdIo, err: (m: string) => void): Promise<number> {
  const fail = (message: string, code = 1): never => {
    err(message);
    throw new Exit(code);
  };
  if (args.length === 0) {
    io.stdout.write(PASSWD_USAGE);
    return 1;
  }
  let type: PasswordHashType = 'sha512-pbkdf2';
  let iterations = DEFAULT_PBKDF2_ITERATIONS;
  let batch = false;
  let create = false;
  let del = false;
  let upgrade = false;
  let idx = 0;
  for (; idx < args.length; idx++) {
    const a = args[idx];
    if (a === '-H') {
      const value = args[idx + 1];
      if (value === undefined) fail('Error: -H argument given but not enough other arguments.');
      if (value === 'sha512' || value === 'sha512-pbkdf2' || value === 'argon2id') type = value;
      else fail(`Error: Unknown hash type '${value}'`);
      idx++;
    } else if (a === '-b') batch = true;
    else if (a === '-c') create = true;
    else if (a === '-D') del = true;
    else if (a === '-U') upgrade = true;
    else if (a === '-I') {
      const value = args[idx + 1];
      if (value === undefined) fail('Error: -I argument given but not enough other arguments.');
      iterations = atoi(value as string);
      idx++;
      if (iterations < 1) fail('Error: Number of iterations must be > 0.');
      if (iterations > MAX_PBKDF2_ITERATIONS) fail(`Error: Number of iterations must be at most ${MAX_PBKDF2_ITERATIONS}.`);
    } else break;
  }
  if (create && del) fail('Error: -c and -D cannot be used together.');
  if (create && upgrade) fail('Error: -c and -U cannot be used together.');
  if (del && upgrade) fail('Error: -D and -U cannot be used together.');
  if (del && batch) fail('Error: -b and -D cannot be used together.');

  const rest = args.slice(idx);
  let file: string;
  let username: string | undefined;
  let password: string | undefined;
  if (create) {
    if (batch && rest.length < 3) fail('Error: -c argument given but password file, username, or password missing.');
    if (!batch && rest.length < 2) fail('Error: -c argument given but password file or username missing.');
    [file, username, password] = rest as [string, string, string | undefined];
    if (!batch) password = undefined;
  } else if (del) {
    if (rest.length < 2) fail('Error: -D argument given but password file or username missing.');
    [file, username] = rest as [string, string];
  } else if (upgrade) {
    if (rest.length !== 1) fail('Error: -U argument given but password file missing.');
    file = rest[0] as string;
  } else if ((batch && rest.length === 3) || (!batch && rest.length === 2)) {
    [file, username, password] = rest as [string, string, string | undefined];
  } else {
    io.stdout.write(PASSWD_USAGE);
    return 1;
  }
  if (username !== undefined) checkUsername(username, fail);
  if (password !== undefined && Buffer.byteLength(password) > MAX_FIELD) fail('Error: Password must be less than 65536 characters long.');

  const path = await realpath(file).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return file;
    return fail(`Error reading password file: ${strerror(e)}`);
  });
  const hash = async (pw: string): Promise<string> => {
    try {
      return await hashPassword(pw, { type, iterations });
    } catch {
      return fail('Error: Unable to hash password.');
    }
  };

  if (create) {
    const pw = password ?? (await askPassword(io, fail));
    const line = `${username as string}:${await hash(pw)}\n`;
    await writeAtomically(path, line, undefined).catch((e: NodeJS.ErrnoException) => fail(`Error: Unable to open file ${path} for writing. ${strerror(e)}.`));
    return 0;
  }

  let text: string;
  let mode: number;
  let owner: { uid: number; gid: number };
  try {
    const st = await stat(path);
    mode = st.mode & 0o7777;
    owner = { uid: st.uid, gid: st.gid };
    text = await readFile(path, 'utf8');
  } catch (e) {
    return fail(`Error: Unable to open password file ${path}. ${strerror(e as NodeJS.ErrnoException)}.`);
  }
  const lines = splitLines(text, fail);
  if (del) {
    const kept = lines.filter((l) => l.entry?.username !== username);
    if (kept.length === lines.length) fail(`Warning: User ${username as string} not found in password file.`);
    lines.splice(0, lines.length, ...kept);
  } else if (upgrade) {
    for (const l of lines) {
      if (l.entry === undefined || isHash(l.entry.value)) continue;
      l.text = `${l.entry.username}:${await hash(l.entry.value)}`;
    }
  } else {
    const pw = password ?? (await askPassword(io, fail));
    const line = `${username as string}:${await hash(pw)}`;
    let found = false;
    for (const l of lines) {
      if (l.entry?.username !== username) continue;
      l.text = line;
      found = true;
    }
    if (!found) lines.push({ text: line, entry: undefined });
  }
  const out = lines.map((l) => `${l.text}\n`).join('');
  await writeAtomically(path, out, { mode, ...owner }).catch((e: NodeJS.ErrnoException) =>
    fail(`Error occurred updating password file.\nError: ${strerror(e)}.`),
  );
  return 0;
}

/** C atoi: leading blanks, an optional sign, digits; anything else gives 0. */
function atoi(text: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(text);
  return m === null ? 0 : Number(m[1]);
}

function checkUsername(username: string, fail: (m: string) => never): void {
  if (Buffer.byteLength(username) > MAX_FIELD) fail('Error: Username must be less than 65536 characters long.');
  // iscntrl() in the C locale: 0x00-0x1F and 0x7F
  for (const ch of username) {
    const c = ch.charCodeAt(0);
    if (c < 0x20 || c === 0x7f) fail('Error: Username must not contain control characters.');
  }
  if (username.includes(':')) fail("Error: Username must not contain the ':' character.");
}

function isHash(value: string): boolean {
  try {
    parsePasswordHash(value);
    return true;
  } catch {
    return false;
  }
}

const BLANKS = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;

/**
 * The file as lines (without their '\n'), each user:value line with its parsed fields. The
 * value is the text up to the next ':' (mosquitto_passwd's strtok), which matters only for
 * plain-text passwords under -U. A line that is neither a comment, blank nor user:value fails.
 */
function splitLines(text: string, fail: (m: string) => never): Lines {
  const raw = text.split('\n');
  if (raw[raw.length - 1] === '') raw.pop();
  return raw.map((line, i) => {
    if (line.startsWith('#') || line.replace(BLANKS, '') === '') return { text: line, entry: undefined };
    const [user, value] = line.split(':', 2).map((s) => s.replace(BLANKS, ''));
    if (user === undefined || user === '' || value === undefined || value === '') return fail(`Error: Corrupt password file at line ${i + 1}.`);
    return { text: line, entry: { username: user, value } };
  });
}

async function writeAtomically(path: string, content: string, keep: { mode: number; uid: number; gid: number } | undefined): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const mode = keep?.mode ?? 0o600;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    try {
      await fh.writeFile(content);
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (keep !== undefined) {
      // only root may give a file away; anyone else keeps their own ownership
      await chown(tmp, keep.uid, keep.gid).catch(() => undefined);
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  EROFS: 'Read-only file system',
  ENOSPC: 'No space left on device',
  ELOOP: 'Too many levels of symbolic links',
};

function strerror(e: NodeJS.ErrnoException): string {
  return (e.code !== undefined ? STRERROR[e.code] : undefined) ?? e.message;
}

/** mosquitto_passwd's get_password(): two prompts, no echo on a terminal. */
async function askPassword(io: PasswdIo, fail: (m: string, code?: number) => never): Promise<string> {
  const input = new LineInput(io.stdin, io.isTTY === true);
  try {
    io.stdout.write('Password: ');
    const first = await input.readLine();
    if (first === null || first === '') fail('Error: Empty password.');
    io.stdout.write('\n');
    io.stdout.write('Reenter password: ');
    const second = await input.readLine();
    if (second === null || second === '') fail('Error: Empty password.');
    io.stdout.write('\n');
    if (first !== second) fail('Error: Passwords do not match.', 2);
    if (Buffer.byteLength(first as string) > MAX_FIELD) fail('Error: Password must be less than 65536 characters long.');
    return first as string;
  } finally {
    input.close();
  }
}

type TtyReadable = Readable & { setRawMode?: (raw: boolean) => unknown };

/**
 * Reads lines from stdin, one at a time, keeping what arrived after a line for the next read.
 * On a terminal it switches to raw mode so the password is not echoed, and handles Enter,
 * Backspace, Ctrl-C (abort) and Ctrl-D (end) itself. Holds at most one line of MAX_FIELD + 1
 * characters; a longer line is cut there (and then refused as too long).
 */
class LineInput {
  readonly #stdin: TtyReadable;
  readonly #raw: boolean;
  #buffer = '';
  #ended = false;
  #aborted = false;
  #wake: (() => void) | undefined;
  readonly #onData = (chunk: Buffer | string): void => {
    const s = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    this.#buffer = this.#raw ? this.#cooked(this.#buffer, s) : this.#buffer + s;
    this.#notify();
  };
  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#notify();
  };

  constructor(stdin: Readable, tty: boolean) {
    this.#stdin = stdin as TtyReadable;
    this.#raw = tty && typeof this.#stdin.setRawMode === 'function';
    if (this.#raw) this.#stdin.setRawMode?.(true);
    stdin.on('data', this.#onData);
    stdin.on('end', this.#onEnd);
    stdin.on('error', this.#onEnd);
    stdin.resume();
  }

  async readLine(): Promise<string | null> {
    for (;;) {
      if (this.#aborted) return null;
      const nl = this.#buffer.indexOf('\n');
      if (nl >= 0) {
        const line = this.#buffer.slice(0, nl);
        this.#buffer = this.#buffer.slice(nl + 1);
        return line.replace(/[\r\n]+$/, '');
      }
      if (this.#buffer.length > MAX_FIELD) {
        const line = this.#buffer;
        this.#buffer = '';
        return line;
      }
      if (this.#ended) {
        if (this.#buffer === '') return null;
        const line = this.#buffer;
        this.#buffer = '';
        return line.replace(/\r+$/, '');
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  close(): void {
    this.#stdin.off('data', this.#onData);
    this.#stdin.off('end', this.#onEnd);
    this.#stdin.off('error', this.#onEnd);
    if (this.#raw) this.#stdin.setRawMode?.(false);
    this.#stdin.pause();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  // A terminal in raw mode sends keys, not lines.
  #cooked(buffer: string, keys: string): string {
    let out = buffer;
    for (const ch of keys) {
      if (ch === '\r' || ch === '\n') out += '\n';
      else if (ch === '\x7f' || ch === '\b') out = out.endsWith('\n') ? out : out.slice(0, -1);
      else if (ch === '\x03') this.#aborted = true;
      else if (ch === '\x04') this.#ended = true;
      else out += ch;
    }
    return out;
  }
}
