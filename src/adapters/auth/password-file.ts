// A mosquitto password file: one `user:hash` per line, read at startup and again on SIGHUP.
//
// The line rules are the mosquitto broker's (src/security_default.c, pwfile__parse):
// - a line whose FIRST character is '#' is a comment ("  # x" is not);
// - the user name is the text before the first ':', the hash the text after it, both
//   trimmed of blanks (isspace: space, tab, CR, LF, VT, FF), so CRLF files work;
// - user names and hashes are at most 65535 bytes.
//
// Where mosquitto is silent or lenient, Culex is strict, because a half-read password file
// fails in confusing ways later (decisions):
// - A line that is not blank, not a comment and has no ':' is an error (mosquitto skips it
//   silently; mosquitto_passwd calls it "Corrupt password file").
// - A hash that is not $6$, $7$ or $argon2id$, or does not decode, is an error (mosquitto
//   logs it and drops the user). So is a plain-text password: run `culex passwd -U` first.
// - A user named twice is an error (mosquitto lets the last line win without a word).
// Every error names file:line and, where known, the user, never the hash.
//
// A failed reload() throws and keeps the table it had. The table is bounded by the file:
// one entry per line; nothing here is keyed by client input.
import { readFileSync } from 'node:fs';
import { pbkdf2Sync } from 'node:crypto';
import {
  DEFAULT_PBKDF2_ITERATIONS,
  PasswordHashError,
  parsePasswordHash,
  verifyPasswordHash,
  type ParsedPasswordHash,
  type PasswordHashErrorCode,
} from './password-hash.js';

export type PasswordFileErrorCode =
  /** The file could not be read (missing, no permission, a directory). */
  | 'PASSWORD_FILE_UNREADABLE'
  /** A line is not `user:hash` (no ':', empty user name or hash, too long). */
  | 'PASSWORD_FILE_SYNTAX'
  /** The same user name on two lines. */
  | 'PASSWORD_FILE_DUPLICATE_USER'
  /** A hash was refused (see PasswordHashErrorCode). */
  | PasswordHashErrorCode
  /** Too many argon2id checks already waiting (see PasswordFileOptions.maxArgon2Waiting). */
  | 'PASSWORD_VERIFY_BUSY';

export class PasswordFileError extends Error {
  readonly code: PasswordFileErrorCode;
  readonly file: string;
  /** 1-based line number, when the problem is on one line. */
  readonly line: number | undefined;
  constructor(code: PasswordFileErrorCode, file: string, line: number | undefined, problem: string, cause?: unknown) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${problem}`, cause === undefined ? undefined : { cause });
    this.name = 'PasswordFileError';
    this.code = code;
    this.file = file;
    this.line = line;
  }
}

/** One user of the file. */
export interface PasswordEntry {
  readonly username: string;
  readonly line: number;
  readonly hash: ParsedPasswordHash;
}

/** mosquitto's limit on user names and hashes in the file. */
const MAX_FIELD_BYTES = 65535;
/** C isspace(), which mosquitto's misc__trimblanks uses (String.trim also strips Unicode spaces). */
const BLANKS = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;

function trimBlanks(s: string): string {
  return s.replace(BLANKS, '');
}

/** Parses the text of a password file; throws PasswordFileError naming `file`:line. */
export function parsePasswordFile(text: string, file: string): Map<string, PasswordEntry> {
  const table = new Map<string, PasswordEntry>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const line = i + 1;
    if (raw.startsWith('#') || trimBlanks(raw) === '') continue;
    const colon = raw.indexOf(':');
    if (colon < 0) throw new PasswordFileError('PASSWORD_FILE_SYNTAX', file, line, 'expected user:hash (no ":" on this line)');
    const username = trimBlanks(raw.slice(0, colon));
    const encoded = trimBlanks(raw.slice(colon + 1));
    if (username === '') throw new PasswordFileError('PASSWORD_FILE_SYNTAX', file, line, 'empty user name');
    if (Buffer.byteLength(username) > MAX_FIELD_BYTES) throw new PasswordFileError('PASSWORD_FILE_SYNTAX', file, line, `user name longer than ${MAX_FIELD_BYTES} bytes`);
    const who = `user ${JSON.stringify(username)}`;
    if (encoded === '') throw new PasswordFileError('PASSWORD_FILE_SYNTAX', file, line, `${who}: no password hash`);
    if (encoded.length > MAX_FIELD_BYTES) throw new PasswordFileError('PASSWORD_FILE_SYNTAX', file, line, `${who}: hash longer than ${MAX_FIELD_BYTES} bytes`);
    const previous = table.get(username);
    if (previous !== undefined) {
      throw new PasswordFileError('PASSWORD_FILE_DUPLICATE_USER', file, line, `${who} appears again (first on line ${previous.line})`);
    }
    let hash: ParsedPasswordHash;
    try {
      hash = parsePasswordHash(encoded);
    } catch (err) {
      if (err instanceof PasswordHashError) throw new PasswordFileError(err.code, file, line, `${who}: ${err.message}`);
      throw err;
    }
    table.set(username, { username, line, hash });
  }
  return table;
}

export interface PasswordFileOptions {
  /** argon2id checks computed at once (each holds m KiB of memory). Default 1. */
  maxArgon2Concurrent?: number;
  /** argon2id checks allowed to wait; beyond, verify() rejects with PASSWORD_VERIFY_BUSY. Default 64. */
  maxArgon2Waiting?: number;
}

/** The password source StandardAuthenticator needs; PasswordFile satisfies it. */
export interface PasswordVerifier {
  has(username: string): boolean;
  verify(username: string, password: Buffer): boolean | Promise<boolean>;
}

export class PasswordFile implements PasswordVerifier {
  readonly path: string;
  #table: Map<string, PasswordEntry>;
  readonly #argon2: Gate;
  /** Checked for unknown users, so "no such user" takes as long as a default $7$ check. */
  readonly #decoySalt = Buffer.alloc(12, 0x5a);

  private constructor(path: string, table: Map<string, PasswordEntry>, options: PasswordFileOptions) {
    this.path = path;
    this.#table = table;
    this.#argon2 = new Gate(options.maxArgon2Concurrent ?? 1, options.maxArgon2Waiting ?? 64);
  }

  /** Reads and parses the file; throws PasswordFileError. */
  static load(path: string, options: PasswordFileOptions = {}): PasswordFile {
    return new PasswordFile(path, readTable(path), options);
  }

  /** Re-reads the file (SIGHUP). On any error the current table stays and the error is thrown. */
  reload(): void {
    this.#table = readTable(this.path);
  }

  /** Number of users. */
  get size(): number {
    return this.#table.size;
  }

  has(username: string): boolean {
    return this.#table.has(username);
  }

  /** The users in file order (for tests and tooling). */
  usernames(): string[] {
    return [...this.#table.keys()];
  }

  /**
   * True when `password` matches the user's hash. Synchronous for $6$ and ordinary $7$
   * hashes; a Promise for argon2id and high-iteration $7$. An unknown user is false.
   * Rejects with PASSWORD_VERIFY_BUSY when too many argon2id checks are already queued.
   */
  verify(username: string, password: Buffer): boolean | Promise<boolean> {
    const entry = this.#table.get(username);
    if (entry === undefined) {
      pbkdf2Sync(password, this.#decoySalt, DEFAULT_PBKDF2_ITERATIONS, 64, 'sha512');
      return false;
    }
    const hash = entry.hash;
    if (hash.type !== 'argon2id') return verifyPasswordHash(hash, password);
    const ran = this.#argon2.run(() => verifyPasswordHash(hash, password) as Promise<boolean>);
    if (ran === undefined) {
      return Promise.reject(new PasswordFileError('PASSWORD_VERIFY_BUSY', this.path, undefined, `too many argon2id checks waiting (user ${JSON.stringify(username)})`));
    }
    return ran;
  }
}

function readTable(path: string): Map<string, PasswordEntry> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PasswordFileError('PASSWORD_FILE_UNREADABLE', path, undefined, `cannot read the password file: ${(err as Error).message}`, err);
  }
  return parsePasswordFile(text, path);
}

/** At most `max` tasks at once and `maxWaiting` queued; run() returns undefined when full. */
class Gate {
  readonly #max: number;
  readonly #maxWaiting: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(max: number, maxWaiting: number) {
    this.#max = Math.max(1, max);
    this.#maxWaiting = Math.max(0, maxWaiting);
  }

  run<T>(task: () => Promise<T>): Promise<T> | undefined {
    if (this.#running >= this.#max && this.#waiting.length >= this.#maxWaiting) return undefined;
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.#running++;
        let result: Promise<T>;
        try {
          result = task();
        } catch (err) {
          result = Promise.reject(err);
        }
        result.then(resolve, reject).finally(() => {
          this.#running--;
          this.#waiting.shift()?.();
        });
      };
      if (this.#running < this.#max) start();
      else this.#waiting.push(start);
    });
  }
}
