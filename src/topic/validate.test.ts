// Conformance: Topic Name and Topic Filter syntax (MQTT 3.1.1 / 5.0 section 4.7).
// Ids are the 3.1.1 numbering, with the 5.0 id alongside where it differs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type TopicErrorCode, TopicErrors, TopicValidationError } from './errors.js';
import {
  DEFAULT_TOPIC_LIMITS,
  MAX_TOPIC_LENGTH,
  hasWildcard,
  isValidTopicFilter,
  isValidTopicName,
  validateTopicFilter,
  validateTopicName,
} from './validate.js';

const nameCode = (name: string, limits?: Parameters<typeof validateTopicName>[1]): TopicErrorCode | undefined =>
  validateTopicName(name, limits)?.code;
const filterCode = (filter: string, limits?: Parameters<typeof validateTopicFilter>[1]): TopicErrorCode | undefined =>
  validateTopicFilter(filter, limits)?.code;

describe('topic names and filters: common rules', () => {
  test('[MQTT-4.7.3-1] an empty name or filter is rejected', () => {
    assert.equal(nameCode(''), 'EMPTY');
    assert.equal(filterCode(''), 'EMPTY');
  });

  test('[MQTT-4.7.3-2] U+0000 is rejected anywhere', () => {
    for (const s of ['\u0000', 'a\u0000', '\u0000/b', 'a/b\u0000c']) {
      assert.equal(nameCode(s), 'NULL_CHARACTER', JSON.stringify(s));
      assert.equal(filterCode(s), 'NULL_CHARACTER', JSON.stringify(s));
    }
  });

  test('[MQTT-4.7.3-3] at most 65535 UTF-8 bytes, counted in bytes not UTF-16 units', () => {
    const max = 'a'.repeat(MAX_TOPIC_LENGTH);
    assert.equal(nameCode(max), undefined);
    assert.equal(filterCode(max), undefined);
    assert.equal(nameCode(`${max}a`), 'TOO_LONG');
    assert.equal(filterCode(`${max}a`), 'TOO_LONG');
    // 'é' is 2 bytes, '€' 3, '😀' (a surrogate pair) 4.
    const twoByte = 'é'.repeat(32767); // 65534 bytes
    assert.equal(nameCode(twoByte), undefined);
    assert.equal(nameCode(`${twoByte}é`), 'TOO_LONG');
    assert.equal(nameCode('€'.repeat(21845)), undefined); // 65535 bytes
    assert.equal(nameCode('€'.repeat(21846)), 'TOO_LONG');
    assert.equal(filterCode(`${'😀'.repeat(16383)}abc`), undefined); // 65535 bytes
    assert.equal(filterCode(`${'😀'.repeat(16383)}abcd`), 'TOO_LONG');
  });

  test('byte counting agrees with Buffer.byteLength on well-formed strings (property)', () => {
    const alphabet = fc.constantFrom('a', '/', 'é', '€', '😀', ' ', '$');
    fc.assert(
      fc.property(fc.array(alphabet, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 120 }), (chars, max) => {
        const name = chars.join('');
        const tooLong = Buffer.byteLength(name) > max;
        assert.equal(nameCode(name, { maxLength: max }) === 'TOO_LONG', tooLong);
      }),
    );
  });

  test('[MQTT-1.5.4-1] (3.1.1: [MQTT-1.5.3-1]) a lone surrogate is rejected, a pair accepted', () => {
    for (const s of ['\ud800', 'a/\udc00', '\ud83d/x', 'x\ude00', '\ude00\ud83d']) {
      assert.equal(nameCode(s), 'LONE_SURROGATE', JSON.stringify(s));
      assert.equal(filterCode(s), 'LONE_SURROGATE', JSON.stringify(s));
    }
    assert.equal(nameCode('\ud83d\ude00/a'), undefined);
    assert.equal(filterCode('\ud83d\ude00/+'), undefined);
  });

  test('[MQTT-4.7.3-4] no normalisation: spaces, case and unusual characters are kept as-is', () => {
    for (const s of ['Accounts payable', 'ACCOUNTS', ' ', 'cafe\u0301', '\u0001', '\uffff', '\u007f']) {
      assert.equal(nameCode(s), undefined, JSON.stringify(s));
      assert.equal(filterCode(s), undefined, JSON.stringify(s));
    }
  });

  test('"/" alone, leading, trailing and repeated separators are valid (empty levels)', () => {
    for (const s of ['/', '//', '/finance', 'finance/', 'a//b', '$SYS', '$SYS/broker']) {
      assert.equal(nameCode(s), undefined, s);
      assert.equal(filterCode(s), undefined, s);
    }
  });
});

describe('topic names', () => {
  test('[MQTT-4.7.1-1] (5.0: [MQTT-4.7.0-1], [MQTT-3.3.2-2]) wildcards are not allowed in a name', () => {
    for (const s of ['#', '+', 'a/#', 'a/+', '+/a', 'a/+/b', 'sport+', 'a#', '#/a']) {
      assert.equal(nameCode(s), 'WILDCARD_IN_NAME', s);
      assert.equal(isValidTopicName(s), false, s);
    }
  });

  test('ordinary names are valid', () => {
    for (const s of ['a', 'sport/tennis/player1', 'sport/tennis/player1/ranking', 'a b/c-d_e.f', 'ü/€/😀']) {
      assert.equal(nameCode(s), undefined, s);
      assert.equal(isValidTopicName(s), true, s);
    }
  });
});

describe('topic filters', () => {
  test('[MQTT-4.7.1-2] (5.0: [MQTT-4.7.1-1]) spec examples: "#" alone and last', () => {
    for (const s of ['#', 'sport/tennis/#', 'sport/tennis/player1/#', '/#', '+/#', '$SYS/#', '//#']) {
      assert.equal(filterCode(s), undefined, s);
    }
    assert.equal(filterCode('sport/tennis#'), 'MULTI_LEVEL_WILDCARD_NOT_ALONE');
    assert.equal(filterCode('sport/tennis/#/ranking'), 'MULTI_LEVEL_WILDCARD_NOT_LAST');
    assert.equal(filterCode('#/'), 'MULTI_LEVEL_WILDCARD_NOT_LAST');
    assert.equal(filterCode('##'), 'MULTI_LEVEL_WILDCARD_NOT_LAST');
    assert.equal(filterCode('a/#b'), 'MULTI_LEVEL_WILDCARD_NOT_LAST');
    assert.equal(filterCode('a/b#'), 'MULTI_LEVEL_WILDCARD_NOT_ALONE');
    assert.equal(filterCode('+#'), 'SINGLE_LEVEL_WILDCARD_NOT_ALONE');
  });

  test('[MQTT-4.7.1-3] (5.0: [MQTT-4.7.1-2]) spec examples: "+" occupies a whole level', () => {
    for (const s of ['+', '+/tennis/#', 'sport/+/player1', '+/+', '/+', '+/', '+//+', '$SYS/+']) {
      assert.equal(filterCode(s), undefined, s);
    }
    for (const s of ['sport+', '+sport', 'a/b+/c', 'a/+b', '++', '+#', 'a/++/b']) {
      assert.equal(filterCode(s), 'SINGLE_LEVEL_WILDCARD_NOT_ALONE', s);
    }
  });

  test('isValidTopicFilter mirrors validateTopicFilter', () => {
    assert.equal(isValidTopicFilter('a/+/#'), true);
    assert.equal(isValidTopicFilter('a/#/b'), false);
  });
});

describe('broker limits (TopicLimits)', () => {
  test('defaults are the specification bounds', () => {
    assert.equal(DEFAULT_TOPIC_LIMITS.maxLength, 65535);
    assert.equal(DEFAULT_TOPIC_LIMITS.maxLevels, Number.POSITIVE_INFINITY);
    assert.equal(nameCode('/'.repeat(65535)), undefined); // 65536 empty levels
  });

  test('maxLevels counts levels, not separators', () => {
    const limits = { maxLevels: 3 };
    assert.equal(nameCode('a/b/c', limits), undefined);
    assert.equal(nameCode('a/b/c/d', limits), 'TOO_MANY_LEVELS');
    assert.equal(nameCode('//', limits), undefined);
    assert.equal(nameCode('///', limits), 'TOO_MANY_LEVELS');
    assert.equal(filterCode('a/+/#', limits), undefined);
    assert.equal(filterCode('a/+/b/#', limits), 'TOO_MANY_LEVELS');
    assert.equal(nameCode('a', { maxLevels: 1 }), undefined);
    assert.equal(nameCode('a/', { maxLevels: 1 }), 'TOO_MANY_LEVELS');
  });

  test('maxLength is in UTF-8 bytes and cannot exceed 65535', () => {
    assert.equal(nameCode('abcd', { maxLength: 4 }), undefined);
    assert.equal(nameCode('abcde', { maxLength: 4 }), 'TOO_LONG');
    assert.equal(nameCode('ab€', { maxLength: 4 }), 'TOO_LONG');
    assert.equal(filterCode('a/€', { maxLength: 5 }), undefined);
    assert.equal(nameCode('a'.repeat(65536), { maxLength: 1_000_000 }), 'TOO_LONG');
  });

  test('a limits object is never mutated and may be frozen', () => {
    const limits = Object.freeze({ maxLevels: 2, maxLength: 10 });
    assert.equal(nameCode('a/b', limits), undefined);
    assert.deepEqual(limits, { maxLevels: 2, maxLength: 10 });
  });
});

describe('errors', () => {
  test('errors are shared frozen constants carrying both spec numberings', () => {
    const err = validateTopicFilter('a/#/b');
    assert.equal(err, TopicErrors.MULTI_LEVEL_WILDCARD_NOT_LAST);
    assert.deepEqual(err?.spec, { v311: 'MQTT-4.7.1-2', v5: 'MQTT-4.7.1-1' });
    assert.ok(Object.isFrozen(err));
    assert.ok(Object.isFrozen(TopicErrors));
    for (const [code, e] of Object.entries(TopicErrors)) assert.equal(e.code, code);
  });

  test('TopicValidationError carries the code and truncates a huge topic in its message', () => {
    const e = new TopicValidationError(TopicErrors.TOO_LONG, 'x'.repeat(70000));
    assert.equal(e.code, 'TOO_LONG');
    assert.equal(e.name, 'TopicValidationError');
    assert.ok(e.message.length < 200);
    assert.ok(e instanceof Error);
  });
});

describe('hasWildcard', () => {
  test('detects "+" and "#" anywhere', () => {
    assert.equal(hasWildcard('a/b'), false);
    assert.equal(hasWildcard('$SYS/x'), false);
    assert.equal(hasWildcard('a/+'), true);
    assert.equal(hasWildcard('#'), true);
  });
});

describe('property: names and filters', () => {
  const level = fc.constantFrom('a', 'b', '', '$SYS', 'é', '😀', '+', '#', 'a+', '#b');
  test('every valid name is a valid filter; a filter without wildcards is valid iff it is a valid name', () => {
    fc.assert(
      fc.property(fc.array(level, { minLength: 1, maxLength: 6 }), (levels) => {
        const s = levels.join('/');
        if (isValidTopicName(s)) assert.ok(isValidTopicFilter(s), s);
        if (!hasWildcard(s)) assert.equal(isValidTopicFilter(s), isValidTopicName(s), s);
      }),
    );
  });

  test('a filter is valid iff every wildcard level is exactly "+" or a final "#"', () => {
    fc.assert(
      fc.property(fc.array(level, { minLength: 1, maxLength: 6 }), (levels) => {
        const s = levels.join('/');
        const expected = s.length > 0 && levels.every(
          (l, i) => !/[+#]/.test(l) || l === '+' || (l === '#' && i === levels.length - 1),
        );
        assert.equal(isValidTopicFilter(s), expected, s);
      }),
    );
  });
});
