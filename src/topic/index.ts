// The topic layer (L0): validation, shared-subscription parsing, matching, and the two
// indexes the broker routes with. Imports nothing from the rest of src.

export {
  type SpecIds,
  type TopicError,
  type TopicErrorCode,
  TopicErrors,
  TopicValidationError,
} from './errors.js';
export {
  DEFAULT_TOPIC_LIMITS,
  MAX_TOPIC_LENGTH,
  type TopicLimits,
  hasWildcard,
  isValidTopicFilter,
  isValidTopicName,
  validateTopicFilter,
  validateTopicName,
} from './validate.js';
export {
  type InvalidSharedSubscription,
  SHARED_SUBSCRIPTION_PREFIX,
  type SharedSubscription,
  type SharedSubscriptionResult,
  isSharedSubscription,
  parseSharedSubscription,
} from './shared.js';
export { topicMatches } from './match.js';
export { TopicTrie } from './trie.js';
export { TopicIndex } from './topic-index.js';
