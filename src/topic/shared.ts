// Shared subscriptions: `$share/{ShareName}/{filter}` (MQTT 5.0 section 4.8.2).
//
// A filter whose first level is exactly `$share` is treated as a shared subscription, so
// `$share` and `$share/g` are rejected rather than taken as plain filters: a client writing
// them meant to share, and subscribing it to a literal `$share` topic would silently
// deliver nothing. `$shared/x` or `$sharex` are plain filters.

import { type TopicError, TopicErrors } from './errors.js';
import { type TopicLimits, validateTopicFilter } from './validate.js';

export const SHARED_SUBSCRIPTION_PREFIX = '$share/';

/** A valid shared subscription: `group` is the ShareName, `filter` the filter it shares. */
export interface SharedSubscription {
  readonly valid: true;
  readonly group: string;
  readonly filter: string;
}

export interface InvalidSharedSubscription {
  readonly valid: false;
  readonly error: TopicError;
}

export type SharedSubscriptionResult = SharedSubscription | InvalidSharedSubscription;

const HASH = 0x23;
const PLUS = 0x2b;
const SHARE_LEVEL = '$share';

/** True when the first level of `filter` is `$share` (whether or not the rest is valid). */
export function isSharedSubscription(filter: string): boolean {
  return filter.startsWith(SHARED_SUBSCRIPTION_PREFIX) || filter === SHARE_LEVEL;
}

/**
 * Splits and checks a shared subscription [MQTT-4.8.2-1] [MQTT-4.8.2-2].
 * Returns undefined for a plain (non-shared) filter: validate that one with
 * validateTopicFilter. `limits` apply to the inner filter, the part that is matched.
 */
export function parseSharedSubscription(
  filter: string,
  limits?: TopicLimits,
): SharedSubscriptionResult | undefined {
  if (!isSharedSubscription(filter)) return undefined;
  const nameStart = SHARED_SUBSCRIPTION_PREFIX.length;
  // The ShareName runs to the next '/', so it cannot contain one by construction.
  const slash = filter.indexOf('/', nameStart);
  const nameEnd = slash < 0 ? filter.length : slash;
  if (nameEnd <= nameStart) return invalid(TopicErrors.EMPTY_SHARE_NAME);
  for (let i = nameStart; i < nameEnd; i++) {
    const c = filter.charCodeAt(i);
    if (c === PLUS || c === HASH || c === 0) return invalid(TopicErrors.INVALID_SHARE_NAME);
    if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate cannot be encoded as UTF-8; a pair is fine.
      const next = filter.charCodeAt(i + 1);
      if (c > 0xdbff || i + 1 >= nameEnd || next < 0xdc00 || next > 0xdfff) {
        return invalid(TopicErrors.LONE_SURROGATE);
      }
      i++;
    }
  }
  if (slash < 0 || slash === filter.length - 1) return invalid(TopicErrors.MISSING_SHARE_FILTER);
  const inner = filter.slice(slash + 1);
  const error = validateTopicFilter(inner, limits);
  if (error !== undefined) return invalid(error);
  return { valid: true, group: filter.slice(nameStart, nameEnd), filter: inner };
}

function invalid(error: TopicError): InvalidSharedSubscription {
  return { valid: false, error };
}
