// CombinedAuthorizer: all must allow; 'disconnect' from any part wins, even after a 'deny';
// canRead exists only when a part has it and needs every such part to agree.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Authorizer, AuthzVerdict, ClientIdentity } from '../../core/ports.js';
import { CombinedAuthorizer } from './combined-authorizer.js';

const client: ClientIdentity = { clientId: 'c1', username: 'u', identity: undefined };

function fixed(verdict: AuthzVerdict, read?: boolean): Authorizer & { calls: number } {
  const a = {
    calls: 0,
    canPublish(): AuthzVerdict {
      a.calls++;
      return verdict;
    },
    canSubscribe(): AuthzVerdict {
      a.calls++;
      return verdict;
    },
    ...(read === undefined ? {} : { canRead: (): boolean => read }),
  };
  return a;
}

describe('CombinedAuthorizer', () => {
  const table: [AuthzVerdict[], AuthzVerdict][] = [
    [['allow', 'allow'], 'allow'],
    [['allow', 'deny'], 'deny'],
    [['deny', 'allow'], 'deny'],
    [['deny', 'disconnect'], 'disconnect'],
    [['disconnect', 'deny'], 'disconnect'],
    [['allow', 'disconnect', 'allow'], 'disconnect'],
    [['deny', 'deny'], 'deny'],
  ];
  for (const [parts, expected] of table) {
    test(`${parts.join(' + ')} = ${expected}`, () => {
      const combined = new CombinedAuthorizer(parts.map((v) => fixed(v)));
      assert.equal(combined.canPublish(client, 't', 0, false), expected);
      assert.equal(combined.canSubscribe(client, 't/#', 1), expected);
    });
  }

  test('stops asking at the first disconnect, asks everyone after a deny', () => {
    const [a, b, c] = [fixed('deny'), fixed('disconnect'), fixed('allow')];
    new CombinedAuthorizer([a, b, c]).canPublish(client, 't', 0, false);
    assert.deepEqual([a.calls, b.calls, c.calls], [1, 1, 0]);
  });

  test('no parts: everything allowed, no canRead', () => {
    const none = new CombinedAuthorizer([]);
    assert.equal(none.canPublish(client, 't', 0, false), 'allow');
    assert.equal(none.canRead, undefined);
  });

  test('canRead: absent when no part has it; else every part that has it must agree', () => {
    assert.equal(new CombinedAuthorizer([fixed('allow'), fixed('deny')]).canRead, undefined);
    const yes = new CombinedAuthorizer([fixed('allow', true), fixed('allow')]);
    assert.equal(yes.canRead?.(client, 't'), true);
    const no = new CombinedAuthorizer([fixed('allow', true), fixed('allow'), fixed('allow', false)]);
    assert.equal(no.canRead?.(client, 't'), false);
  });

  test('canRead is called with the part as `this` (class-based authorizers keep their state)', () => {
    class Reader implements Authorizer {
      readonly #allowed = 'ok';
      canPublish(): AuthzVerdict {
        return 'allow';
      }
      canSubscribe(): AuthzVerdict {
        return 'allow';
      }
      canRead(_c: ClientIdentity, topic: string): boolean {
        return topic === this.#allowed;
      }
    }
    const combined = new CombinedAuthorizer([new Reader()]);
    assert.equal(combined.canRead?.(client, 'ok'), true);
    assert.equal(combined.canRead?.(client, 'no'), false);
  });
});
