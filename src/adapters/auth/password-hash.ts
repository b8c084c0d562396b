// The three password hash formats of mosquitto password files (read from mosquitto's
// src/password_mosq.c, 2.0, and libcommon/password_common.c, 2.1):
//
//   $6$<b64 salt>$<b64 hash>               hash = SHA-512(password || salt), ONE round (not
//                                          glibc's sha512-crypt); mosquitto 1.x's format
//   $7$<iterations>$<b64 salt>$<b64 hash>  hash = PBKDF2-HMAC-SHA512(password, salt, iterations, 64);
//                                          mosquitto 2.0's default (101 iterations, 12-byte salt)
//   $argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>   the PHC string of the reference argon2
//                                          library (unpadded base64); mosquitto 2.1's default
//
// Base64 in $6$/$7$ is standard and padded (OpenSSL's BIO). Salts are 12 bytes (2.0, and
// the only length 2.0 accepts) or 64 bytes (what 2.1 writes); hashes are 64 bytes.
//
// Decisions:
// - The password is every byte the client sent. mosquitto hashes a C string (strlen), so a
//   password with a zero byte is cut there; no file written by mosquitto_passwd can hold such
//   a password, so the only difference is that "abc\0xyz" no longer passes for "abc".
// - $7$ hashes are written with a 12-byte salt so mosquitto 2.0 reads them too.
// - $7$ with up to SYNC_PBKDF2_MAX_ITERATIONS iterations is checked synchronously (101
//   iterations take ~0.1 ms); more iterations (mosquitto 2.1 writes 210,000: ~120 ms) run on
//   libuv's thread pool so a login never stalls the event loop for long.
// - argon2id is computed with hash-wasm on the main thread (~100 ms at mosquitto 2.1's
//   m=47104,t=1): always async; the caller bounds how many run at once (PasswordFile does).
//   hash-wasm refuses an empty password, so an empty password never matches an argon2id hash.
// - Parameters beyond what Culex will compute (see ARGON2_LIMITS, MAX_PBKDF2_ITERATIONS) are
//   refused when the file is read, not when a client logs in.
import { createHash, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { argon2id } from 'hash-wasm';

export type PasswordHashType = 'sha512' | 'sha512-pbkdf2' | 'argon2id';

export type PasswordHashErrorCode =
  /** Not a $6$, $7$ or $argon2id$ string (a plain-text password, or another scheme). */
  | 'PASSWORD_HASH_UNKNOWN_TYPE'
  /** The right prefix, but missing fields, bad base64, wrong lengths or bad numbers. */
  | 'PASSWORD_HASH_MALFORMED'
  /** Well formed, but parameters Culex does not compute (argon2 v=16, huge memory or time cost). */
  | 'PASSWORD_HASH_UNSUPPORTED';

/** Why an encoded hash was refused. The message never contains the hash itself. */
export class PasswordHashError extends Error {
  readonly code: PasswordHashErrorCode;
  constructor(code: PasswordHashErrorCode, message: string) {
    super(message);
    this.name = 'PasswordHashError';
    this.code = code;
  }
}

export type ParsedPasswordHash =
  | { readonly type: 'sha512'; readonly salt: Buffer; readonly hash: Buffer }
  | { readonly type: 'sha512-pbkdf2'; readonly iterations: number; readonly salt: Buffer; readonly hash: Buffer }
  | {
      readonly type: 'argon2id';
      /** m, in KiB. */
      readonly memoryKiB: number;
      /** t. */
      readonly iterations: number;
      /** p. */
      readonly parallelism: number;
      readonly salt: Buffer;
      readonly hash: Buffer;
    };

/** mosquitto 2.0's salt length (and the only one it accepts). */
export const SALT_BYTES = 12;
/** What mosquitto 2.1 writes for new hashes (EVP_MAX_MD_SIZE). */
const SALT_BYTES_21 = 64;
const SHA512_BYTES = 64;
/** mosquitto_passwd 2.0's default; 2.1 uses 210,000. */
export const DEFAULT_PBKDF2_ITERATIONS = 101;
/** Above this many iterations, $7$ is verified off the event loop (crypto.pbkdf2). */
export const SYNC_PBKDF2_MAX_ITERATIONS = 10_000;
/** mosquitto reads the iterations with atoi into an int. */
export const MAX_PBKDF2_ITERATIONS = 2_147_483_647;

/** mosquitto 2.1's argon2id parameters (MOSQ_ARGON2_T/M/P; salt and hash of 64 bytes). */
export const DEFAULT_ARGON2 = { memoryKiB: 47104, iterations: 1, parallelism: 1, saltBytes: 64, hashBytes: 64 } as const;

/**
 * The argon2id parameters Culex computes. Wider than any sane file, narrow enough that one
 * login cannot take gigabytes or minutes: 1 GiB of memory, 64 passes, 64 lanes.
 */
export const ARGON2_LIMITS = { maxMemoryKiB: 1 << 20, maxIterations: 64, maxParallelism: 64, minSaltBytes: 8, maxSaltBytes: 1024, minHashBytes: 4, maxHashBytes: 1024 } as const;

const PADDED_B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const UNPADDED_B64 = /^[A-Za-z0-9+/]+$/;
const DECIMAL = /^[1-9][0-9]{0,9}$/;

function malformed(what: string): PasswordHashError {
  return new PasswordHashError('PASSWORD_HASH_MALFORMED', what);
}

function decodeB64(text: string, padded: boolean, what: string): Buffer {
  // Buffer.from(…, 'base64') skips characters it does not know; check the alphabet first.
  if (!(padded ? PADDED_B64 : UNPADDED_B64).test(text) || text.length % 4 === 1) throw malformed(`${what} is not valid base64`);
  return Buffer.from(text, 'base64');
}

/** Parses an encoded hash from a password file; throws PasswordHashError. */
export function parsePasswordHash(encoded: string): ParsedPasswordHash {
  if (encoded.startsWith('$6$')) {
    const fields = encoded.slice(3).split('$');
    if (fields.length !== 2) throw malformed('$6$ hash must be $6$<salt>$<hash>');
    return { type: 'sha512', ...saltAndHash(fields[0] as string, fields[1] as string, '$6$') };
  }
  if (encoded.startsWith('$7$')) {
    const fields = encoded.slice(3).split('$');
    if (fields.length !== 3) throw malformed('$7$ hash must be $7$<iterations>$<salt>$<hash>');
    const iterations = parseDecimal(fields[0] as string, '$7$ iterations');
    if (iterations > MAX_PBKDF2_ITERATIONS) throw malformed(`$7$ iterations must be at most ${MAX_PBKDF2_ITERATIONS}`);
    return { type: 'sha512-pbkdf2', iterations, ...saltAndHash(fields[1] as string, fields[2] as string, '$7$') };
  }
  if (encoded.startsWith('$argon2id$')) return parseArgon2id(encoded);
  if (/^\$argon2(i|d|ds)\$/.test(encoded)) {
    throw new PasswordHashError('PASSWORD_HASH_UNSUPPORTED', 'only the argon2id variant of argon2 is supported');
  }
  throw new PasswordHashError('PASSWORD_HASH_UNKNOWN_TYPE', 'not a $6$, $7$ or $argon2id$ hash (a plain-text password? hash the file with `culex passwd -U`)');
}

function parseDecimal(text: string, what: string): number {
  if (!DECIMAL.test(text)) throw malformed(`${what} must be a positive decimal number`);
  return Number(text);
}

function saltAndHash(saltText: string, hashText: string, prefix: string): { salt: Buffer; hash: Buffer } {
  const salt = decodeB64(saltText, true, `${prefix} salt`);
  if (salt.length !== SALT_BYTES && salt.length !== SALT_BYTES_21) {
    throw malformed(`${prefix} salt must be ${SALT_BYTES} or ${SALT_BYTES_21} bytes, not ${salt.length}`);
  }
  const hash = decodeB64(hashText, true, `${prefix} hash`);
  if (hash.length !== SHA512_BYTES) throw malformed(`${prefix} hash must be ${SHA512_BYTES} bytes, not ${hash.length}`);
  return { salt, hash };
}

// $argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<hash>, fields in this order (as the reference
// decoder requires). The version-less form of argon2 1.0 (v=16) is refused: hash-wasm
// computes only v=19.
function parseArgon2id(encoded: string): ParsedPasswordHash {
  const fields = encoded.split('$');
  // ['', 'argon2id', 'v=19', 'm=..,t=..,p=..', salt, hash]
  if (fields.length !== 6) throw malformed('$argon2id$ hash must be $argon2id$v=19$m=M,t=T,p=P$<salt>$<hash>');
  const [, , version, params, saltText, hashText] = fields as [string, string, string, string, string, string];
  const v = /^v=([0-9]+)$/.exec(version);
  if (v === null) throw malformed('$argon2id$ hash needs a version field v=19');
  if (v[1] !== '19') throw new PasswordHashError('PASSWORD_HASH_UNSUPPORTED', `argon2 version ${v[1]} is not supported (only v=19)`);
  const p = /^m=([0-9]+),t=([0-9]+),p=([0-9]+)$/.exec(params);
  if (p === null) throw malformed('$argon2id$ parameters must be m=M,t=T,p=P');
  const [memoryKiB, iterations, parallelism] = [p[1], p[2], p[3]].map((n) => parseDecimal(n as string, 'argon2id m, t and p')) as [number, number, number];
  if (memoryKiB < 8 * parallelism) throw malformed('argon2id memory must be at least 8 KiB per lane');
  if (memoryKiB > ARGON2_LIMITS.maxMemoryKiB || iterations > ARGON2_LIMITS.maxIterations || parallelism > ARGON2_LIMITS.maxParallelism) {
    throw new PasswordHashError(
      'PASSWORD_HASH_UNSUPPORTED',
      `argon2id parameters beyond Culex's limits (m <= ${ARGON2_LIMITS.maxMemoryKiB}, t <= ${ARGON2_LIMITS.maxIterations}, p <= ${ARGON2_LIMITS.maxParallelism})`,
    );
  }
  const salt = decodeB64(saltText, false, 'argon2id salt');
  if (salt.length < ARGON2_LIMITS.minSaltBytes || salt.length > ARGON2_LIMITS.maxSaltBytes) {
    throw malformed(`argon2id salt must be ${ARGON2_LIMITS.minSaltBytes} to ${ARGON2_LIMITS.maxSaltBytes} bytes`);
  }
  const hash = decodeB64(hashText, false, 'argon2id hash');
  if (hash.length < ARGON2_LIMITS.minHashBytes || hash.length > ARGON2_LIMITS.maxHashBytes) {
    throw malformed(`argon2id hash must be ${ARGON2_LIMITS.minHashBytes} to ${ARGON2_LIMITS.maxHashBytes} bytes`);
  }
  return { type: 'argon2id', memoryKiB, iterations, parallelism, salt, hash };
}

function sameBytes(a: Buffer | Uint8Array, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function sha512Salted(password: Buffer, salt: Buffer): Buffer {
  return createHash('sha512').update(password).update(salt).digest();
}

/** Computes the argon2id tag for `password` (hash-wasm; async). */
async function argon2idTag(password: Buffer, salt: Buffer, memoryKiB: number, iterations: number, parallelism: number, hashBytes: number): Promise<Uint8Array> {
  return argon2id({ password, salt, memorySize: memoryKiB, iterations, parallelism, hashLength: hashBytes, outputType: 'binary' });
}

/**
 * Checks a password against a parsed hash, in constant time for a given hash. Synchronous for
 * $6$ and for $7$ up to SYNC_PBKDF2_MAX_ITERATIONS; a Promise otherwise. Never rejects for a
 * wrong password (only for an internal failure).
 */
export function verifyPasswordHash(parsed: ParsedPasswordHash, password: Buffer): boolean | Promise<boolean> {
  switch (parsed.type) {
    case 'sha512':
      return sameBytes(sha512Salted(password, parsed.salt), parsed.hash);
    case 'sha512-pbkdf2':
      if (parsed.iterations <= SYNC_PBKDF2_MAX_ITERATIONS) {
        return sameBytes(pbkdf2Sync(password, parsed.salt, parsed.iterations, parsed.hash.length, 'sha512'), parsed.hash);
      }
      return new Promise((resolve, reject) => {
        pbkdf2(password, parsed.salt, parsed.iterations, parsed.hash.length, 'sha512', (err, key) => (err ? reject(err) : resolve(sameBytes(key, parsed.hash))));
      });
    case 'argon2id':
      if (password.length === 0) return Promise.resolve(false);
      return argon2idTag(password, parsed.salt, parsed.memoryKiB, parsed.iterations, parsed.parallelism, parsed.hash.length).then((tag) =>
        sameBytes(tag, parsed.hash),
      );
  }
}

export interface HashOptions {
  /** Default 'sha512-pbkdf2' ($7$). */
  type?: PasswordHashType;
  /** PBKDF2 iterations for $7$ (default 101, mosquitto 2.0's); ignored by the other types, as mosquitto_passwd does. */
  iterations?: number;
  /** Fixed salt, for tests only; random otherwise. */
  salt?: Buffer;
}

/**
 * Hashes a password in mosquitto's encoding, with a fresh random salt: $7$ by default
 * (12-byte salt, so mosquitto 2.0 reads it), $6$, or argon2id with mosquitto 2.1's parameters.
 * Rejects with PasswordHashError for an empty argon2id password (hash-wasm cannot hash one).
 */
export async function hashPassword(password: Buffer | string, options: HashOptions = {}): Promise<string> {
  const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  const type = options.type ?? 'sha512-pbkdf2';
  switch (type) {
    case 'sha512': {
      const salt = options.salt ?? randomBytes(SALT_BYTES);
      return `$6$${salt.toString('base64')}$${sha512Salted(pw, salt).toString('base64')}`;
    }
    case 'sha512-pbkdf2': {
      const iterations = options.iterations ?? DEFAULT_PBKDF2_ITERATIONS;
      if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) {
        throw malformed(`iterations must be an integer from 1 to ${MAX_PBKDF2_ITERATIONS}`);
      }
      const salt = options.salt ?? randomBytes(SALT_BYTES);
      const hash = await new Promise<Buffer>((resolve, reject) =>
        pbkdf2(pw, salt, iterations, SHA512_BYTES, 'sha512', (err, key) => (err ? reject(err) : resolve(key))),
      );
      return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
    }
    case 'argon2id': {
      if (pw.length === 0) throw new PasswordHashError('PASSWORD_HASH_UNSUPPORTED', 'argon2id cannot hash an empty password');
      const { memoryKiB, iterations, parallelism, saltBytes, hashBytes } = DEFAULT_ARGON2;
      const salt = options.salt ?? randomBytes(saltBytes);
      const tag = Buffer.from(await argon2idTag(pw, salt, memoryKiB, iterations, parallelism, hashBytes));
      return `$argon2id$v=19$m=${memoryKiB},t=${iterations},p=${parallelism}$${unpadded(salt)}$${unpadded(tag)}`;
    }
  }
}

function unpadded(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}
