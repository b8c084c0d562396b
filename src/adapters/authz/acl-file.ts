// mosquitto's `acl_file` as an Authorizer, deciding as mosquitto 2.0.11 decides
// (src/security.c mosquitto_acl_check + acl__check_dollar, src/security_default.c
// mosquitto_acl_check_default). The file format is in acl-file-parser.ts.
//
// How one check (a PUBLISH = write, a delivery = read) is decided:
// 1. `$` topics first, for every client: a write to `$SYS...` is denied unless the topic
//    matches `$SYS/broker/connection/+/state` (bridge status); a write or a read of a topic
//    starting with `$share` is denied. (Prefix tests, as mosquitto's strncmp: `$SYSx` counts.)
// 2. The client's own `topic` lines: those of `user <name>` where name = identity ?? username,
//    or, for a client with neither, the lines before the first `user` line. A client whose
//    user has no block has no own lines (it does NOT get the anonymous ones). A matching
//    `deny` line denies; else a matching line with the access (read / write / readwrite)
//    allows. Order inside the file does not matter: mosquitto puts deny lines first.
// 3. Only then the `pattern` lines (for every client), with `%c` replaced by the client id and
//    `%u` by the user, anywhere in the topic (not only as a whole level). A pattern with `%u`
//    is skipped for a client without a user. If any pattern exists and the user or client id
//    contains `+` or `#`, the client is denied here (it could otherwise widen its patterns).
//    Then again: a matching deny pattern denies, a matching pattern with the access allows.
//    A user's own allow therefore wins over a deny pattern, and a user's deny over any pattern.
// 4. Nothing matched: denied.
// Matching is MQTT's, so `#` or `+/...` in an ACL never grants a `$SYS/...` topic: the ACL
// topic must itself start with `$`.
//
// Subscriptions are NOT checked: mosquitto 2.0.11's default ACL answers MOSQ_ACL_SUBSCRIBE
// with success (a "FIXME" in its source), so every SUBSCRIBE is granted, wildcards or not,
// and `read` is checked for each message at delivery (canRead), retained ones included.
// So a client subscribed to `#` receives exactly the topics it may read.
//
// Cost per check: the user's lines are compiled once per load into FilterSets (a Set for
// exact topics, a scan or a trie for wildcards). Patterns depend on the client, so their
// substituted FilterSets are built on first use and kept in a cache keyed by the user (and
// the client id when some pattern uses %c), bounded by `maxCachedClients` (default 10,000
// entries; when full, the oldest entry is dropped, to be rebuilt if that client comes back).
import { readFile } from 'node:fs/promises';
import type { Authorizer, AuthzVerdict, ClientIdentity } from '../../core/ports.js';
import { topicMatches } from '../../topic/index.js';
import { AclFileError, parseAclText, type AclDefinition, type AclFileWarning, type AclRule } from './acl-file-parser.js';
import { FilterSet } from './filter-set.js';

export { AclFileError, type AclAccess, type AclFileErrorCode, type AclFileWarning, type AclRule } from './acl-file-parser.js';

export interface AclFileOptions {
  /**
   * How many clients' substituted pattern rules are kept (default 10,000). Only used when
   * the file has `pattern` lines; each entry holds that client's few substituted topics.
   */
  maxCachedClients?: number;
}

export const DEFAULT_MAX_CACHED_CLIENTS = 10_000;

const BRIDGE_STATE = '$SYS/broker/connection/+/state';

/** The lines of one user (or of anonymous clients, or one client's patterns), by access. */
interface RuleSet {
  readonly deny: FilterSet;
  readonly read: FilterSet;
  readonly write: FilterSet;
}

type Access = 'read' | 'write';

interface Pattern {
  readonly rule: AclRule;
  readonly usesUser: boolean;
}

/** One load of the file: immutable, swapped whole by reload(). */
class CompiledAcl {
  readonly anonymous: RuleSet | undefined;
  readonly users: ReadonlyMap<string, RuleSet>;
  readonly patterns: readonly Pattern[];
  readonly warnings: readonly AclFileWarning[];
  readonly #patternsUseClientId: boolean;
  readonly #patternsUseUser: boolean;
  readonly #maxCached: number;
  /** Substituted patterns per user (and client id); insertion order = age. */
  readonly #cache = new Map<string, RuleSet>();
  #shared: RuleSet | undefined = undefined;

  constructor(definition: AclDefinition, maxCached: number) {
    this.anonymous = definition.anonymous.length > 0 ? compileRules(definition.anonymous.map((r) => [r, r.topic])) : undefined;
    const users = new Map<string, RuleSet>();
    for (const [name, rules] of definition.users) users.set(name, compileRules(rules.map((r) => [r, r.topic])));
    this.users = users;
    this.patterns = definition.patterns.map((rule) => ({ rule, usesUser: rule.topic.includes('%u') }));
    this.warnings = definition.warnings;
    this.#patternsUseClientId = definition.patterns.some((r) => r.topic.includes('%c'));
    this.#patternsUseUser = this.patterns.some((p) => p.usesUser);
    this.#maxCached = maxCached;
  }

  get cachedClients(): number {
    return this.#cache.size;
  }

  /** The client's substituted patterns (callers check patterns.length > 0 first). */
  patternsFor(user: string | undefined, clientId: string): RuleSet {
    if (!this.#patternsUseClientId && !this.#patternsUseUser) {
      this.#shared ??= this.#substitute(undefined, clientId);
      return this.#shared;
    }
    // length-prefixed, so no two (user, client id) pairs share a key
    const u = this.#patternsUseUser ? (user === undefined ? '-' : `${user.length}:${user}`) : '';
    const key = this.#patternsUseClientId ? `${u}|${clientId}` : u;
    let set = this.#cache.get(key);
    if (set === undefined) {
      set = this.#substitute(user, clientId);
      if (this.#cache.size >= this.#maxCached) {
        const oldest = this.#cache.keys().next();
        if (oldest.done !== true) this.#cache.delete(oldest.value);
      }
      this.#cache.set(key, set);
    }
    return set;
  }

  #substitute(user: string | undefined, clientId: string): RuleSet {
    const lines: [AclRule, string][] = [];
    for (const { rule, usesUser } of this.patterns) {
      // mosquitto skips a %u pattern for a client without a username
      if (usesUser && user === undefined) continue;
      lines.push([rule, substitute(rule.topic, clientId, user)]);
    }
    return compileRules(lines);
  }
}

/** mosquitto's ACL-file authorizer. Build with AclFile.load(path) or AclFile.parse(text). */
export class AclFile implements Authorizer {
  readonly #path: string | undefined;
  readonly #maxCached: number;
  #acl: CompiledAcl;
  #reloads = 0;

  private constructor(definition: AclDefinition, path: string | undefined, options: AclFileOptions) {
    const max = options.maxCachedClients ?? DEFAULT_MAX_CACHED_CLIENTS;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxCachedClients must be a positive integer, got ${max}`);
    this.#path = path;
    this.#maxCached = max;
    this.#acl = new CompiledAcl(definition, max);
  }

  /** Reads and parses the file; rejects with AclFileError (ACL_READ_FAILED or a line's error). */
  static async load(path: string, options: AclFileOptions = {}): Promise<AclFile> {
    return new AclFile(parseAclText(await readText(path), path), path, options);
  }

  /** Parses acl_file text; `fileName` names it in errors. Such an AclFile cannot reload(). */
  static parse(text: string, fileName = '<acl_file>', options: AclFileOptions = {}): AclFile {
    return new AclFile(parseAclText(text, fileName), undefined, options);
  }

  /**
   * Re-reads the file (SIGHUP). On success the new rules apply at once to every check,
   * connected clients included (as mosquitto re-applies ACLs on reload). On failure it
   * rejects with the AclFileError and the old rules stay in force. When reloads overlap,
   * the last one started wins.
   */
  async reload(): Promise<void> {
    const path = this.#path;
    if (path === undefined) {
      throw new AclFileError('ACL_NOT_FROM_FILE', '<acl_file>', undefined, 'this ACL was parsed from text; there is no file to reload');
    }
    const seq = ++this.#reloads;
    const next = new CompiledAcl(parseAclText(await readText(path), path), this.#maxCached);
    if (seq === this.#reloads) this.#acl = next;
  }

  /** The file this ACL was loaded from (undefined when parsed from text). */
  get path(): string | undefined {
    return this.#path;
  }

  /** Warnings of the current rules (a pattern without %c or %u), for the log. */
  get warnings(): readonly AclFileWarning[] {
    return this.#acl.warnings;
  }

  /** How many clients' pattern rules are cached now (at most maxCachedClients). */
  get cachedClients(): number {
    return this.#acl.cachedClients;
  }

  canPublish(client: ClientIdentity, topic: string): AuthzVerdict {
    if (topic.startsWith('$SYS')) {
      // only bridge status may be written under $SYS; the ACL still has to allow it
      if (!topicMatches(BRIDGE_STATE, topic)) return 'deny';
    } else if (topic.startsWith('$share')) {
      return 'deny';
    }
    return this.#allows(client, topic, 'write') ? 'allow' : 'deny';
  }

  /**
   * mosquitto 2.0.11's acl_file grants every SUBSCRIBE and filters each message (canRead).
   * Culex does the same for wildcard filters, but a filter without wildcards names exactly one
   * topic: when the client may never read it, the SUBACK says so (3.1.1 0x80, v5 0x87) instead
   * of granting a subscription that can never deliver. Deliveries are the same either way.
   */
  canSubscribe(client: ClientIdentity, filter: string): AuthzVerdict {
    if (filter.includes('+') || filter.includes('#')) return 'allow';
    return this.canRead(client, filter) ? 'allow' : 'deny';
  }

  canRead(client: ClientIdentity, topic: string): boolean {
    if (topic.startsWith('$share')) return false;
    return this.#allows(client, topic, 'read');
  }

  #allows(client: ClientIdentity, topic: string, access: Access): boolean {
    const acl = this.#acl;
    const user = client.identity ?? client.username;
    const own = user === undefined ? acl.anonymous : acl.users.get(user);
    if (own !== undefined) {
      if (own.deny.matches(topic)) return false;
      if (own[access].matches(topic)) return true;
    }
    if (acl.patterns.length === 0) return false;
    // a `+` or `#` in what %u / %c stand for would widen the patterns: mosquitto denies
    if ((user !== undefined && hasWildcardChar(user)) || hasWildcardChar(client.clientId)) return false;
    const patterns = acl.patternsFor(user, client.clientId);
    if (patterns.deny.matches(topic)) return false;
    return patterns[access].matches(topic);
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new AclFileError('ACL_READ_FAILED', path, undefined, `cannot read the acl_file: ${(err as Error).message}`, { cause: err });
  }
}

function compileRules(lines: readonly (readonly [AclRule, string])[]): RuleSet {
  const set: RuleSet = { deny: new FilterSet(), read: new FilterSet(), write: new FilterSet() };
  for (const [rule, topic] of lines) {
    // an empty or invalid substituted topic matches nothing (mosquitto's matcher refuses it)
    if (rule.access === 'deny') set.deny.add(topic);
    if (rule.access === 'read' || rule.access === 'readwrite') set.read.add(topic);
    if (rule.access === 'write' || rule.access === 'readwrite') set.write.add(topic);
  }
  return set;
}

/**
 * mosquitto's substitution, left to right: `%c` becomes the client id; `%u` the user (the
 * caller skips %u patterns when there is none); any other `%` stays as it is.
 */
export function substitute(topic: string, clientId: string, user: string | undefined): string {
  let out = '';
  let from = 0;
  for (let i = topic.indexOf('%'); i >= 0 && i < topic.length - 1; i = topic.indexOf('%', i + 1)) {
    const next = topic.charCodeAt(i + 1);
    let value: string | undefined;
    if (next === 0x63 /* c */) value = clientId;
    else if (next === 0x75 /* u */ && user !== undefined) value = user;
    if (value === undefined) continue;
    out += topic.slice(from, i) + value;
    from = i + 2;
    i++;
  }
  return from === 0 ? topic : out + topic.slice(from);
}

function hasWildcardChar(s: string): boolean {
  return s.includes('+') || s.includes('#');
}
