// `culex tokens create|revoke|list`: API tokens in <data dir>/culex.db. The CLI may run while
// the broker does (same SQLite file, WAL mode): a new or revoked token counts at the next CONNECT.
// Exit codes: 0 done, 1 the operation failed (no database, no such token), 2 bad usage.
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import { DatabaseError, openDatabase, type SqliteDatabase } from '../adapters/sqlite/database.js';
import { TokenError, TokenStore, checkTokenName, type TokenInfo } from '../adapters/tokens/token-store.js';

export const TOKENS_USAGE = `usage: culex tokens <command> [options]

  create NAME [--expires DURATION]   issue a token for NAME (the identity ACLs see); prints it once
  revoke ID                          revoke a token for good, by the id shown at creation or by list
  list                               every token: id, name, created, expires, status

  --expires DURATION   lifetime, a number and a unit: 45s, 90m, 12h, 30d, 2w (default: never expires)
  --data DIR           data directory holding culex.db (default ./data)
  --help               this text

Clients connect with user name "authorization" and the token as password.
`;

export interface TokensIo {
  stdout: Writable;
  stderr: Writable;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
/** Beyond this a "lifetime" is a typo (and Date arithmetic stays exact): 100 years. */
const MAX_DURATION_MS = 100 * 365 * 86_400_000;

export class DurationError extends Error {
  readonly code = 'DURATION_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'DurationError';
  }
}

/** `30d` → milliseconds. One positive integer and one unit of s, m, h, d, w. */
export function parseDuration(text: string): number {
  const match = /^(\d{1,12})([smhdw])$/.exec(text.trim());
  if (match === null) {
    throw new DurationError(`invalid duration ${JSON.stringify(text)}: use a whole number and a unit, e.g. 45s, 90m, 12h, 30d, 2w`);
  }
  const ms = Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  if (ms === 0) throw new DurationError(`invalid duration ${JSON.stringify(text)}: must be more than zero`);
  if (ms > MAX_DURATION_MS) throw new DurationError(`invalid duration ${JSON.stringify(text)}: at most 100 years`);
  return ms;
}

class UsageError extends Error {}

export async function runTokens(args: string[], io: TokensIo): Promise<number> {
  const out = (line: string): void => void io.stdout.write(`${line}\n`);
  const err = (line: string): void => void io.stderr.write(`culex tokens: ${line}\n`);
  let command: string | undefined;
  let rest: string[];
  let values: { expires?: string | undefined; data?: string | undefined; help?: boolean | undefined };
  try {
    const parsed = parseArgs({
      args,
      options: { expires: { type: 'string' }, data: { type: 'string' }, help: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
    values = parsed.values;
    [command, ...rest] = parsed.positionals;
  } catch (e) {
    err((e as Error).message);
    io.stderr.write(TOKENS_USAGE);
    return 2;
  }
  if (values.help) {
    io.stdout.write(TOKENS_USAGE);
    return 0;
  }
  const dataDir = values.data ?? './data';

  let db: SqliteDatabase | undefined;
  try {
    const expected = { create: 1, revoke: 1, list: 0 }[command ?? ''];
    if (expected === undefined) throw new UsageError(command === undefined ? 'missing command' : `unknown command ${JSON.stringify(command)}`);
    if (rest.length !== expected) {
      throw new UsageError(expected === 0 ? `${command} takes no arguments` : `${command} needs exactly one ${command === 'create' ? 'NAME' : 'ID'}`);
    }
    if (values.expires !== undefined && command !== 'create') throw new UsageError('--expires goes with create only');
    const lifetimeMs = values.expires === undefined ? undefined : parseDuration(values.expires);
    const arg = rest[0] as string;
    if (command === 'create') checkTokenName(arg);

    // create makes the data directory and file; revoke and list must find an existing one,
    // so a mistyped --data says so instead of creating an empty database
    db = openDatabase(dataDir, { mustExist: command !== 'create' });
    const store = new TokenStore(db);
    if (command === 'create') {
      const created = store.create(arg, lifetimeMs === undefined ? {} : { expiresAt: Date.now() + lifetimeMs });
      out(`token:   ${created.token}`);
      out(`id:      ${created.id}`);
      out(`name:    ${created.name}`);
      out(`expires: ${created.expiresAt === undefined ? 'never' : new Date(created.expiresAt).toISOString()}`);
      io.stderr.write('The token is shown only this once (only its hash is stored): keep it now.\n');
      return 0;
    }
    if (command === 'revoke') {
      const token = store.get(arg);
      if (token === undefined) {
        err(`no token with id ${JSON.stringify(arg)} in ${db.name} (see: culex tokens list)`);
        return 1;
      }
      if (!store.revoke(arg)) {
        out(`token ${arg} (${token.name}) was already revoked`);
        return 0;
      }
      out(`revoked token ${arg} (${token.name})`);
      return 0;
    }
    printList(store.list(), Date.now(), out);
    return 0;
  } catch (e) {
    if (e instanceof UsageError || e instanceof DurationError || (e instanceof TokenError && e.code !== 'TOKEN_ID_EXHAUSTED')) {
      err(e.message);
      if (e instanceof UsageError) io.stderr.write(TOKENS_USAGE);
      return 2;
    }
    if (e instanceof TokenError) {
      err(e.message);
      return 1;
    }
    if (e instanceof DatabaseError) {
      err(e.code === 'DATABASE_NOT_FOUND' ? `no token database in ${dataDir} (create a token first, or pass --data DIR)` : e.message);
      return 1;
    }
    throw e;
  } finally {
    db?.close();
  }
}

function printList(tokens: TokenInfo[], now: number, out: (line: string) => void): void {
  if (tokens.length === 0) {
    out('no tokens');
    return;
  }
  const rows = tokens.map((t) => [
    t.id,
    t.name,
    isoSeconds(t.createdAt),
    t.expiresAt === undefined ? 'never' : isoSeconds(t.expiresAt),
    t.revokedAt !== undefined ? 'revoked' : t.expiresAt !== undefined && now >= t.expiresAt ? 'expired' : 'active',
  ]);
  const table = [['ID', 'NAME', 'CREATED', 'EXPIRES', 'STATUS'], ...rows];
  const widths = (table[0] as string[]).map((_, col) => Math.max(...table.map((r) => (r[col] as string).length)));
  for (const row of table) out(row.map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col] as number))).join('  '));
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
