// AclFile decisions, one test per rule of mosquitto 2.0.11's ACL check (see acl-file.ts),
// plus the per-client pattern cache and reload(). test/interop/acl-parity.test.ts compares
// the same decisions with a real mosquitto process.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientIdentity } from '../../core/ports.js';
import { AclFile, AclFileError, substitute } from './acl-file.js';

const anon = (clientId = 'c1'): ClientIdentity => ({ clientId, username: undefined, identity: undefined });
const user = (username: string, clientId = 'c1', identity?: string): ClientIdentity => ({ clientId, username, identity });

const canWrite = (acl: AclFile, client: ClientIdentity, topic: string): boolean => acl.canPublish(client, topic) === 'allow';

describe('AclFile: whose rules', () => {
  const acl = AclFile.parse(['topic readwrite anon/#', 'user alice', 'topic readwrite alice/#', 'user bob smith', 'topic bob/#'].join('\n'));

  test('lines before the first user line are for clients without a user', () => {
    assert.equal(canWrite(acl, anon(), 'anon/x'), true);
    assert.equal(acl.canRead(anon(), 'anon/x'), true);
    assert.equal(canWrite(acl, anon(), 'alice/x'), false);
  });

  test('a user gets its own block only, not the anonymous lines', () => {
    assert.equal(canWrite(acl, user('alice'), 'alice/x'), true);
    assert.equal(canWrite(acl, user('alice'), 'anon/x'), false);
    assert.equal(canWrite(acl, user('alice'), 'bob/x'), false);
    assert.equal(canWrite(acl, user('bob smith'), 'bob/x'), true);
  });

  test('a user without a block gets nothing (not the anonymous lines)', () => {
    assert.equal(canWrite(acl, user('mallory'), 'anon/x'), false);
    assert.equal(acl.canRead(user('mallory'), 'anon/x'), false);
    assert.equal(canWrite(acl, user(''), 'anon/x'), false);
  });

  test('the identity (token owner, certificate CN) is the user when set', () => {
    assert.equal(canWrite(acl, user('mallory', 'c1', 'alice'), 'alice/x'), true);
    assert.equal(canWrite(acl, user('alice', 'c1', 'mallory'), 'alice/x'), false);
    assert.equal(canWrite(acl, { clientId: 'c1', username: undefined, identity: 'alice' }, 'alice/x'), true);
  });
});

describe('AclFile: access words', () => {
  const acl = AclFile.parse(['topic read r/#', 'topic write w/#', 'topic readwrite rw/#', 'topic both/#', 'topic deny rw/secret/#'].join('\n'));

  test('read allows reading only, write writing only, readwrite and the default both', () => {
    assert.deepEqual([acl.canRead(anon(), 'r/1'), canWrite(acl, anon(), 'r/1')], [true, false]);
    assert.deepEqual([acl.canRead(anon(), 'w/1'), canWrite(acl, anon(), 'w/1')], [false, true]);
    assert.deepEqual([acl.canRead(anon(), 'rw/1'), canWrite(acl, anon(), 'rw/1')], [true, true]);
    assert.deepEqual([acl.canRead(anon(), 'both/1'), canWrite(acl, anon(), 'both/1')], [true, true]);
  });

  test('deny removes both accesses under a broader grant', () => {
    assert.deepEqual([acl.canRead(anon(), 'rw/secret/1'), canWrite(acl, anon(), 'rw/secret/1')], [false, false]);
    assert.deepEqual([acl.canRead(anon(), 'rw/secret'), canWrite(acl, anon(), 'rw/secret')], [false, false]);
    assert.equal(acl.canRead(anon(), 'rw/secretive'), true);
  });

  test('nothing matching is denied; an empty file denies everything', () => {
    assert.equal(canWrite(acl, anon(), 'elsewhere'), false);
    const empty = AclFile.parse('# nothing\n');
    assert.equal(canWrite(empty, anon(), 'a'), false);
    assert.equal(empty.canRead(user('u'), 'a'), false);
  });
});

describe('AclFile: order', () => {
  test('deny wins over an allow whatever their order in the file', () => {
    for (const text of ['topic a/#\ntopic deny a/b', 'topic deny a/b\ntopic a/#']) {
      const acl = AclFile.parse(text);
      assert.equal(canWrite(acl, anon(), 'a/b'), false, text);
      assert.equal(canWrite(acl, anon(), 'a/c'), true, text);
    }
  });

  test('a matching line without the access does not stop the search', () => {
    const acl = AclFile.parse('topic read a/#\ntopic write a/b\n');
    assert.equal(canWrite(acl, anon(), 'a/b'), true);
    assert.equal(acl.canRead(anon(), 'a/b'), true);
  });

  test("the user's own lines come before patterns: own allow beats a deny pattern, own deny beats an allow pattern", () => {
    const acl = AclFile.parse(['user alice', 'topic alice/open', 'topic deny shared/%c-x', 'pattern deny alice/#', 'pattern shared/#'].join('\n'));
    assert.equal(canWrite(acl, user('alice'), 'alice/open'), true);
    assert.equal(canWrite(acl, user('alice'), 'alice/other'), false);
    assert.equal(canWrite(acl, user('alice', 'c1'), 'shared/%c-x'), false, 'topic lines are literal: no substitution');
    assert.equal(canWrite(acl, user('alice', 'c1'), 'shared/c1-x'), true);
    assert.equal(canWrite(acl, user('bob'), 'shared/anything'), true);
  });
});

describe('AclFile: patterns', () => {
  const acl = AclFile.parse(['pattern read in/%u/#', 'pattern write out/%c/#', 'pattern readwrite both/%u/%c', 'pattern deny in/%u/private'].join('\n'));

  test('%u is the user and %c the client id, for every client', () => {
    assert.equal(acl.canRead(user('alice'), 'in/alice/x'), true);
    assert.equal(acl.canRead(user('alice'), 'in/bob/x'), false);
    assert.equal(canWrite(acl, user('alice', 'dev1'), 'out/dev1/x'), true);
    assert.equal(canWrite(acl, user('alice', 'dev1'), 'out/dev2/x'), false);
    assert.equal(canWrite(acl, anon('dev1'), 'out/dev1/x'), true);
    assert.equal(acl.canRead(user('alice', 'dev1'), 'both/alice/dev1'), true);
    assert.equal(acl.canRead(user('alice', 'dev1'), 'in/alice/private'), false);
  });

  test('a pattern with %u is skipped for a client without a user; the identity stands in for it', () => {
    assert.equal(acl.canRead(anon(), 'in//x'), false);
    assert.equal(acl.canRead(anon(), 'in/%u/x'), false);
    assert.equal(acl.canRead(anon('dev1'), 'both//dev1'), false);
    assert.equal(acl.canRead(user('name', 'c1', 'ident'), 'in/ident/x'), true);
    assert.equal(acl.canRead(user('name', 'c1', 'ident'), 'in/name/x'), false);
    // an empty user name is a user: %u becomes ""
    assert.equal(acl.canRead(user(''), 'in//x'), true);
  });

  test('a "+" or "#" in the user or client id denies everything the patterns would decide', () => {
    assert.equal(acl.canRead(user('a+b'), 'in/a+b/x'), false);
    assert.equal(acl.canRead(user('a#'), 'in/x'), false);
    assert.equal(canWrite(acl, anon('dev+1'), 'out/dev+1/x'), false);
    assert.equal(canWrite(acl, user('alice', 'dev#'), 'out/dev#/x'), false);
  });

  test('the wildcard-character rule applies only after the own lines, and only when patterns exist', () => {
    const withPatterns = AclFile.parse('user a+b\ntopic own/#\npattern x/%c\n');
    assert.equal(canWrite(withPatterns, user('a+b'), 'own/1'), true);
    assert.equal(canWrite(withPatterns, user('a+b'), 'x/c1'), false);
    const noPatterns = AclFile.parse('topic read open/#\n');
    assert.equal(noPatterns.canRead(anon('dev+1'), 'open/1'), true);
  });

  test('substitution happens anywhere in the topic; other % sequences stay', () => {
    assert.equal(substitute('a%cb/%u%u/%x/%', 'C', 'U'), 'aCb/UU/%x/%');
    assert.equal(substitute('%%c', 'C', 'U'), '%C');
    assert.equal(substitute('%u/%c', 'C', undefined), '%u/C');
    assert.equal(substitute('plain', 'C', 'U'), 'plain');
    const inside = AclFile.parse('pattern readwrite dev-%c/#\n');
    assert.equal(canWrite(inside, anon('7'), 'dev-7/x'), true);
    assert.equal(canWrite(inside, anon('7'), 'dev-8/x'), false);
  });

  test('a client id with "/" spans levels, as in mosquitto', () => {
    const span = AclFile.parse('pattern readwrite d/%c/x\n');
    assert.equal(canWrite(span, anon('a/b'), 'd/a/b/x'), true);
  });

  test('a pattern that becomes empty matches nothing', () => {
    const empty = AclFile.parse('pattern readwrite %u\n');
    assert.equal(canWrite(empty, user(''), 'x'), false);
    assert.equal(canWrite(empty, user('x'), 'x'), true);
  });
});

describe('AclFile: $ topics', () => {
  const acl = AclFile.parse(
    ['topic readwrite #', 'topic readwrite $SYS/#', 'topic readwrite $share/#', 'topic readwrite $app/#', 'user u', 'topic read #', 'pattern write $SYS/broker/connection/%c/state'].join('\n'),
  );

  test('no client may write $SYS, whatever the ACL, except bridge state topics the ACL allows', () => {
    assert.equal(canWrite(acl, anon(), '$SYS/broker/x'), false);
    assert.equal(canWrite(acl, anon(), '$SYSX/x'), false, 'prefix test, as mosquitto strncmp');
    assert.equal(canWrite(acl, anon(), '$SYS/broker/connection/b1/state'), true);
    assert.equal(canWrite(acl, user('u', 'b1'), '$SYS/broker/connection/b1/state'), true, 'through the pattern');
    assert.equal(canWrite(acl, user('u', 'b1'), '$SYS/broker/connection/b2/state'), false);
  });

  test('nothing may write or read a topic starting with $share', () => {
    assert.equal(canWrite(acl, anon(), '$share/g/x'), false);
    assert.equal(acl.canRead(anon(), '$share/g/x'), false);
    assert.equal(canWrite(acl, anon(), '$sharedthing'), false);
  });

  test('# does not grant $ topics: reading $SYS needs an ACL topic starting with $', () => {
    assert.equal(acl.canRead(user('u'), '$SYS/broker/uptime'), false);
    assert.equal(acl.canRead(user('u'), 'a/b'), true);
    assert.equal(acl.canRead(anon(), '$SYS/broker/uptime'), true);
  });

  test('other $ topics follow the ACL', () => {
    assert.equal(canWrite(acl, anon(), '$app/x'), true);
    assert.equal(canWrite(acl, user('u'), '$app/x'), false);
  });
});

describe('AclFile: subscriptions', () => {
  test('a wildcard SUBSCRIBE is always allowed (as mosquitto); reading is checked per message', () => {
    const acl = AclFile.parse('topic read a/#\n');
    for (const filter of ['a/#', '#', '+/x', '$SYS/#', 'nothing/+']) {
      assert.equal(acl.canSubscribe(anon(), filter), 'allow', filter);
    }
    assert.equal(acl.canRead(anon(), 'a/1'), true);
    assert.equal(acl.canRead(anon(), 'b/1'), false);
  });

  test('a filter without wildcards the client may never read is refused (test/nosubscribe in the Paho suites)', () => {
    const acl = AclFile.parse('topic readwrite #\ntopic deny test/nosubscribe\n');
    assert.equal(acl.canSubscribe(anon(), 'test/nosubscribe'), 'deny');
    assert.equal(acl.canSubscribe(anon(), 'test/other'), 'allow');
    assert.equal(acl.canSubscribe(anon(), 'test/#'), 'allow', 'a wildcard is granted; the denied topic is filtered per message');
    assert.equal(acl.canRead(anon(), 'test/nosubscribe'), false);
  });
});

describe('AclFile: the per-client pattern cache', () => {
  test('holds at most maxCachedClients entries and stays correct after evictions', () => {
    const acl = AclFile.parse('pattern write d/%c/#\n', 'acl', { maxCachedClients: 3 });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 10; i++) {
        assert.equal(canWrite(acl, anon(`c${i}`), `d/c${i}/x`), true);
        assert.equal(canWrite(acl, anon(`c${i}`), `d/c${i + 1}/x`), false);
        assert.ok(acl.cachedClients <= 3, `${acl.cachedClients} entries`);
      }
    }
    assert.equal(acl.cachedClients, 3);
  });

  test('keyed by user only when no pattern uses %c; not used at all without patterns', () => {
    const byUser = AclFile.parse('pattern write u/%u/#\n');
    for (let i = 0; i < 5; i++) canWrite(byUser, user('alice', `c${i}`), 'u/alice/x');
    assert.equal(byUser.cachedClients, 1);
    const none = AclFile.parse('topic a\n');
    canWrite(none, anon('c1'), 'a');
    assert.equal(none.cachedClients, 0);
  });

  test('(user, client id) pairs never share an entry', () => {
    const acl = AclFile.parse('pattern write %u/%c\n');
    assert.equal(canWrite(acl, user('a', 'b:c'), 'a/b:c'), true);
    assert.equal(canWrite(acl, user('a:b', 'c'), 'a:b/c'), true);
    assert.equal(canWrite(acl, user('a:b', 'c'), 'a/b:c'), false);
    assert.equal(acl.cachedClients, 2);
  });

  test('maxCachedClients must be a positive integer', () => {
    assert.throws(() => AclFile.parse('', 'acl', { maxCachedClients: 0 }), RangeError);
  });
});

describe('AclFile: load and reload', () => {
  const dir = mkdtempSync(join(tmpdir(), 'culex-acl-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('load reads the file; a missing file is ACL_READ_FAILED naming it', async () => {
    const path = join(dir, 'load.acl');
    writeFileSync(path, 'topic read a\n');
    const acl = await AclFile.load(path);
    assert.equal(acl.path, path);
    assert.equal(acl.canRead(anon(), 'a'), true);
    await assert.rejects(AclFile.load(join(dir, 'missing.acl')), (err: unknown) => {
      assert.ok(err instanceof AclFileError);
      assert.equal(err.code, 'ACL_READ_FAILED');
      assert.ok(err.message.includes('missing.acl'), err.message);
      return true;
    });
  });

  test('a malformed file refuses to load with file:line', async () => {
    const path = join(dir, 'bad.acl');
    writeFileSync(path, 'topic a\n\ntopic write a/+b\n');
    await assert.rejects(AclFile.load(path), (err: unknown) => {
      assert.ok(err instanceof AclFileError);
      assert.equal(err.code, 'ACL_INVALID_TOPIC');
      assert.ok(err.message.startsWith(`${path}:3: `), err.message);
      return true;
    });
  });

  test('reload applies the new rules to every check at once, pattern cache included', async () => {
    const path = join(dir, 'reload.acl');
    writeFileSync(path, 'pattern write old/%c\n');
    const acl = await AclFile.load(path);
    assert.equal(canWrite(acl, anon('c1'), 'old/c1'), true);
    writeFileSync(path, 'pattern write new/%c\n');
    await acl.reload();
    assert.equal(canWrite(acl, anon('c1'), 'old/c1'), false);
    assert.equal(canWrite(acl, anon('c1'), 'new/c1'), true);
  });

  test('a failed reload rejects with the error and keeps the old rules', async () => {
    const path = join(dir, 'keep.acl');
    writeFileSync(path, 'topic read kept\n');
    const acl = await AclFile.load(path);
    writeFileSync(path, 'topic read fine\nuser\n');
    await assert.rejects(acl.reload(), (err: unknown) => {
      assert.ok(err instanceof AclFileError);
      assert.equal(err.code, 'ACL_MISSING_USERNAME');
      assert.equal(err.line, 2);
      return true;
    });
    assert.equal(acl.canRead(anon(), 'kept'), true);
    assert.equal(acl.canRead(anon(), 'fine'), false);
    rmSync(path);
    await assert.rejects(acl.reload(), (err: unknown) => err instanceof AclFileError && err.code === 'ACL_READ_FAILED');
    assert.equal(acl.canRead(anon(), 'kept'), true);
  });

  test('overlapping reloads: the last one started wins', async () => {
    const path = join(dir, 'race.acl');
    writeFileSync(path, 'topic read v1\n');
    const acl = await AclFile.load(path);
    writeFileSync(path, 'topic read v2\n');
    const first = acl.reload();
    const second = acl.reload();
    await Promise.all([first, second]);
    assert.equal(acl.canRead(anon(), 'v2'), true);
  });

  test('an AclFile parsed from text cannot reload', async () => {
    await assert.rejects(AclFile.parse('topic a\n').reload(), (err: unknown) => err instanceof AclFileError && err.code === 'ACL_NOT_FROM_FILE');
  });

  test('warnings of the loaded rules are exposed for the log', () => {
    assert.equal(AclFile.parse('pattern read x\n').warnings.length, 1);
  });
});
