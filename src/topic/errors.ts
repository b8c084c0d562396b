// Why a topic, filter or shared subscription was rejected: one frozen constant per reason,
// each with the requirement ids of MQTT 3.1.1 and 5.0 (their numbering differs; see
// validate.ts for the table).

/** Stable codes for every reason a topic can be rejected. */
export type TopicErrorCode =
  | 'EMPTY'
  | 'WILDCARD_IN_NAME'
  | 'MULTI_LEVEL_WILDCARD_NOT_ALONE'
  | 'MULTI_LEVEL_WILDCARD_NOT_LAST'
  | 'SINGLE_LEVEL_WILDCARD_NOT_ALONE'
  | 'NULL_CHARACTER'
  | 'LONE_SURROGATE'
  | 'TOO_LONG'
  | 'TOO_MANY_LEVELS'
  | 'EMPTY_SHARE_NAME'
  | 'INVALID_SHARE_NAME'
  | 'MISSING_SHARE_FILTER';

/** Requirement ids, in each protocol version's numbering; absent for broker-only limits. */
export interface SpecIds {
  readonly v311?: string;
  readonly v5?: string;
}

/** Why a topic name or filter was rejected. Instances are shared constants: compare `code`. */
export interface TopicError {
  readonly code: TopicErrorCode;
  readonly message: string;
  readonly spec: SpecIds;
}

const error = (code: TopicErrorCode, message: string, spec: SpecIds): TopicError =>
  Object.freeze({ code, message, spec: Object.freeze(spec) });

/** One frozen error per code, so validation never allocates. */
export const TopicErrors: Readonly<Record<TopicErrorCode, TopicError>> = Object.freeze({
  EMPTY: error('EMPTY', 'a topic must be at least one character long', {
    v311: 'MQTT-4.7.3-1',
    v5: 'MQTT-4.7.3-1',
  }),
  WILDCARD_IN_NAME: error('WILDCARD_IN_NAME', 'a topic name must not contain the wildcards "+" or "#"', {
    v311: 'MQTT-4.7.1-1',
    v5: 'MQTT-4.7.0-1',
  }),
  MULTI_LEVEL_WILDCARD_NOT_ALONE: error(
    'MULTI_LEVEL_WILDCARD_NOT_ALONE',
    'the multi-level wildcard "#" must occupy a whole level',
    { v311: 'MQTT-4.7.1-2', v5: 'MQTT-4.7.1-1' },
  ),
  MULTI_LEVEL_WILDCARD_NOT_LAST: error(
    'MULTI_LEVEL_WILDCARD_NOT_LAST',
    'the multi-level wildcard "#" must be the last character of a topic filter',
    { v311: 'MQTT-4.7.1-2', v5: 'MQTT-4.7.1-1' },
  ),
  SINGLE_LEVEL_WILDCARD_NOT_ALONE: error(
    'SINGLE_LEVEL_WILDCARD_NOT_ALONE',
    'the single-level wildcard "+" must occupy a whole level',
    { v311: 'MQTT-4.7.1-3', v5: 'MQTT-4.7.1-2' },
  ),
  NULL_CHARACTER: error('NULL_CHARACTER', 'a topic must not contain the null character U+0000', {
    v311: 'MQTT-4.7.3-2',
    v5: 'MQTT-4.7.3-2',
  }),
  LONE_SURROGATE: error('LONE_SURROGATE', 'a topic must be well-formed UTF-16 (it contains a lone surrogate)', {
    v311: 'MQTT-1.5.3-1',
    v5: 'MQTT-1.5.4-1',
  }),
  TOO_LONG: error('TOO_LONG', 'a topic is longer than the maximum length in UTF-8 bytes', {
    v311: 'MQTT-4.7.3-3',
    v5: 'MQTT-4.7.3-3',
  }),
  TOO_MANY_LEVELS: error('TOO_MANY_LEVELS', 'a topic has more levels than the broker allows', {}),
  EMPTY_SHARE_NAME: error('EMPTY_SHARE_NAME', 'a shared subscription needs a ShareName of at least one character', {
    v5: 'MQTT-4.8.2-1',
  }),
  INVALID_SHARE_NAME: error('INVALID_SHARE_NAME', 'a ShareName must not contain "+", "#" or U+0000', {
    v5: 'MQTT-4.8.2-2',
  }),
  MISSING_SHARE_FILTER: error('MISSING_SHARE_FILTER', 'a ShareName must be followed by "/" and a topic filter', {
    v5: 'MQTT-4.8.2-2',
  }),
});

/** Thrown by the APIs that cannot return an error (TopicTrie.add, TopicIndex.set). */
export class TopicValidationError extends Error {
  readonly code: TopicErrorCode;
  readonly topicError: TopicError;
  constructor(topicError: TopicError, topic: string) {
    // The topic is quoted (and cut) so a hostile 64 KiB topic cannot flood the logs.
    super(`${topicError.message}: ${JSON.stringify(topic.length > 80 ? `${topic.slice(0, 80)}...` : topic)}`);
    this.name = 'TopicValidationError';
    this.code = topicError.code;
    this.topicError = topicError;
  }
}
