// The reference matcher: does one Topic Filter match one Topic Name?
//
// TopicTrie and TopicIndex answer the same question for many filters or topics at once;
// their property tests compare them with this function, and the retained store may fall
// back to it. It walks both strings level by level with indices: no split, no slices.

const DOLLAR = 0x24; // '$'
const HASH = 0x23; // '#'
const PLUS = 0x2b; // '+'

/**
 * True when `filter` matches `topic` (MQTT section 4.7):
 * - `+` matches exactly one level, including an empty one (`+/+` matches `/`);
 * - `#` matches any number of levels, including the parent level (`sport/#` matches `sport`);
 * - a filter starting with `#` or `+` does not match a topic starting with `$` [MQTT-4.7.2-1].
 *
 * Both arguments are expected to be valid (see validate.ts). Invalid input never throws: a
 * string is always read as its `/`-separated levels, and a level is a wildcard only when it
 * is exactly `+` or `#`.
 */
export function topicMatches(filter: string, topic: string): boolean {
  const fl = filter.length;
  const tl = topic.length;
  if (tl > 0 && topic.charCodeAt(0) === DOLLAR) {
    const first = filter.charCodeAt(0);
    if (first === HASH || first === PLUS) return false;
  }
  // fi and ti point at the start of the current level; a value of length + 1 means
  // "every level consumed" (a trailing '/' leaves one more, empty, level).
  let fi = 0;
  let ti = 0;
  for (;;) {
    if (ti > tl) {
      // The topic is used up: the filter must be used up too, or end in a `#` level that
      // matches the parent level (`a/#` matches `a`).
      return fi > fl || (fi === fl - 1 && filter.charCodeAt(fi) === HASH);
    }
    if (fi > fl) return false;
    let fe = filter.indexOf('/', fi);
    if (fe < 0) fe = fl;
    let te = topic.indexOf('/', ti);
    if (te < 0) te = tl;
    const flen = fe - fi;
    if (flen === 1) {
      const c = filter.charCodeAt(fi);
      if (c === HASH) return true;
      if (c !== PLUS && (te - ti !== 1 || topic.charCodeAt(ti) !== c)) return false;
    } else {
      if (te - ti !== flen) return false;
      for (let k = 0; k < flen; k++) {
        if (filter.charCodeAt(fi + k) !== topic.charCodeAt(ti + k)) return false;
      }
    }
    fi = fe + 1;
    ti = te + 1;
  }
}
