// TopicTrie<T>: the subscription index. Topic Filters -> values, looked up by Topic Name.
//
// One node per filter level. Literal levels live in a Map; `+` and `#` have dedicated slots
// so a lookup never hashes a wildcard. Values sit on the node where their filter ends, keyed
// by a caller-chosen string (a client id, or a share-group id), so one client subscribing
// twice to the same filter replaces rather than duplicates.
//
// match() runs for every PUBLISH. It walks the topic depth first, reading level boundaries
// with indexOf: a literal level is followed in a loop, and only a `+` branch recurses, so
// the common path is one slice and one Map lookup per level (the slice is the one
// allocation a Map lookup needs) and nothing else. Recursion depth is the number of `+`
// levels along a filter; when some stored filter has more than RECURSION_LIMIT of them,
// match() switches to a breadth-first walk that never recurses, so a hostile filter such
// as `+/+/.../+` (32768 levels) cannot overflow the stack.

import { TopicValidationError } from './errors.js';
import { validateTopicFilter } from './validate.js';

const DOLLAR = 0x24; // '$'
const HASH = 0x23; // '#'
const PLUS = 0x2b; // '+'

/**
 * Above this many `+` levels in one stored filter, match() stops recursing. Far above any
 * real filter, far below the ~10,000 frames Node's default stack holds.
 */
const RECURSION_LIMIT = 256;

class TrieNode<T> {
  // All slots are created lazily: most nodes are interior and hold only one of them.
  literal: Map<string, TrieNode<T>> | undefined = undefined;
  plus: TrieNode<T> | undefined = undefined;
  hash: TrieNode<T> | undefined = undefined;
  values: Map<string, T> | undefined = undefined;

  isEmpty(): boolean {
    return (
      this.values === undefined && this.plus === undefined && this.hash === undefined && this.literal === undefined
    );
  }
}

export class TopicTrie<T> {
  readonly #root = new TrieNode<T>();
  #size = 0;
  // Entries whose filter has more than RECURSION_LIMIT `+` levels; while any exist, match()
  // walks breadth first.
  #deepEntries = 0;
  #filterCount = 0;
  #nodeCount = 0;

  /**
   * Adds or replaces the value stored for `key` under `filter`; returns true if it was new.
   * Throws TopicValidationError when `filter` is not a valid Topic Filter (a shared
   * subscription must be split first, see parseSharedSubscription).
   */
  add(filter: string, key: string, value: T): boolean {
    const error = validateTopicFilter(filter);
    if (error !== undefined) throw new TopicValidationError(error, filter);
    let node = this.#root;
    let start = 0;
    for (;;) {
      const slash = filter.indexOf('/', start);
      const end = slash < 0 ? filter.length : slash;
      node = this.#childOrCreate(node, filter, start, end);
      if (slash < 0) break;
      start = slash + 1;
    }
    let values = node.values;
    if (values === undefined) {
      values = new Map();
      node.values = values;
      this.#filterCount++;
    }
    const isNew = !values.has(key);
    values.set(key, value);
    if (isNew) {
      this.#size++;
      if (countPlusLevels(filter) > RECURSION_LIMIT) this.#deepEntries++;
    }
    return isNew;
  }

  /** Removes the value stored for `key` under `filter`; returns it, or undefined. Prunes empty nodes. */
  remove(filter: string, key: string): T | undefined {
    // The path is kept so emptied nodes can be unlinked bottom-up; removal is not hot.
    const path: TrieNode<T>[] = [this.#root];
    const levels: string[] = [];
    let node: TrieNode<T> | undefined = this.#root;
    let start = 0;
    for (;;) {
      const slash = filter.indexOf('/', start);
      const level = filter.slice(start, slash < 0 ? filter.length : slash);
      node = childOf(node, level);
      if (node === undefined) return undefined;
      path.push(node);
      levels.push(level);
      if (slash < 0) break;
      start = slash + 1;
    }
    const values = node.values;
    if (values === undefined || !values.has(key)) return undefined;
    const value = values.get(key);
    values.delete(key);
    this.#size--;
    if (countPlusLevels(filter) > RECURSION_LIMIT) this.#deepEntries--;
    if (values.size === 0) {
      node.values = undefined;
      this.#filterCount--;
    }
    for (let i = path.length - 1; i > 0; i--) {
      const child = path[i];
      const parent = path[i - 1];
      const level = levels[i - 1];
      if (child === undefined || parent === undefined || level === undefined || !child.isEmpty()) break;
      this.#unlink(parent, level);
    }
    return value;
  }

  /** The value stored for `key` under `filter`, or undefined. */
  get(filter: string, key: string): T | undefined {
    return this.#find(filter)?.values?.get(key);
  }

  /** True when some value is stored under `filter`. */
  hasFilter(filter: string): boolean {
    return this.#find(filter)?.values !== undefined;
  }

  /**
   * Calls visit for every value whose filter matches `topic` (the $ rule applies
   * [MQTT-4.7.2-1]). A value is visited once per filter it is stored under, so a key
   * subscribed through two overlapping filters is visited twice; the caller merges.
   * Entries added or removed by `visit` during the call may or may not be visited.
   */
  match(topic: string, visit: (value: T) => void): void {
    if (this.#size === 0) return;
    // [MQTT-4.7.2-1]: at the first level, `+` and `#` never match a `$` topic.
    const dollar = topic.charCodeAt(0) === DOLLAR;
    if (this.#deepEntries === 0) matchDepthFirst(this.#root, topic, 0, dollar, visit);
    else matchBreadthFirst(this.#root, topic, dollar, visit);
  }

  /** Number of (filter, key) entries. */
  get size(): number {
    return this.#size;
  }

  /** Number of distinct filters holding at least one value. */
  get filterCount(): number {
    return this.#filterCount;
  }

  /** Number of nodes below the root; 0 once every entry is removed (pruning is complete). */
  get nodeCount(): number {
    return this.#nodeCount;
  }

  #find(filter: string): TrieNode<T> | undefined {
    let node: TrieNode<T> | undefined = this.#root;
    let start = 0;
    for (;;) {
      const slash = filter.indexOf('/', start);
      node = childOf(node, filter.slice(start, slash < 0 ? filter.length : slash));
      if (node === undefined || slash < 0) return node;
      start = slash + 1;
    }
  }

  #childOrCreate(node: TrieNode<T>, filter: string, start: number, end: number): TrieNode<T> {
    if (end - start === 1) {
      const c = filter.charCodeAt(start);
      if (c === PLUS) return (node.plus ??= this.#newNode());
      if (c === HASH) return (node.hash ??= this.#newNode());
    }
    const level = filter.slice(start, end);
    const literal = (node.literal ??= new Map());
    let child = literal.get(level);
    if (child === undefined) {
      child = this.#newNode();
      literal.set(level, child);
    }
    return child;
  }

  #newNode(): TrieNode<T> {
    this.#nodeCount++;
    return new TrieNode<T>();
  }

  #unlink(parent: TrieNode<T>, level: string): void {
    this.#nodeCount--;
    if (level === '+') parent.plus = undefined;
    else if (level === '#') parent.hash = undefined;
    else if (parent.literal !== undefined) {
      parent.literal.delete(level);
      if (parent.literal.size === 0) parent.literal = undefined;
    }
  }
}

function childOf<T>(node: TrieNode<T>, level: string): TrieNode<T> | undefined {
  if (level === '+') return node.plus;
  if (level === '#') return node.hash;
  return node.literal?.get(level);
}

function visitValues<T>(node: TrieNode<T>, visit: (value: T) => void): void {
  const values = node.values;
  if (values === undefined) return;
  for (const value of values.values()) visit(value);
}

/**
 * Matches `topic` from level `start` down from `node`. A literal level continues the loop;
 * a `+` level recurses. `skipWildcards` applies the $ rule at the first level.
 */
function matchDepthFirst<T>(
  node: TrieNode<T>,
  topic: string,
  start: number,
  skipWildcards: boolean,
  visit: (value: T) => void,
): void {
  const len = topic.length;
  for (;;) {
    if (start > len) {
      // Every level consumed: filters ending here match exactly, and a `#` below them
      // matches its parent level (`sport/#` matches `sport`).
      visitValues(node, visit);
      if (node.hash !== undefined) visitValues(node.hash, visit);
      return;
    }
    const slash = topic.indexOf('/', start);
    const end = slash < 0 ? len : slash;
    if (!skipWildcards) {
      // `#` matches this level and everything below it.
      if (node.hash !== undefined) visitValues(node.hash, visit);
      if (node.plus !== undefined) matchDepthFirst(node.plus, topic, end + 1, false, visit);
    }
    const literal = node.literal;
    if (literal === undefined) return;
    const child = literal.get(topic.slice(start, end));
    if (child === undefined) return;
    node = child;
    start = end + 1;
    skipWildcards = false;
  }
}

/**
 * The same walk without recursion, for tries holding very deep `+` filters: one frontier of
 * nodes per level, each level sliced once. Slower on ordinary tries (array traffic), which
 * is why it is only the fallback.
 */
function matchBreadthFirst<T>(root: TrieNode<T>, topic: string, dollar: boolean, visit: (value: T) => void): void {
  const len = topic.length;
  let current: TrieNode<T>[] = [root];
  let next: TrieNode<T>[] = [];
  let start = 0;
  for (;;) {
    const slash = topic.indexOf('/', start);
    const end = slash < 0 ? len : slash;
    const wildcards = !(dollar && start === 0);
    let level: string | undefined;
    for (const node of current) {
      if (wildcards) {
        if (node.hash !== undefined) visitValues(node.hash, visit);
        if (node.plus !== undefined) next.push(node.plus);
      }
      if (node.literal !== undefined) {
        level ??= topic.slice(start, end);
        const child = node.literal.get(level);
        if (child !== undefined) next.push(child);
      }
    }
    [current, next] = [next, current];
    next.length = 0;
    if (current.length === 0) return;
    if (slash < 0) break;
    start = slash + 1;
  }
  for (const node of current) {
    visitValues(node, visit);
    if (node.hash !== undefined) visitValues(node.hash, visit);
  }
}

/** Number of `+` levels in a valid filter. */
function countPlusLevels(filter: string): number {
  let count = 0;
  for (let i = filter.indexOf('+'); i >= 0; i = filter.indexOf('+', i + 1)) count++;
  return count;
}
