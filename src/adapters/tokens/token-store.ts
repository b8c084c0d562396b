// API tokens in the embedded SQLite file. A client connects with user name `authorization`
// and a token as password; the token's name (its owner) becomes the identity ACLs see.
//
// Only a SHA-256 hash of each token is stored: the token is 32 random bytes, so a plain
// (unsalted, fast) hash is enough, since there is nothing to guess, and it lets verify() find the
// row by an indexed equality lookup. Looking up by hash also means no early-exit string
// comparison against secret material (the attacker controls the token, not its hash).
//
// Bound: rows are created only by operators (`culex tokens create`, or the admin API), never
// by client input, so the table grows only with what operators do. verify() never writes.
import { createHash, randomBytes } from 'node:crypto';
import { migrate, type Migration, type SqliteDatabase, type SqliteStatement } from '../sqlite/database.js';

/** Every token starts with this, so it is recognisable in a config file or a leak scanner. */
export const TOKEN_PREFIX = 'cx_';
/** Random bytes per token (256 bits), encoded base64url: the token is 46 characters. */
const TOKEN_BYTES = 32;
/** Random bytes per public id (48 bits; collisions are retried), encoded as 12 hex digits. */
const ID_BYTES = 6;
const ID_ATTEMPTS = 5;
/** Longer than any token we issue; a longer password is not looked up at all. */
const MAX_TOKEN_LENGTH = 128;

/**
 * Token names become identities in ACLs, where `+`, `#` and `/` mean something (`%u`
 * patterns), so names are kept to a safe set: letters, digits and `. _ - @ :`, starting
 * with a letter or digit (so a name is never taken for a command-line flag).
 */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$/;

const MIGRATIONS: readonly Migration[] = [
  {
    name: 'api_tokens',
    up: `CREATE TABLE api_tokens (
      id         TEXT    PRIMARY KEY,
      name       TEXT    NOT NULL,
      token_hash BLOB    NOT NULL UNIQUE,
      created_at INTEGER NOT NULL,
      expires_at INTEGER,
      revoked_at INTEGER
    ) STRICT`,
  },
];

export interface TokenInfo {
  /** The public id: safe to show, used to revoke. */
  id: string;
  /** The owner: the identity a client using this token gets. */
  name: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  /** Milliseconds since the epoch; undefined = never expires. */
  expiresAt: number | undefined;
  /** Milliseconds since the epoch; undefined = not revoked. */
  revokedAt: number | undefined;
}

export interface CreatedToken {
  id: string;
  /** The secret. Shown once: only its hash is stored. */
  token: string;
  name: string;
  createdAt: number;
  expiresAt: number | undefined;
}

export type TokenVerdict =
  | { ok: true; owner: string; id: string }
  | { ok: false; reason: 'unknown' | 'expired' | 'revoked' };

export type TokenErrorCode = 'TOKEN_NAME_INVALID' | 'TOKEN_EXPIRY_INVALID' | 'TOKEN_ID_EXHAUSTED';

export class TokenError extends Error {
  readonly code: TokenErrorCode;
  constructor(code: TokenErrorCode, message: string) {
    super(message);
    this.name = 'TokenError';
    this.code = code;
  }
}

interface TokenRow {
  id: string;
  name: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

export interface TokenStoreOptions {
  /** Milliseconds since the epoch, for createdAt and revokedAt. Default Date.now. */
  now?: () => number;
}

export class TokenStore {
  readonly #now: () => number;
  readonly #insert: SqliteStatement;
  readonly #revoke: SqliteStatement;
  readonly #byHash: SqliteStatement;
  readonly #byId: SqliteStatement;
  readonly #all: SqliteStatement;

  /** Brings the token table up to date (a DatabaseError if that fails); the caller owns `db`. */
  constructor(db: SqliteDatabase, options: TokenStoreOptions = {}) {
    migrate(db, 'tokens', MIGRATIONS);
    this.#now = options.now ?? Date.now;
    this.#insert = db.prepare('INSERT INTO api_tokens (id, name, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)');
    this.#revoke = db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
    this.#byHash = db.prepare('SELECT id, name, created_at, expires_at, revoked_at FROM api_tokens WHERE token_hash = ?');
    this.#byId = db.prepare('SELECT id, name, created_at, expires_at, revoked_at FROM api_tokens WHERE id = ?');
    this.#all = db.prepare('SELECT id, name, created_at, expires_at, revoked_at FROM api_tokens ORDER BY created_at, id');
  }

  /**
   * Issues a token for `name`. Several tokens may share a name (rotate by creating the new
   * one before revoking the old). Throws TokenError for a bad name or expiry.
   */
  create(name: string, options: { expiresAt?: number } = {}): CreatedToken {
    checkTokenName(name);
    const createdAt = this.#now();
    const { expiresAt } = options;
    if (expiresAt !== undefined && (!Number.isSafeInteger(expiresAt) || expiresAt <= createdAt)) {
      throw new TokenError('TOKEN_EXPIRY_INVALID', `expiry must be a time in the future (milliseconds since the epoch), got ${String(expiresAt)}`);
    }
    const token = TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString('base64url');
    const hash = hashToken(token);
    for (let attempt = 0; attempt < ID_ATTEMPTS; attempt++) {
      const id = randomBytes(ID_BYTES).toString('hex');
      try {
        this.#insert.run(id, name, hash, createdAt, expiresAt ?? null);
      } catch (err) {
        // a 48-bit id collided with an existing one: draw another
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') continue;
        throw err;
      }
      return { id, token, name, createdAt, expiresAt };
    }
    throw new TokenError('TOKEN_ID_EXHAUSTED', `no free token id after ${ID_ATTEMPTS} attempts`);
  }

  /** Revokes a token for good. False when there is no such token or it was already revoked. */
  revoke(id: string): boolean {
    return this.#revoke.run(this.#now(), id).changes === 1;
  }

  get(id: string): TokenInfo | undefined {
    const row = this.#byId.get(id) as TokenRow | undefined;
    return row === undefined ? undefined : toInfo(row);
  }

  /** Every token ever issued (revoked and expired ones too), oldest first; never the secret. */
  list(): TokenInfo[] {
    return (this.#all.all() as TokenRow[]).map(toInfo);
  }

  /**
   * Checks a presented token (run at every CONNECT with user name `authorization`): one
   * indexed lookup by hash. Each statement reads the latest committed state of the file,
   * so a token created or revoked by another process counts from the next call on.
   */
  verify(token: string, now: number = Date.now()): TokenVerdict {
    if (token.length > MAX_TOKEN_LENGTH || !token.startsWith(TOKEN_PREFIX)) return { ok: false, reason: 'unknown' };
    const row = this.#byHash.get(hashToken(token)) as TokenRow | undefined;
    if (row === undefined) return { ok: false, reason: 'unknown' };
    // revoked first: it is the operator's deliberate act, and the more useful log line
    if (row.revoked_at !== null) return { ok: false, reason: 'revoked' };
    if (row.expires_at !== null && now >= row.expires_at) return { ok: false, reason: 'expired' };
    return { ok: true, owner: row.name, id: row.id };
  }
}

/** Throws TOKEN_NAME_INVALID unless `name` may name a token (see NAME_PATTERN). */
export function checkTokenName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new TokenError(
      'TOKEN_NAME_INVALID',
      `invalid token name ${JSON.stringify(name)}: use 1 to 128 letters, digits or . _ - @ :, starting with a letter or digit`,
    );
  }
}

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function toInfo(row: TokenRow): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.created_at,
    expiresAt: row.expires_at ?? undefined,
    revokedAt: row.revoked_at ?? undefined,
  };
}
