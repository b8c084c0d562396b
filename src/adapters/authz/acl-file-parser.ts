// The text of a mosquitto `acl_file`, read exactly as mosquitto 2.0.11 reads it
// (src/security_default.c, aclfile__parse), with one difference: an error names the
// file and the line, and is a typed AclFileError instead of a log line.
//
// mosquitto's reader, line by line (a line ends at '\n'):
// - trailing white space (C isspace: space, \t, \n, \v, \f, \r) is removed, so CRLF files work;
// - a line whose FIRST character is '#' is a comment. "  # x" is not: it is an invalid line;
// - words are split on spaces only (strtok with " "): leading spaces are skipped, but a tab
//   is part of a word, so "topic\tread x" is an invalid line;
// - `topic [read|write|readwrite|deny] <topic>` and `pattern [...] <topic>`: the second word
//   is the access, and everything after it (blanks trimmed, inner spaces kept) the topic.
//   With only one word after the keyword, that word is the topic and the access readwrite:
//   `topic read` grants readwrite on the topic "read", and `topic read\tx` on "read\tx";
// - the topic must be a valid subscription filter (mosquitto_sub_topic_check): `+` and `#`
//   whole levels, `#` last, at most 65535 bytes and at most 200 '/' (TOPIC_HIERARCHY_LIMIT).
//   So a trailing comment ("topic read x # note") is an error, as in mosquitto;
// - `user <name>`: the rest of the line, blanks trimmed (it may contain spaces), names the
//   user that the following `topic` lines belong to. Topic lines before the first `user`
//   line belong to anonymous clients; there is no way back to anonymous after a `user` line;
//   a user named twice collects the lines of both blocks;
// - `pattern` lines belong to every client wherever they appear; a pattern without %c or %u
//   is accepted with a warning (mosquitto logs one);
// - keywords are case sensitive; any other first word is an invalid line.
//
// Deliberate difference: mosquitto reads C strings, so a NUL byte silently ends its line;
// here it is an error (ACL_NUL_CHARACTER), since such a file is not what anyone meant.
import { validateTopicFilter } from '../../topic/index.js';

export type AclAccess = 'read' | 'write' | 'readwrite' | 'deny';

/** One `topic` or `pattern` line. */
export interface AclRule {
  readonly access: AclAccess;
  /** The ACL topic (a filter; for a pattern, with `%c` / `%u` still in it). */
  readonly topic: string;
  /** 1-based line number, for messages. */
  readonly line: number;
}

/** What an acl_file says, before compilation. */
export interface AclDefinition {
  /** `topic` lines before the first `user` line (anonymous clients), in file order. */
  readonly anonymous: readonly AclRule[];
  /** `topic` lines per user, in file order (a user named twice collects both blocks). */
  readonly users: ReadonlyMap<string, readonly AclRule[]>;
  /** `pattern` lines, in file order. */
  readonly patterns: readonly AclRule[];
  /** Accepted, but worth a log line (mosquitto logs them as warnings). */
  readonly warnings: readonly AclFileWarning[];
}

export interface AclFileWarning {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export type AclFileErrorCode =
  /** The file could not be read (missing, permissions). */
  | 'ACL_READ_FAILED'
  /** A first word other than topic, pattern or user (mosquitto: "Invalid line"). */
  | 'ACL_INVALID_LINE'
  /** `topic` or `pattern` with nothing after it (mosquitto: "Empty topic"). */
  | 'ACL_EMPTY_TOPIC'
  /** An access other than read, write, readwrite or deny. */
  | 'ACL_INVALID_ACCESS'
  /** The topic is not a valid subscription filter. */
  | 'ACL_INVALID_TOPIC'
  /** `user` with no name. */
  | 'ACL_MISSING_USERNAME'
  /** A NUL character in the file (mosquitto would silently cut the line there). */
  | 'ACL_NUL_CHARACTER'
  /** reload() on an AclFile that was parsed from text, not loaded from a file. */
  | 'ACL_NOT_FROM_FILE';

/** A problem with an acl_file; `file:line: problem` in the message. Compare `code`. */
export class AclFileError extends Error {
  readonly code: AclFileErrorCode;
  readonly file: string;
  /** 1-based; undefined when the problem is not on one line (ACL_READ_FAILED). */
  readonly line: number | undefined;
  constructor(code: AclFileErrorCode, file: string, line: number | undefined, problem: string, options?: { cause?: unknown }) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${problem}`, options);
    this.name = 'AclFileError';
    this.code = code;
    this.file = file;
    this.line = line;
  }
}

/** mosquitto's TOPIC_HIERARCHY_LIMIT: an ACL topic may have at most this many '/'. */
const MAX_SLASHES = 200;

const ACCESS: ReadonlyMap<string, AclAccess> = new Map<string, AclAccess>([
  ['read', 'read'],
  ['write', 'write'],
  ['readwrite', 'readwrite'],
  ['deny', 'deny'],
]);

/** Parses acl_file text; throws AclFileError naming `fileName` and the line. */
export function parseAclText(text: string, fileName: string): AclDefinition {
  const anonymous: AclRule[] = [];
  const users = new Map<string, AclRule[]>();
  const patterns: AclRule[] = [];
  const warnings: AclFileWarning[] = [];
  let user: string | undefined;
  const lines = text.split('\n');
  // a final '\n' ends the last line rather than starting an empty one
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (let index = 0; index < lines.length; index++) {
    const lineNo = index + 1;
    const fail = (code: AclFileErrorCode, problem: string): AclFileError => new AclFileError(code, fileName, lineNo, problem);
    const buf = trimEnd(lines[index] as string);
    if (buf.includes('\0')) throw fail('ACL_NUL_CHARACTER', 'the line contains a NUL character');
    if (buf.startsWith('#')) continue;
    const words = new Words(buf);
    const keyword = words.next();
    if (keyword === undefined) continue;
    if (keyword === 'topic' || keyword === 'pattern') {
      const first = words.next();
      if (first === undefined) throw fail('ACL_EMPTY_TOPIC', `"${keyword}" without a topic`);
      const restRaw = words.rest();
      let access: AclAccess;
      let topic: string;
      if (restRaw === undefined) {
        // one word: it is the topic (mosquitto: "topic read" grants readwrite on "read")
        topic = first;
        access = 'readwrite';
      } else {
        const found = ACCESS.get(first);
        if (found === undefined) {
          throw fail('ACL_INVALID_ACCESS', `invalid access "${first}" (expected read, write, readwrite or deny)`);
        }
        access = found;
        topic = trimBlanks(restRaw);
      }
      const problem = checkAclTopic(topic);
      if (problem !== undefined) throw fail('ACL_INVALID_TOPIC', `invalid ACL topic ${JSON.stringify(topic)}: ${problem}`);
      const rule: AclRule = { access, topic, line: lineNo };
      if (keyword === 'pattern') {
        patterns.push(rule);
        if (!topic.includes('%c') && !topic.includes('%u')) {
          warnings.push({ file: fileName, line: lineNo, message: `ACL pattern "${topic}" does not contain "%c" or "%u"` });
        }
      } else if (user === undefined) {
        anonymous.push(rule);
      } else {
        let list = users.get(user);
        if (list === undefined) {
          list = [];
          users.set(user, list);
        }
        list.push(rule);
      }
    } else if (keyword === 'user') {
      const rest = words.rest();
      const name = rest === undefined ? '' : trimBlanks(rest);
      if (name === '') throw fail('ACL_MISSING_USERNAME', '"user" without a username');
      user = name;
    } else {
      const bom = keyword.charCodeAt(0) === 0xfeff ? ' (the file starts with a byte order mark)' : '';
      throw fail('ACL_INVALID_LINE', `invalid line ${JSON.stringify(buf)}: expected "topic", "pattern", "user" or a "#" comment${bom}`);
    }
  }
  return { anonymous, users, patterns, warnings };
}

/** Why `topic` is not a valid ACL topic (mosquitto_sub_topic_check), or undefined. */
function checkAclTopic(topic: string): string | undefined {
  // every wildcard, empty-level, length and UTF-8 rule is the subscription filter's
  const error = validateTopicFilter(topic, { maxLevels: MAX_SLASHES + 1 });
  if (error === undefined) return undefined;
  return error.code === 'TOO_MANY_LEVELS' ? `more than ${MAX_SLASHES} "/" (mosquitto's limit)` : error.message;
}

/** C isspace in the "C" locale. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function trimEnd(s: string): string {
  let end = s.length;
  while (end > 0 && isSpace(s.charCodeAt(end - 1))) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** mosquitto's misc__trimblanks: white space off both ends. */
function trimBlanks(s: string): string {
  let start = 0;
  while (start < s.length && isSpace(s.charCodeAt(start))) start++;
  return trimEnd(s.slice(start));
}

/**
 * strtok_r over one line with the delimiter " ": next() skips spaces and returns the word up
 * to the next space (consuming that one space, as strtok does); rest() is strtok_r(NULL, ""),
 * everything after, or undefined when nothing is left.
 */
class Words {
  readonly #s: string;
  #pos = 0;
  constructor(s: string) {
    this.#s = s;
  }

  next(): string | undefined {
    const s = this.#s;
    let start = this.#pos;
    while (start < s.length && s.charCodeAt(start) === 0x20) start++;
    if (start >= s.length) {
      this.#pos = s.length;
      return undefined;
    }
    let end = s.indexOf(' ', start);
    if (end < 0) end = s.length;
    this.#pos = end < s.length ? end + 1 : end;
    return s.slice(start, end);
  }

  rest(): string | undefined {
    if (this.#pos >= this.#s.length) return undefined;
    const rest = this.#s.slice(this.#pos);
    this.#pos = this.#s.length;
    return rest;
  }
}
