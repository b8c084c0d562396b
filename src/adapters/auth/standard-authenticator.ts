// The authenticator Culex builds from its configuration: client certificates, API tokens,
// the password file and allow_anonymous, checked in that order.
//
// (a) A certificate verified by a listener named in certificateIdentityListeners (mosquitto's
//     use_identity_as_username): accepted as its Common Name; no CN, refused (5). The
//     password file is not consulted, as in mosquitto ("authentication assumed cleared").
// (b) User name "authorization" while a token store is configured: the password is an API
//     token. Valid: the identity is the token's owner. Unknown: 4; expired or revoked: 5.
// (c) Any other user name while a password file is configured: it must be in the file with a
//     matching password (wrong, missing or unknown: 4).
// (d) Everything else (no user name, or no credential source for it): allowed if and only if
//     allow_anonymous, else 5.
//
// Decisions:
// - A user name with no password file (and not a token login) is treated as anonymous, as
//   mosquitto 2.0.11 does (checked against the real binary: with allow_anonymous false and
//   no password_file, `-u bob -P x` is refused; with allow_anonymous true it connects). As in
//   mosquitto, such a client keeps its (unverified) user name, and ACL rules that name users
//   then protect nothing: configure a password file or tokens when ACLs name users.
// - Refusal codes: mosquitto 2.0 answers every refusal with 5 (v5 0x87); Culex answers
//   credential failures with 4 (v5 0x86, "bad user name or password") and policy refusals
//   with 5, which is what the MQTT specification intends.
// - A failing token store or password check (an exception, or PASSWORD_VERIFY_BUSY) becomes
//   a rejected promise: the broker answers "server unavailable" (3 / 0x88) and logs it.
import type { AuthResult, Authenticator, ConnectInfo } from '../../core/ports.js';
import type { PasswordVerifier } from './password-file.js';

/** What a token store answers for a presented token. */
export type TokenCheck = { ok: true; owner: string; id: string } | { ok: false; reason: 'unknown' | 'expired' | 'revoked' };

export interface TokenVerifier {
  verify(token: string): TokenCheck;
}

/** The user name that marks a token login (the password is the token). */
export const TOKEN_USERNAME = 'authorization';

export interface StandardAuthenticatorOptions {
  allowAnonymous: boolean;
  passwords?: PasswordVerifier | undefined;
  tokens?: TokenVerifier | undefined;
  /** Names of listeners whose verified client certificates identify the client (use_identity_as_username). */
  certificateIdentityListeners?: ReadonlySet<string> | undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class StandardAuthenticator implements Authenticator {
  readonly #allowAnonymous: boolean;
  readonly #passwords: PasswordVerifier | undefined;
  readonly #tokens: TokenVerifier | undefined;
  readonly #certListeners: ReadonlySet<string>;

  constructor(options: StandardAuthenticatorOptions) {
    this.#allowAnonymous = options.allowAnonymous;
    this.#passwords = options.passwords;
    this.#tokens = options.tokens;
    this.#certListeners = options.certificateIdentityListeners ?? new Set();
  }

  authenticate(info: ConnectInfo): AuthResult | Promise<AuthResult> {
    try {
      return this.#authenticate(info);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #authenticate(info: ConnectInfo): AuthResult | Promise<AuthResult> {
    const { username, password, certificate, listener } = info;
    if (certificate !== undefined && listener !== undefined && this.#certListeners.has(listener)) {
      const cn = certificate.commonName;
      if (cn === undefined || cn === '') return refuse(5, 'client certificate has no common name');
      return { ok: true, identity: cn };
    }
    if (username === TOKEN_USERNAME && this.#tokens !== undefined) return this.#token(password);
    if (username !== undefined && this.#passwords !== undefined) return this.#password(this.#passwords, username, password);
    return this.#allowAnonymous ? { ok: true } : refuse(5, username === undefined ? 'anonymous clients are not allowed' : 'no credential source for this user name and anonymous clients are not allowed');
  }

  #token(password: Buffer | undefined): AuthResult {
    if (password === undefined || password.length === 0) return refuse(4, 'token login without a token');
    let token: string;
    try {
      token = utf8.decode(password);
    } catch {
      return refuse(4, 'token: unknown');
    }
    const check = (this.#tokens as TokenVerifier).verify(token);
    if (check.ok) return { ok: true, identity: check.owner };
    return refuse(check.reason === 'unknown' ? 4 : 5, `token: ${check.reason}`);
  }

  #password(passwords: PasswordVerifier, username: string, password: Buffer | undefined): AuthResult | Promise<AuthResult> {
    // mosquitto refuses a known user without a password even if the hash is of "" (no check)
    if (password === undefined) return refuse(4, 'no password');
    const known = passwords.has(username);
    // an unknown user is checked too (PasswordFile runs a decoy hash), so the time the
    // answer takes does not tell which user names exist
    const verdict = passwords.verify(username, password);
    const result = (ok: boolean): AuthResult => (ok && known ? { ok: true } : refuse(4, known ? 'bad password' : 'unknown user'));
    return typeof verdict === 'boolean' ? result(verdict) : verdict.then(result);
  }
}

function refuse(returnCode: 4 | 5, reason: string): AuthResult {
  return { ok: false, returnCode, reason };
}
