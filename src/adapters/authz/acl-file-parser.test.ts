// The acl_file reader: each rule of mosquitto 2.0.11's aclfile__parse (comments, spacing,
// defaults, user blocks) and each malformed line, with the file:line in the error.
// Where a quirk is surprising, mosquitto's own behaviour was checked with the real
// /usr/sbin/mosquitto 2.0.11 (it starts, or refuses the file with the same complaint).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AclFileError, parseAclText, type AclFileErrorCode, type AclRule } from './acl-file-parser.js';

const strip = (rules: readonly AclRule[]): [string, string][] => rules.map((r) => [r.access, r.topic]);

function parseError(text: string, file = 'acl'): AclFileError {
  try {
    parseAclText(text, file);
  } catch (err) {
    assert.ok(err instanceof AclFileError, `expected an AclFileError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(text)} to be refused`);
}

function assertRefused(text: string, code: AclFileErrorCode, line: number, file = 'acl'): AclFileError {
  const err = parseError(text, file);
  assert.equal(err.code, code, err.message);
  assert.equal(err.line, line, err.message);
  assert.equal(err.file, file);
  assert.ok(err.message.startsWith(`${file}:${line}: `), err.message);
  return err;
}

describe('acl_file reader: lines', () => {
  test('topic lines before any user line are the anonymous rules; access defaults to readwrite', () => {
    const acl = parseAclText('topic read a/#\ntopic write b\ntopic readwrite c\ntopic deny d\ntopic e/+\n', 'acl');
    assert.deepEqual(strip(acl.anonymous), [
      ['read', 'a/#'],
      ['write', 'b'],
      ['readwrite', 'c'],
      ['deny', 'd'],
      ['readwrite', 'e/+'],
    ]);
    assert.equal(acl.users.size, 0);
    assert.deepEqual(acl.anonymous.map((r) => r.line), [1, 2, 3, 4, 5]);
  });

  test('a user line starts that user\'s block; there is no way back to anonymous; a user named twice collects both blocks', () => {
    const acl = parseAclText('topic anon\nuser alice\ntopic a1\nuser bob\ntopic b1\nuser alice\ntopic a2\n', 'acl');
    assert.deepEqual(strip(acl.anonymous), [['readwrite', 'anon']]);
    assert.deepEqual(strip(acl.users.get('alice') ?? []), [
      ['readwrite', 'a1'],
      ['readwrite', 'a2'],
    ]);
    assert.deepEqual(strip(acl.users.get('bob') ?? []), [['readwrite', 'b1']]);
  });

  test('pattern lines belong to everyone wherever they appear, and do not join the user block', () => {
    const acl = parseAclText('user alice\npattern read x/%u\ntopic a\npattern write y/%c/#\n', 'acl');
    assert.deepEqual(strip(acl.patterns), [
      ['read', 'x/%u'],
      ['write', 'y/%c/#'],
    ]);
    assert.deepEqual(strip(acl.users.get('alice') ?? []), [['readwrite', 'a']]);
    assert.deepEqual(acl.warnings, []);
  });

  test('a pattern without %c or %u is accepted with a warning naming the line', () => {
    const acl = parseAclText('# c\npattern read plain/#\n', 'f.acl');
    assert.deepEqual(strip(acl.patterns), [['read', 'plain/#']]);
    assert.equal(acl.warnings.length, 1);
    assert.equal(acl.warnings[0]?.line, 2);
    assert.equal(acl.warnings[0]?.file, 'f.acl');
    assert.match(acl.warnings[0]?.message ?? '', /%c/);
  });

  test('comments start in the first column; blank and white-space-only lines are skipped', () => {
    const acl = parseAclText('# comment\n\n   \n\t\n#topic read hidden\ntopic read shown\n', 'acl');
    assert.deepEqual(strip(acl.anonymous), [['read', 'shown']]);
    assert.equal(acl.anonymous[0]?.line, 6);
  });

  test('an indented comment is an invalid line (mosquitto: "Invalid line")', () => {
    assertRefused('topic a\n  # indented\n', 'ACL_INVALID_LINE', 2);
  });

  test('CRLF line endings and trailing white space are removed; a last line without newline counts', () => {
    const acl = parseAclText('topic read a \r\nuser bob\t\r\ntopic write b', 'acl');
    assert.deepEqual(strip(acl.anonymous), [['read', 'a']]);
    assert.deepEqual(strip(acl.users.get('bob') ?? []), [['write', 'b']]);
  });

  test('words are split on spaces: leading and repeated spaces are fine, the topic keeps inner spaces', () => {
    const acl = parseAclText('   topic   read    a b/c d  \n', 'acl');
    assert.deepEqual(strip(acl.anonymous), [['read', 'a b/c d']]);
  });

  test('a tab is not a separator: before or after the keyword the line is invalid', () => {
    assertRefused('\ttopic read x\n', 'ACL_INVALID_LINE', 1);
    assertRefused('topic\tread x\n', 'ACL_INVALID_LINE', 1);
    assertRefused('user\tbob\n', 'ACL_INVALID_LINE', 1);
  });

  test('with one word after the keyword, that word is the topic and the access readwrite', () => {
    // mosquitto 2.0.11 starts with these and grants readwrite on the topics "read" and "read\tx"
    const acl = parseAclText('topic read\ntopic read\tx\ntopic deny\n', 'acl');
    assert.deepEqual(strip(acl.anonymous), [
      ['readwrite', 'read'],
      ['readwrite', 'read\tx'],
      ['readwrite', 'deny'],
    ]);
  });

  test('user names are the rest of the line, blanks trimmed, spaces and "#" included', () => {
    const acl = parseAclText('user   bob smith  \ntopic a\nuser carol # not a comment\ntopic b\n', 'acl');
    assert.deepEqual([...acl.users.keys()], ['bob smith', 'carol # not a comment']);
  });

  test('an empty file, or one with only comments, has no rules', () => {
    for (const text of ['', '\n', '# only\n']) {
      const acl = parseAclText(text, 'acl');
      assert.equal(acl.anonymous.length + acl.patterns.length + acl.users.size, 0);
    }
  });
});

describe('acl_file reader: malformed lines are typed errors naming file:line', () => {
  test('unknown keyword, and keywords are case sensitive', () => {
    assertRefused('topic a\nallow b\n', 'ACL_INVALID_LINE', 2);
    assertRefused('Topic read a\n', 'ACL_INVALID_LINE', 1);
    assertRefused('USER bob\n', 'ACL_INVALID_LINE', 1);
  });

  test('a byte order mark makes the first line invalid, and the message says so', () => {
    const err = assertRefused('\ufefftopic read a\n', 'ACL_INVALID_LINE', 1);
    assert.match(err.message, /byte order mark/);
  });

  test('topic or pattern without a topic', () => {
    assertRefused('# x\ntopic\n', 'ACL_EMPTY_TOPIC', 2);
    assertRefused('pattern   \n', 'ACL_EMPTY_TOPIC', 1);
  });

  test('an unknown access word', () => {
    const err = assertRefused('topic rw a/b\n', 'ACL_INVALID_ACCESS', 1);
    assert.match(err.message, /"rw"/);
    assertRefused('user u\ntopic READ a\n', 'ACL_INVALID_ACCESS', 2);
    assertRefused('pattern constructor a/%c\n', 'ACL_INVALID_ACCESS', 1);
  });

  test('user without a name', () => {
    assertRefused('user\n', 'ACL_MISSING_USERNAME', 1);
    assertRefused('topic a\nuser   \t \n', 'ACL_MISSING_USERNAME', 2);
  });

  test('invalid ACL topics: wildcards not alone, # not last, a trailing comment', () => {
    assertRefused('topic read a/+b\n', 'ACL_INVALID_TOPIC', 1);
    assertRefused('topic read a/#/b\n', 'ACL_INVALID_TOPIC', 1);
    assertRefused('topic read a#\n', 'ACL_INVALID_TOPIC', 1);
    assertRefused('pattern read +%c\n', 'ACL_INVALID_TOPIC', 1);
    const err = assertRefused('topic a\ntopic read x # note\n', 'ACL_INVALID_TOPIC', 2);
    assert.match(err.message, /"x # note"/);
  });

  test('at most 200 "/" in an ACL topic (mosquitto\'s TOPIC_HIERARCHY_LIMIT)', () => {
    const topic = (slashes: number): string => Array.from({ length: slashes + 1 }, () => 'a').join('/');
    assert.equal(parseAclText(`topic read ${topic(200)}\n`, 'acl').anonymous.length, 1);
    assertRefused(`topic read ${topic(201)}\n`, 'ACL_INVALID_TOPIC', 1);
  });

  test('a NUL character is refused rather than silently cutting the line', () => {
    assertRefused('topic a\ntopic read a\0b\n', 'ACL_NUL_CHARACTER', 2);
  });

  test('the first error wins, and line numbers count comments and blank lines', () => {
    assertRefused('# 1\n\ntopic ok\n   \nbad line\ntopic rw x\n', 'ACL_INVALID_LINE', 5, '/etc/culex/acl');
  });
});
