// The patterns of Gooee's topic table: an MQTT Topic Filter whose levels may also be named
// parameters `(:name)`. A parameter stands for one whole level, like `+`, but for a
// non-empty value only: `devices/(:id)/meta` matches `devices/d1/meta`, not `devices//meta`.
// Like `+` and `#`, a parameter in the first level does not match a topic starting with `$`
// (MQTT 4.7.2), so `(:app)/#` never opens `$SYS`.
//
// Two questions are asked of a pattern:
// - matchesTopic(topic): does a PUBLISH topic fall under it?
// - coversFilter(filter): is every topic a SUBSCRIBE filter can match also matched by the
//   pattern? Level by level: a literal filter level is covered by the same literal, a
//   parameter (when non-empty), `+` or `#`; a `+` filter level by a parameter, `+` or `#`;
//   a `#` filter level only by `#`; a filter longer than the pattern only when the pattern
//   ends in `#`, a shorter one only when the pattern's next level is a final `#` (which
//   matches the parent level). A `+` filter level is accepted under a parameter even though
//   `+` also matches an empty level: the table is about which topics a client may name, and
//   an empty level cannot be published through the parameter either.
import { validateTopicFilter } from '../../topic/index.js';

/** One level of a compiled pattern. */
type Level = { kind: 'literal'; text: string } | { kind: 'param'; name: string } | { kind: 'plus' } | { kind: 'hash' };

const PARAM = /^\(:([A-Za-z_][A-Za-z0-9_]*)\)$/;

/** Why a pattern is invalid, as a sentence (the caller adds where it is). */
export class TopicPatternProblem {
  constructor(readonly message: string) {}
}

export class TopicPattern {
  readonly source: string;
  readonly #levels: readonly Level[];
  /** The pattern as a plain Topic Filter, parameters written as `+`. */
  readonly filter: string;
  readonly params: readonly string[];

  private constructor(source: string, levels: readonly Level[], filter: string, params: readonly string[]) {
    this.source = source;
    this.#levels = levels;
    this.filter = filter;
    this.params = params;
  }

  /** Compiles a pattern, or returns the problem with it. */
  static compile(source: string): TopicPattern | TopicPatternProblem {
    if (source.length === 0) return new TopicPatternProblem('the pattern is empty');
    const levels: Level[] = [];
    const params: string[] = [];
    const filterLevels: string[] = [];
    for (const text of source.split('/')) {
      if (text.includes('(:') || (text.startsWith('(') && text.endsWith(')'))) {
        const m = PARAM.exec(text);
        if (m === null) {
          return new TopicPatternProblem(
            `level "${text}" is not a parameter: a parameter is a whole level "(:name)", the name a letter or "_" then letters, digits or "_"`,
          );
        }
        const name = m[1] as string;
        if (params.includes(name)) return new TopicPatternProblem(`parameter "${name}" appears twice`);
        params.push(name);
        levels.push({ kind: 'param', name });
        filterLevels.push('+');
      } else if (text === '+') {
        levels.push({ kind: 'plus' });
        filterLevels.push(text);
      } else if (text === '#') {
        levels.push({ kind: 'hash' });
        filterLevels.push(text);
      } else {
        levels.push({ kind: 'literal', text });
        filterLevels.push(text);
      }
    }
    const filter = filterLevels.join('/');
    const error = validateTopicFilter(filter);
    if (error !== undefined) return new TopicPatternProblem(`not a valid topic filter: ${error.message}`);
    return new TopicPattern(source, levels, filter, params);
  }

  /** True when the Topic Name `topic` matches this pattern. */
  matchesTopic(topic: string): boolean {
    const levels = this.#levels;
    const dollar = topic.charCodeAt(0) === 0x24;
    let start = 0;
    for (let i = 0; ; i++) {
      const level = levels[i];
      if (start > topic.length) {
        // every topic level used: only a final `#` may remain (it matches the parent level)
        return level === undefined || (level.kind === 'hash' && i === levels.length - 1);
      }
      if (level === undefined) return false;
      if (i === 0 && dollar && level.kind !== 'literal') return false;
      if (level.kind === 'hash') return true;
      let end = topic.indexOf('/', start);
      if (end < 0) end = topic.length;
      if (level.kind === 'literal') {
        if (end - start !== level.text.length || !topic.startsWith(level.text, start)) return false;
      } else if (level.kind === 'param' && end === start) {
        return false;
      }
      start = end + 1;
    }
  }

  /** True when every topic that the (valid, non-shared) Topic Filter `filter` matches, this pattern matches. */
  coversFilter(filter: string): boolean {
    const levels = this.#levels;
    const parts = filter.split('/');
    for (let i = 0; ; i++) {
      const level = levels[i];
      const part = parts[i];
      // wildcards, parameters included, do not match `$` topics in the first level
      const dollarGuard = i === 0 && part !== undefined && part.startsWith('$');
      if (level?.kind === 'hash') return !dollarGuard;
      if (part === undefined) return level === undefined;
      if (level === undefined) return false;
      if (part === '#') return false;
      if (level.kind === 'literal') {
        if (part !== level.text) return false;
      } else {
        if (dollarGuard) return false;
        // a parameter needs a value: an empty literal level is not covered by it
        if (level.kind === 'param' && part === '') return false;
      }
    }
  }
}
