// TopicIndex<T>: the reverse of TopicTrie, for retained messages. Exact Topic Names ->
// values, queried by a Topic Filter.
//
// Two views of the same entries: a Map by topic for set/get/delete and for filters without
// wildcards (the common "subscribe to one topic" case is one hash lookup), and a tree of
// levels for `+` and `#`. Queries run per SUBSCRIBE, not per PUBLISH, so match() may split
// the filter; it walks with an explicit stack because retained topics come from clients and
// may be tens of thousands of levels deep.

import { TopicValidationError } from './errors.js';
import { hasWildcard, validateTopicName } from './validate.js';

const DOLLAR = 0x24; // '$'

interface Entry<T> {
  readonly topic: string;
  value: T;
}

class IndexNode<T> {
  children: Map<string, IndexNode<T>> | undefined = undefined;
  entry: Entry<T> | undefined = undefined;
  constructor(
    readonly parent: IndexNode<T> | undefined,
    readonly level: string,
  ) {}
}

export class TopicIndex<T> {
  readonly #root = new IndexNode<T>(undefined, '');
  readonly #byTopic = new Map<string, IndexNode<T>>();
  #nodeCount = 0;

  /**
   * Stores `value` for `topic`, replacing any previous one; returns true if the topic was new.
   * Throws TopicValidationError when `topic` is not a valid Topic Name.
   */
  set(topic: string, value: T): boolean {
    const existing = this.#byTopic.get(topic);
    if (existing?.entry !== undefined) {
      existing.entry.value = value;
      return false;
    }
    const error = validateTopicName(topic);
    if (error !== undefined) throw new TopicValidationError(error, topic);
    let node = this.#root;
    let start = 0;
    for (;;) {
      const slash = topic.indexOf('/', start);
      const level = topic.slice(start, slash < 0 ? topic.length : slash);
      const children = (node.children ??= new Map());
      let child = children.get(level);
      if (child === undefined) {
        child = new IndexNode<T>(node, level);
        children.set(level, child);
        this.#nodeCount++;
      }
      node = child;
      if (slash < 0) break;
      start = slash + 1;
    }
    node.entry = { topic, value };
    this.#byTopic.set(topic, node);
    return true;
  }

  /** Removes the value for `topic`; returns true if there was one. Prunes empty nodes. */
  delete(topic: string): boolean {
    const node = this.#byTopic.get(topic);
    if (node === undefined) return false;
    this.#byTopic.delete(topic);
    node.entry = undefined;
    let current: IndexNode<T> = node;
    while (current.entry === undefined && current.children === undefined) {
      const parent = current.parent;
      if (parent === undefined || parent.children === undefined) break;
      parent.children.delete(current.level);
      if (parent.children.size === 0) parent.children = undefined;
      this.#nodeCount--;
      current = parent;
    }
    return true;
  }

  get(topic: string): T | undefined {
    return this.#byTopic.get(topic)?.entry?.value;
  }

  has(topic: string): boolean {
    return this.#byTopic.has(topic);
  }

  /**
   * Calls visit for every stored topic that `filter` matches: `+` and `#` as in section 4.7,
   * and filters starting with a wildcard skip `$` topics [MQTT-4.7.2-1]. `filter` should be
   * valid (see validateTopicFilter); the result for an invalid one is unspecified but safe.
   * Entries added or removed by `visit` during the call may or may not be visited.
   */
  match(filter: string, visit: (topic: string, value: T) => void): void {
    if (this.#byTopic.size === 0) return;
    if (!hasWildcard(filter)) {
      const entry = this.#byTopic.get(filter)?.entry;
      if (entry !== undefined) visit(entry.topic, entry.value);
      return;
    }
    const levels = filter.split('/');
    const nodes: IndexNode<T>[] = [this.#root];
    const depths: number[] = [0];
    for (;;) {
      const node = nodes.pop();
      const depth = depths.pop();
      if (node === undefined || depth === undefined) return;
      const level = levels[depth];
      if (level === undefined) {
        // Every filter level consumed: the node's own topic matches exactly.
        if (node.entry !== undefined) visit(node.entry.topic, node.entry.value);
        continue;
      }
      // [MQTT-4.7.2-1] concerns only the first level, i.e. the children of the root.
      const skipDollar = depth === 0;
      if (level === '#') {
        visitSubtree(node, skipDollar, visit);
        continue;
      }
      const children = node.children;
      if (children === undefined) continue;
      if (level === '+') {
        for (const [name, child] of children) {
          if (skipDollar && name.charCodeAt(0) === DOLLAR) continue;
          nodes.push(child);
          depths.push(depth + 1);
        }
      } else {
        const child = children.get(level);
        if (child !== undefined) {
          nodes.push(child);
          depths.push(depth + 1);
        }
      }
    }
  }

  /** Every (topic, value) pair, in insertion order of the topics. */
  *entries(): IterableIterator<[topic: string, value: T]> {
    for (const [topic, node] of this.#byTopic) {
      if (node.entry !== undefined) yield [topic, node.entry.value];
    }
  }

  clear(): void {
    this.#byTopic.clear();
    this.#root.children = undefined;
    this.#nodeCount = 0;
  }

  /** Number of stored topics. */
  get size(): number {
    return this.#byTopic.size;
  }

  /** Number of nodes below the root; 0 once every topic is deleted (pruning is complete). */
  get nodeCount(): number {
    return this.#nodeCount;
  }
}

/**
 * Visits `node` (a `#` matches its parent level: `a/#` matches `a`) and everything below it.
 * At the root, `$` children are skipped [MQTT-4.7.2-1].
 */
function visitSubtree<T>(
  node: IndexNode<T>,
  skipDollar: boolean,
  visit: (topic: string, value: T) => void,
): void {
  const stack: IndexNode<T>[] = [];
  if (node.entry !== undefined) visit(node.entry.topic, node.entry.value);
  if (node.children === undefined) return;
  for (const [name, child] of node.children) {
    if (skipDollar && name.charCodeAt(0) === DOLLAR) continue;
    stack.push(child);
  }
  for (let current = stack.pop(); current !== undefined; current = stack.pop()) {
    if (current.entry !== undefined) visit(current.entry.topic, current.entry.value);
    if (current.children !== undefined) for (const child of current.children.values()) stack.push(child);
  }
}
