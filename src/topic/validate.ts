// Topic Name and Topic Filter validation (MQTT 3.1.1 and 5.0, section 4.7).
//
// Requirement ids differ between the two versions; errors carry both:
//   rule                          3.1.1           5.0
//   no wildcards in a Topic Name  MQTT-4.7.1-1    MQTT-4.7.0-1 (and MQTT-3.3.2-2)
//   `#` alone and last            MQTT-4.7.1-2    MQTT-4.7.1-1
//   `+` alone in its level        MQTT-4.7.1-3    MQTT-4.7.1-2
//   at least one character        MQTT-4.7.3-1    MQTT-4.7.3-1
//   no U+0000                     MQTT-4.7.3-2    MQTT-4.7.3-2
//   at most 65535 UTF-8 bytes     MQTT-4.7.3-3    MQTT-4.7.3-3
//   well-formed UTF-8 (no lone    MQTT-1.5.3-1    MQTT-1.5.4-1
//   surrogates)
//
// Validation runs on every PUBLISH, so each check is one pass over the char codes:
// no regex, no split, and no allocation (errors are shared frozen constants).

import { type TopicError, TopicErrors } from './errors.js';

/** Upper bound of every MQTT string: a two-byte length prefix [MQTT-4.7.3-3]. */
export const MAX_TOPIC_LENGTH = 65535;

/**
 * Limits a broker may set on top of the specification. Both are optional:
 * - `maxLength`: maximum UTF-8 length in bytes. Default and ceiling: 65535 [MQTT-4.7.3-3];
 *   larger values are clamped to it.
 * - `maxLevels`: maximum number of levels (`a/b` has 2, `/` has 2, `#` has 1). Default:
 *   unlimited, as in the specification. Brokers usually cap it (mosquitto uses 200) to bound
 *   the work one subscription or retained message can cost; TopicTrie and TopicIndex stay
 *   correct without a cap (neither recurses per level).
 */
export interface TopicLimits {
  readonly maxLength?: number;
  readonly maxLevels?: number;
}

/** The defaults applied when no limits (or only some) are given. */
export const DEFAULT_TOPIC_LIMITS: Readonly<Required<TopicLimits>> = Object.freeze({
  maxLength: MAX_TOPIC_LENGTH,
  maxLevels: Number.POSITIVE_INFINITY,
});

const NUL = 0x00;
const HASH = 0x23; // '#'
const PLUS = 0x2b; // '+'
const SLASH = 0x2f; // '/'

function maxLengthOf(limits: TopicLimits | undefined): number {
  const max = limits?.maxLength;
  return max === undefined || max > MAX_TOPIC_LENGTH ? MAX_TOPIC_LENGTH : max;
}

/**
 * Checks a Topic Name (PUBLISH, Will Topic, Response Topic). Returns undefined when valid.
 * The `$` prefix is allowed: whether a client may publish to `$SYS/...` is an authorization
 * question, not a syntax one.
 */
export function validateTopicName(name: string, limits?: TopicLimits): TopicError | undefined {
  const len = name.length;
  if (len === 0) return TopicErrors.EMPTY;
  const maxLength = maxLengthOf(limits);
  // Every UTF-16 code unit is at least one UTF-8 byte, so this rejects oversize input
  // before looking at it.
  if (len > maxLength) return TopicErrors.TOO_LONG;
  const maxLevels = limits?.maxLevels ?? DEFAULT_TOPIC_LIMITS.maxLevels;
  let levels = 1;
  let bytes = 0;
  for (let i = 0; i < len; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
      // All four special characters are <= '/', so ordinary letters cost one comparison.
      if (c <= SLASH) {
        if (c === SLASH) {
          if (++levels > maxLevels) return TopicErrors.TOO_MANY_LEVELS;
        } else if (c === PLUS || c === HASH) {
          return TopicErrors.WILDCARD_IN_NAME;
        } else if (c === NUL) {
          return TopicErrors.NULL_CHARACTER;
        }
      }
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c < 0xd800 || c > 0xdfff) {
      bytes += 3;
    } else if (c <= 0xdbff && i + 1 < len && isLowSurrogate(name.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else {
      return TopicErrors.LONE_SURROGATE;
    }
  }
  return bytes > maxLength ? TopicErrors.TOO_LONG : undefined;
}

/**
 * Checks a Topic Filter (SUBSCRIBE, UNSUBSCRIBE). Returns undefined when valid.
 * A `$share/{ShareName}/{filter}` string is also a syntactically valid filter; use
 * parseSharedSubscription (shared.ts) to split and check it as a shared subscription.
 */
export function validateTopicFilter(filter: string, limits?: TopicLimits): TopicError | undefined {
  const len = filter.length;
  if (len === 0) return TopicErrors.EMPTY;
  const maxLength = maxLengthOf(limits);
  if (len > maxLength) return TopicErrors.TOO_LONG;
  const maxLevels = limits?.maxLevels ?? DEFAULT_TOPIC_LIMITS.maxLevels;
  let levels = 1;
  let levelStart = 0;
  let bytes = 0;
  for (let i = 0; i < len; i++) {
    const c = filter.charCodeAt(i);
    if (c < 0x80) {
      bytes += 1;
      if (c <= SLASH) {
        if (c === SLASH) {
          if (++levels > maxLevels) return TopicErrors.TOO_MANY_LEVELS;
          levelStart = i + 1;
        } else if (c === PLUS) {
          if (i !== levelStart || (i + 1 < len && filter.charCodeAt(i + 1) !== SLASH)) {
            return TopicErrors.SINGLE_LEVEL_WILDCARD_NOT_ALONE;
          }
        } else if (c === HASH) {
          if (i !== levelStart) return TopicErrors.MULTI_LEVEL_WILDCARD_NOT_ALONE;
          if (i !== len - 1) return TopicErrors.MULTI_LEVEL_WILDCARD_NOT_LAST;
        } else if (c === NUL) {
          return TopicErrors.NULL_CHARACTER;
        }
      }
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c < 0xd800 || c > 0xdfff) {
      bytes += 3;
    } else if (c <= 0xdbff && i + 1 < len && isLowSurrogate(filter.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else {
      return TopicErrors.LONE_SURROGATE;
    }
  }
  return bytes > maxLength ? TopicErrors.TOO_LONG : undefined;
}

export const isValidTopicName = (name: string, limits?: TopicLimits): boolean =>
  validateTopicName(name, limits) === undefined;

export const isValidTopicFilter = (filter: string, limits?: TopicLimits): boolean =>
  validateTopicFilter(filter, limits) === undefined;

/**
 * True when the filter contains a wildcard character. For a valid filter that means it has
 * a `+` or `#` level; a filter without one matches exactly one topic name (itself).
 */
export function hasWildcard(filter: string): boolean {
  for (let i = 0; i < filter.length; i++) {
    const c = filter.charCodeAt(i);
    if (c === PLUS || c === HASH) return true;
  }
  return false;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
