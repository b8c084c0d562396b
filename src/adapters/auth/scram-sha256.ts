// SCRAM-SHA-256 (RFC 5802, RFC 7677) as an MQTT 5 enhanced authentication method, server
// side. Authentication Data carries the SCRAM messages: client-first in CONNECT (or AUTH
// 0x19), server-first in AUTH 0x18, client-final in AUTH 0x18, server-final in CONNACK (or
// AUTH 0x00).
//
// Limits, on purpose:
// - No channel binding: the gs2 flag must be "n" or "y" ("p=..." is refused), and the
//   method is not offered as SCRAM-SHA-256-PLUS.
// - No authorization identity (gs2 "a=" must be empty) and no mandatory extensions ("m=").
// - SASLprep (RFC 4013): user names and passwords are limited to printable ASCII
//   (0x20-0x7E), for which SASLprep changes nothing; anything else is refused.
// - Only derived keys are stored (salt, iterations, StoredKey, ServerKey), never passwords.
// - An unknown user gets a server-first with a stable fake salt and fails at the proof, so
//   the exchange does not reveal which users exist (RFC 5802 section 5.1).
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ReasonCode } from '../../protocol/reason-codes.js';
import type { AuthMethod, AuthSession, AuthStartContext, AuthStep } from '../../core/ports.js';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
/** RFC 7677 section 4: at least 4096 iterations. */
export const SCRAM_MIN_ITERATIONS = 4096;
/** Longest client message accepted, in bytes. */
const MAX_MESSAGE = 2048;

/** What the server keeps per user (RFC 5802 section 3): nothing that is the password. */
export interface ScramCredentials {
  readonly salt: Buffer;
  readonly iterations: number;
  /** H(HMAC(SaltedPassword, "Client Key")) */
  readonly storedKey: Buffer;
  /** HMAC(SaltedPassword, "Server Key") */
  readonly serverKey: Buffer;
}

/** User name -> credentials; may answer asynchronously (a database). */
export interface ScramCredentialStore {
  get(username: string): ScramCredentials | undefined | Promise<ScramCredentials | undefined>;
}

export class MemoryScramCredentialStore implements ScramCredentialStore {
  readonly #users = new Map<string, ScramCredentials>();

  set(username: string, credentials: ScramCredentials): this {
    this.#users.set(username, credentials);
    return this;
  }

  delete(username: string): boolean {
    return this.#users.delete(username);
  }

  get(username: string): ScramCredentials | undefined {
    return this.#users.get(username);
  }
}

/** Derives the stored credentials of a password (for a password tool or a test). */
export function scramCredentials(password: string, salt: Buffer = randomBytes(16), iterations = SCRAM_MIN_ITERATIONS): ScramCredentials {
  if (!isPrintableAscii(password)) throw new TypeError('SCRAM passwords are limited to printable ASCII (no SASLprep)');
  if (!Number.isInteger(iterations) || iterations < SCRAM_MIN_ITERATIONS) {
    throw new RangeError(`SCRAM iteration count must be an integer >= ${SCRAM_MIN_ITERATIONS}`);
  }
  if (salt.length === 0) throw new RangeError('SCRAM salt must not be empty');
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  return {
    salt: Buffer.from(salt),
    iterations,
    storedKey: sha256(hmac(salted, 'Client Key')),
    serverKey: hmac(salted, 'Server Key'),
  };
}

export interface ScramSha256Options {
  store: ScramCredentialStore;
  /** Source of server nonces (printable ASCII without ","); default 18 random bytes in base64. */
  nonce?: () => string;
  /** Iteration count shown to unknown users, to look like a real one; default 4096. */
  fakeIterations?: number;
}

export class ScramSha256 implements AuthMethod {
  readonly name = SCRAM_SHA_256;
  readonly #store: ScramCredentialStore;
  readonly #nonce: () => string;
  readonly #fakeIterations: number;
  /** Keys the fake salts of unknown users: stable per user within this process. */
  readonly #fakeSaltKey = randomBytes(32);

  constructor(options: ScramSha256Options) {
    this.#store = options.store;
    this.#nonce = options.nonce ?? (() => randomBytes(18).toString('base64'));
    this.#fakeIterations = options.fakeIterations ?? SCRAM_MIN_ITERATIONS;
  }

  start(ctx: AuthStartContext): AuthSession {
    return new ScramServerSession(ctx, {
      store: this.#store,
      nonce: this.#nonce,
      fake: (username) => ({
        salt: hmac(this.#fakeSaltKey, username).subarray(0, 16),
        iterations: this.#fakeIterations,
      }),
    });
  }
}

interface SessionDeps {
  store: ScramCredentialStore;
  nonce: () => string;
  fake: (username: string) => { salt: Buffer; iterations: number };
}

const BAD_CREDENTIALS: AuthStep = Object.freeze({ kind: 'failure', reasonCode: ReasonCode.BAD_USER_NAME_OR_PASSWORD });
const REFUSED: AuthStep = Object.freeze({ kind: 'failure', reasonCode: ReasonCode.NOT_AUTHORIZED });

/** One SCRAM exchange: client-first, then client-final; anything after that fails. */
class ScramServerSession implements AuthSession {
  readonly #ctx: AuthStartContext;
  readonly #deps: SessionDeps;
  #phase: 'first' | 'final' | 'done' = 'first';
  #gs2Header = '';
  #clientFirstBare = '';
  #serverFirst = '';
  #nonce = '';
  #username = '';
  /** undefined: an unknown user, who fails at the proof. */
  #credentials: ScramCredentials | undefined;

  constructor(ctx: AuthStartContext, deps: SessionDeps) {
    this.#ctx = ctx;
    this.#deps = deps;
  }

  step(data: Buffer | undefined): AuthStep | Promise<AuthStep> {
    const phase = this.#phase;
    this.#phase = 'done';
    const text = data === undefined ? undefined : asciiMessage(data);
    if (text === undefined) return REFUSED;
    if (phase === 'first') return this.#clientFirst(text);
    if (phase === 'final') return this.#clientFinal(text);
    return REFUSED;
  }

  #clientFirst(text: string): AuthStep | Promise<AuthStep> {
    // gs2-header: cbind-flag "," [authzid] ","
    const c1 = text.indexOf(',');
    const c2 = c1 < 0 ? -1 : text.indexOf(',', c1 + 1);
    if (c2 < 0) return REFUSED;
    const flag = text.slice(0, c1);
    if (flag !== 'n' && flag !== 'y') return REFUSED; // "p=..." asks for channel binding: not supported
    if (c2 !== c1 + 1) return REFUSED; // an authorization identity: not supported
    this.#gs2Header = text.slice(0, c2 + 1);
    const bare = text.slice(c2 + 1);
    const attrs = bare.split(',');
    const userAttr = attrs[0] ?? '';
    const nonceAttr = attrs[1] ?? '';
    if (!userAttr.startsWith('n=') || !nonceAttr.startsWith('r=')) return REFUSED; // includes "m=" (reserved-mext)
    const username = decodeSaslName(userAttr.slice(2));
    const clientNonce = nonceAttr.slice(2);
    if (username === undefined || !isNonce(clientNonce)) return REFUSED;
    // the SCRAM user must be the MQTT user, when the CONNECT names one
    if (this.#ctx.username !== undefined && this.#ctx.username !== username) return REFUSED;
    const serverNonce = this.#deps.nonce();
    if (!isNonce(serverNonce)) throw new Error('SCRAM nonce source returned an invalid nonce');
    this.#clientFirstBare = bare;
    this.#username = username;
    this.#nonce = clientNonce + serverNonce;
    const found = this.#deps.store.get(username);
    return found instanceof Promise ? found.then((c) => this.#serverFirstMessage(c)) : this.#serverFirstMessage(found);
  }

  #serverFirstMessage(credentials: ScramCredentials | undefined): AuthStep {
    this.#credentials = credentials;
    const { salt, iterations } = credentials ?? this.#deps.fake(this.#username);
    this.#serverFirst = `r=${this.#nonce},s=${salt.toString('base64')},i=${iterations}`;
    this.#phase = 'final';
    return { kind: 'continue', data: Buffer.from(this.#serverFirst) };
  }

  #clientFinal(text: string): AuthStep {
    // client-final-message-without-proof "," "p=" base64
    const proofAt = text.lastIndexOf(',p=');
    if (proofAt < 0) return REFUSED;
    const withoutProof = text.slice(0, proofAt);
    const attrs = withoutProof.split(',');
    // the channel binding repeats the gs2 header exactly (no cbind-data without "p=")
    if (attrs[0] !== `c=${Buffer.from(this.#gs2Header).toString('base64')}`) return REFUSED;
    // the combined nonce, unaltered: a replayed or tampered final message fails here
    if (attrs[1] !== `r=${this.#nonce}`) return REFUSED;
    const proof = strictBase64(text.slice(proofAt + 3));
    if (proof === undefined || proof.length !== 32) return REFUSED;
    const credentials = this.#credentials;
    if (credentials === undefined || credentials.storedKey.length !== 32) return BAD_CREDENTIALS;
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    const clientSignature = hmac(credentials.storedKey, authMessage);
    const clientKey = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) clientKey[i] = (proof[i] as number) ^ (clientSignature[i] as number);
    if (!timingSafeEqual(sha256(clientKey), credentials.storedKey)) return BAD_CREDENTIALS;
    const serverSignature = hmac(credentials.serverKey, authMessage);
    return { kind: 'success', data: Buffer.from(`v=${serverSignature.toString('base64')}`), identity: this.#username };
  }
}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function isPrintableAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** The message as a string if it is printable ASCII of a sane length. */
function asciiMessage(data: Buffer): string | undefined {
  if (data.length === 0 || data.length > MAX_MESSAGE) return undefined;
  for (const b of data) if (b < 0x20 || b > 0x7e) return undefined;
  return data.toString('latin1');
}

/** printable = %x21-2B / %x2D-7E (RFC 5802 section 7) */
function isNonce(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x2c) return false;
  }
  return true;
}

/** saslname: "=2C" is ",", "=3D" is "="; any other "=" is an error (RFC 5802 section 5.1). */
function decodeSaslName(s: string): string | undefined {
  if (s.length === 0) return undefined;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    if (ch !== '=') {
      out += ch;
      continue;
    }
    const esc = s.slice(i + 1, i + 3);
    if (esc === '2C') out += ',';
    else if (esc === '3D') out += '=';
    else return undefined;
    i += 2;
  }
  return out;
}

/** Base64 that round-trips exactly (Buffer.from alone skips junk characters). */
function strictBase64(s: string): Buffer | undefined {
  const buf = Buffer.from(s, 'base64');
  return buf.toString('base64') === s ? buf : undefined;
}
