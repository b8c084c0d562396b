// A set of ACL topics (Topic Filters) that answers one question per message: does any of
// them match this topic? Exact topics sit in a Set (one hash lookup); wildcard filters are
// scanned with topicMatches while few (no allocation at all), and moved into a TopicTrie
// once there are more than LINEAR_LIMIT of them (one walk instead of N comparisons).
// Matching is MQTT's (topicMatches), which is mosquitto_topic_matches_sub for valid input,
// `$` rule included: `#` and `+/...` do not match `$SYS/...`.
import { TopicTrie, hasWildcard, topicMatches, validateTopicFilter } from '../../topic/index.js';

/** Above this many wildcard filters, a trie beats scanning them one by one. */
const LINEAR_LIMIT = 16;

export class FilterSet {
  readonly #exact = new Set<string>();
  readonly #wild: string[] = [];
  #trie: TopicTrie<true> | undefined = undefined;
  // set by #visit during a trie walk; a field and a bound method, so matches() allocates no closure
  #hit = false;
  readonly #visit = (): void => {
    this.#hit = true;
  };

  /** Adds a filter; returns false (and adds nothing) when it is not a valid Topic Filter. */
  add(filter: string): boolean {
    if (validateTopicFilter(filter) !== undefined) return false;
    if (!hasWildcard(filter)) {
      this.#exact.add(filter);
      return true;
    }
    if (this.#trie !== undefined) {
      this.#trie.add(filter, '', true);
      return true;
    }
    if (this.#wild.includes(filter)) return true;
    this.#wild.push(filter);
    if (this.#wild.length > LINEAR_LIMIT) {
      const trie = new TopicTrie<true>();
      for (const f of this.#wild) trie.add(f, '', true);
      this.#trie = trie;
      this.#wild.length = 0;
    }
    return true;
  }

  /** True when some filter of the set matches the Topic Name `topic`. */
  matches(topic: string): boolean {
    if (this.#exact.has(topic)) return true;
    const trie = this.#trie;
    if (trie !== undefined) {
      this.#hit = false;
      trie.match(topic, this.#visit);
      return this.#hit;
    }
    const wild = this.#wild;
    for (let i = 0; i < wild.length; i++) {
      if (topicMatches(wild[i] as string, topic)) return true;
    }
    return false;
  }

  get size(): number {
    return this.#exact.size + this.#wild.length + (this.#trie?.size ?? 0);
  }
}
