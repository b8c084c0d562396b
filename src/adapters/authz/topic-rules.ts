// Gooee's topic table as an Authorizer: a list of rules `{ pattern, publish, subscribe }`
// (patterns in topic-pattern.ts, with `(:name)` parameters besides `+` and `#`).
//
// - PUBLISH is allowed when the topic matches a pattern of a rule with publish: true.
// - SUBSCRIBE is allowed when the filter is covered by the pattern of a rule with
//   subscribe: true: every topic the filter can match must match the pattern (see
//   TopicPattern.coversFilter). A shared subscription `$share/g/f` arrives as `f` (core
//   authorizes the inner filter).
// - Anything else gets the table's deny_action: 'disconnect' (the verdict 'disconnect': the
//   client is disconnected, v5 DISCONNECT 0x87) or 'ignore' (the verdict 'deny': the one
//   PUBLISH is dropped, v5 PUBACK 0x87, or the one subscription refused, SUBACK 0x80 / 0x87).
// The table says nothing about reading, so there is no canRead: what a client may subscribe
// to is what it may read. Rules are the same for every client.
import type { Authorizer, AuthzVerdict } from '../../core/ports.js';
import { TopicTrie } from '../../topic/index.js';
import { TopicPattern, TopicPatternProblem } from './topic-pattern.js';

export type DenyAction = 'disconnect' | 'ignore';

/** One rule as written in the configuration (`topic_rules.rules[i]`). */
export interface TopicRuleConfig {
  pattern: string;
  /** May a client publish to topics matching the pattern? Default false. */
  publish?: boolean;
  /** May a client subscribe to filters the pattern covers? Default false. */
  subscribe?: boolean;
}

/** The `topic_rules` section of the configuration. */
export interface TopicRulesConfig {
  deny_action: DenyAction;
  rules: readonly TopicRuleConfig[];
}

export type TopicRulesErrorCode =
  /** deny_action is neither 'disconnect' nor 'ignore'. */
  | 'TOPIC_RULES_INVALID_DENY_ACTION'
  /** rules is not a list, or a rule is not an object. */
  | 'TOPIC_RULES_INVALID_RULE'
  /** A rule's pattern is missing or invalid. */
  | 'TOPIC_RULES_INVALID_PATTERN'
  /** publish / subscribe is not a boolean, or the rule has an unknown key. */
  | 'TOPIC_RULES_INVALID_FIELD';

/** A problem in the topic table; the message names the rule (`rules[3].pattern: ...`). */
export class TopicRulesError extends Error {
  readonly code: TopicRulesErrorCode;
  /** Index of the rule in `rules`; undefined for a problem with the table itself. */
  readonly ruleIndex: number | undefined;
  constructor(code: TopicRulesErrorCode, ruleIndex: number | undefined, message: string) {
    super(`topic_rules${ruleIndex === undefined ? '' : `.rules[${ruleIndex}]`}: ${message}`);
    this.name = 'TopicRulesError';
    this.code = code;
    this.ruleIndex = ruleIndex;
  }
}

/** A compiled rule. */
export interface TopicRule {
  readonly pattern: TopicPattern;
  readonly publish: boolean;
  readonly subscribe: boolean;
}

const RULE_KEYS = new Set(['pattern', 'publish', 'subscribe']);

export class TopicRules implements Authorizer {
  readonly denyAction: DenyAction;
  readonly rules: readonly TopicRule[];
  readonly #denied: AuthzVerdict;
  /** Publish patterns by their filter (parameters as `+`); a hit is then checked for empty parameter values. */
  readonly #publish = new TopicTrie<TopicPattern>();
  readonly #subscribe: readonly TopicPattern[];
  // state of one canPublish walk, kept in fields so the visitor is not a new closure each time
  #topic = '';
  #hit = false;
  readonly #visit = (pattern: TopicPattern): void => {
    if (!this.#hit && (pattern.params.length === 0 || pattern.matchesTopic(this.#topic))) this.#hit = true;
  };

  constructor(config: TopicRulesConfig) {
    const action: unknown = (config as { deny_action?: unknown }).deny_action;
    if (action !== 'disconnect' && action !== 'ignore') {
      throw new TopicRulesError('TOPIC_RULES_INVALID_DENY_ACTION', undefined, `deny_action must be "disconnect" or "ignore", got ${JSON.stringify(action)}`);
    }
    const list: unknown = (config as { rules?: unknown }).rules;
    if (!Array.isArray(list)) throw new TopicRulesError('TOPIC_RULES_INVALID_RULE', undefined, 'rules must be a list');
    this.denyAction = action;
    this.#denied = action === 'disconnect' ? 'disconnect' : 'deny';
    const rules = list.map((raw: unknown, i) => compileRule(raw, i));
    this.rules = rules;
    rules.forEach((rule, i) => {
      if (rule.publish) this.#publish.add(rule.pattern.filter, String(i), rule.pattern);
    });
    this.#subscribe = rules.filter((r) => r.subscribe).map((r) => r.pattern);
  }

  canPublish(_client: unknown, topic: string): AuthzVerdict {
    this.#topic = topic;
    this.#hit = false;
    this.#publish.match(topic, this.#visit);
    return this.#hit ? 'allow' : this.#denied;
  }

  canSubscribe(_client: unknown, topicFilter: string): AuthzVerdict {
    for (const pattern of this.#subscribe) {
      if (pattern.coversFilter(topicFilter)) return 'allow';
    }
    return this.#denied;
  }
}

function compileRule(raw: unknown, index: number): TopicRule {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TopicRulesError('TOPIC_RULES_INVALID_RULE', index, 'a rule must be an object { pattern, publish, subscribe }');
  }
  const rule = raw as Record<string, unknown>;
  for (const key of Object.keys(rule)) {
    if (!RULE_KEYS.has(key)) {
      throw new TopicRulesError('TOPIC_RULES_INVALID_FIELD', index, `unknown key "${key}" (a rule has pattern, publish and subscribe)`);
    }
  }
  if (typeof rule.pattern !== 'string') {
    throw new TopicRulesError('TOPIC_RULES_INVALID_PATTERN', index, 'pattern must be a string');
  }
  const pattern = TopicPattern.compile(rule.pattern);
  if (pattern instanceof TopicPatternProblem) {
    throw new TopicRulesError('TOPIC_RULES_INVALID_PATTERN', index, `pattern ${JSON.stringify(rule.pattern)}: ${pattern.message}`);
  }
  return { pattern, publish: flag(rule, 'publish', index), subscribe: flag(rule, 'subscribe', index) };
}

function flag(rule: Record<string, unknown>, key: 'publish' | 'subscribe', index: number): boolean {
  const value = rule[key];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new TopicRulesError('TOPIC_RULES_INVALID_FIELD', index, `${key} must be true or false`);
  return value;
}
