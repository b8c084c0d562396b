// The share-group registry: membership, group lifetime (memory is bounded by the
// subscriptions that create groups), and restoring stored sessions.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClientRef, type ClientRef } from './context.js';
import { createSessionState, type SubscriptionOptions } from './session-state.js';
import { SharedSubscriptions } from './shared-subscriptions.js';

function ref(clientId: string): ClientRef {
  return createClientRef(createSessionState(clientId, 0));
}

const options = (qos: 0 | 1 | 2): SubscriptionOptions => ({
  qos,
  noLocal: false,
  retainAsPublished: false,
  retainHandling: 0,
  subscriptionIdentifier: undefined,
});

describe('SharedSubscriptions registry', () => {
  test('a group exists while it has members and is deleted with the last one', () => {
    const shared = new SharedSubscriptions();
    const a = ref('a');
    const b = ref('b');
    assert.equal(shared.join('$share/g/x/#', 'x/#', a, options(1)), true);
    assert.equal(shared.join('$share/g/x/#', 'x/#', b, options(0)), true);
    assert.equal(shared.join('$share/h/x/#', 'x/#', a, options(0)), true);
    assert.equal(shared.groupCount, 2);
    assert.deepEqual(shared.members('$share/g/x/#'), ['a', 'b']);
    assert.equal(shared.leave('$share/g/x/#', a), true);
    assert.equal(shared.leave('$share/g/x/#', a), false, 'not a member any more');
    assert.equal(shared.groupCount, 2);
    assert.equal(shared.leave('$share/g/x/#', b), true);
    assert.equal(shared.leave('$share/h/x/#', a), true);
    assert.equal(shared.groupCount, 0, 'empty groups are deleted');
    assert.deepEqual(shared.members('$share/g/x/#'), []);
  });

  test('joining twice replaces the options and keeps one membership', () => {
    const shared = new SharedSubscriptions();
    const a = ref('a');
    assert.equal(shared.join('$share/g/x', 'x', a, options(0)), true);
    assert.equal(shared.join('$share/g/x', 'x', a, options(2)), false);
    assert.deepEqual(shared.members('$share/g/x'), ['a']);
  });

  test('restore() takes shared filters and leaves plain ones to the caller', () => {
    const shared = new SharedSubscriptions();
    const a = ref('a');
    assert.equal(shared.restore('$share/g/x', a, options(1)), true);
    assert.equal(shared.restore('x/y', a, options(1)), false);
    assert.deepEqual(shared.members('$share/g/x'), ['a']);
  });
});
