// Conformance: shared subscriptions `$share/{ShareName}/{filter}` (MQTT 5.0 section 4.8.2).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isSharedSubscription, parseSharedSubscription } from './shared.js';

const errorCode = (filter: string): string | undefined => {
  const r = parseSharedSubscription(filter);
  return r !== undefined && !r.valid ? r.error.code : undefined;
};

describe('shared subscriptions', () => {
  test('[MQTT-4.8.2-1] spec examples split into ShareName and filter', () => {
    assert.deepEqual(parseSharedSubscription('$share/consumer1/sport/tennis/+'), {
      valid: true,
      group: 'consumer1',
      filter: 'sport/tennis/+',
    });
    assert.deepEqual(parseSharedSubscription('$share/consumer2/sport/tennis/+'), {
      valid: true,
      group: 'consumer2',
      filter: 'sport/tennis/+',
    });
    assert.deepEqual(parseSharedSubscription('$share/consumer1//finance'), {
      valid: true,
      group: 'consumer1',
      filter: '/finance',
    });
  });

  test('the inner filter may be any valid filter, including "#", "$SYS/#" and "/"', () => {
    for (const [input, filter] of [
      ['$share/g/#', '#'],
      ['$share/g/+', '+'],
      ['$share/g/$SYS/#', '$SYS/#'],
      ['$share/g//', '/'],
      ['$share/g/a/b/c', 'a/b/c'],
      ['$share/$g/x', 'x'],
    ] as const) {
      const r = parseSharedSubscription(input);
      assert.ok(r?.valid, input);
      assert.equal(r.filter, filter, input);
    }
  });

  test('[MQTT-4.8.2-1] the ShareName must be at least one character', () => {
    assert.equal(errorCode('$share//sport'), 'EMPTY_SHARE_NAME');
    assert.equal(errorCode('$share/'), 'EMPTY_SHARE_NAME');
    assert.equal(errorCode('$share'), 'EMPTY_SHARE_NAME');
  });

  test('[MQTT-4.8.2-2] the ShareName must not contain "+" or "#" (nor U+0000)', () => {
    for (const s of ['$share/+/a', '$share/#/a', '$share/g+/a', '$share/g#x/a', '$share/g\u0000/a']) {
      assert.equal(errorCode(s), 'INVALID_SHARE_NAME', s);
    }
    assert.equal(errorCode('$share/\ud800/a'), 'LONE_SURROGATE');
    assert.ok(parseSharedSubscription('$share/\ud83d\ude00/a')?.valid);
  });

  test('[MQTT-4.8.2-2] the ShareName ends at the first "/", so it cannot contain one', () => {
    const r = parseSharedSubscription('$share/a/b/c');
    assert.ok(r?.valid);
    assert.equal(r.group, 'a');
    assert.equal(r.filter, 'b/c');
  });

  test('[MQTT-4.8.2-2] the ShareName must be followed by "/" and a topic filter', () => {
    assert.equal(errorCode('$share/group'), 'MISSING_SHARE_FILTER');
    assert.equal(errorCode('$share/group/'), 'MISSING_SHARE_FILTER');
  });

  test('an invalid inner filter reports the filter error', () => {
    assert.equal(errorCode('$share/g/a/#/b'), 'MULTI_LEVEL_WILDCARD_NOT_LAST');
    assert.equal(errorCode('$share/g/a+'), 'SINGLE_LEVEL_WILDCARD_NOT_ALONE');
    assert.equal(errorCode('$share/g/a\u0000'), 'NULL_CHARACTER');
  });

  test('limits apply to the inner filter', () => {
    const r = parseSharedSubscription('$share/g/a/b/c', { maxLevels: 2 });
    assert.equal(r?.valid, false);
    assert.ok(parseSharedSubscription('$share/g/a/b', { maxLevels: 2 })?.valid);
  });

  test('a plain filter is not shared: undefined', () => {
    for (const s of ['sport/#', '#', '$SYS/#', '$sharex/g/a', '$shared/g/a', 'a/$share/g/b', '$Share/g/a', '']) {
      assert.equal(parseSharedSubscription(s), undefined, s);
      assert.equal(isSharedSubscription(s), false, s);
    }
    assert.equal(isSharedSubscription('$share'), true);
    assert.equal(isSharedSubscription('$share/g/a'), true);
  });
});
