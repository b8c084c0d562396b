// Authorization adapters: mosquitto's acl_file, Gooee's topic table, and their combination.
export {
  AclFile,
  AclFileError,
  DEFAULT_MAX_CACHED_CLIENTS,
  type AclAccess,
  type AclFileErrorCode,
  type AclFileOptions,
  type AclFileWarning,
  type AclRule,
} from './acl-file.js';
export {
  TopicRules,
  TopicRulesError,
  type DenyAction,
  type TopicRule,
  type TopicRuleConfig,
  type TopicRulesConfig,
  type TopicRulesErrorCode,
} from './topic-rules.js';
export { TopicPattern } from './topic-pattern.js';
export { CombinedAuthorizer } from './combined-authorizer.js';
