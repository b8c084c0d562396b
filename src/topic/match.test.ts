// Conformance: topic matching (MQTT 3.1.1 / 5.0 sections 4.7.1 to 4.7.3).
// One table of cases, run against each of the three matchers: topicMatches (one filter,
// one topic), TopicTrie (filters indexed, queried by topic) and TopicIndex (topics indexed,
// queried by filter). The property tests in match-property.test.ts cover the rest.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { topicMatches } from './match.js';
import { TopicTrie } from './trie.js';
import { TopicIndex } from './topic-index.js';

interface Case {
  readonly spec: string;
  readonly filter: string;
  readonly topic: string;
  readonly matches: boolean;
}

const yes = (spec: string, filter: string, ...topics: string[]): Case[] =>
  topics.map((topic) => ({ spec, filter, topic, matches: true }));
const no = (spec: string, filter: string, ...topics: string[]): Case[] =>
  topics.map((topic) => ({ spec, filter, topic, matches: false }));

// 3.1.1 numbering; the 5.0 ids are [MQTT-4.7.1-1] for '#' and [MQTT-4.7.1-2] for '+'.
const HASH = '[MQTT-4.7.1-2] 4.7.1.2';
const PLUS = '[MQTT-4.7.1-3] 4.7.1.3';
const DOLLAR = '[MQTT-4.7.2-1] 4.7.2';
const NAMES = '[MQTT-4.7.3-4] 4.7.3';

const CASES: readonly Case[] = [
  // 4.7.1.2 Multi-level wildcard: the spec's own examples.
  ...yes(HASH, 'sport/tennis/player1/#', 'sport/tennis/player1', 'sport/tennis/player1/ranking', 'sport/tennis/player1/score/wimbledon'),
  ...no(HASH, 'sport/tennis/player1/#', 'sport/tennis/player2', 'sport/tennis', 'sport/tennis/player10'),
  ...yes(HASH, 'sport/#', 'sport', 'sport/', 'sport/tennis', 'sport/tennis/player1'),
  ...no(HASH, 'sport/#', 'sports', 'sport2/x', 'Sport', '/sport'),
  ...yes(HASH, '#', 'sport', 'a/b/c', '/', '/finance', 'finance/', '//'),
  ...yes(HASH, 'sport/tennis/#', 'sport/tennis', 'sport/tennis/x/y/z'),
  ...yes(HASH, '/#', '/', '/finance', '//'),
  ...no(HASH, '/#', 'finance'),
  ...yes(HASH, '+/#', 'a', 'a/b', '/', 'a/'),
  // 4.7.1.3 Single-level wildcard: the spec's own examples.
  ...yes(PLUS, 'sport/tennis/+', 'sport/tennis/player1', 'sport/tennis/player2', 'sport/tennis/'),
  ...no(PLUS, 'sport/tennis/+', 'sport/tennis/player1/ranking', 'sport/tennis'),
  ...no(PLUS, 'sport/+', 'sport'),
  ...yes(PLUS, 'sport/+', 'sport/'),
  ...yes(PLUS, '+/+', '/finance', '/', 'a/b'),
  ...yes(PLUS, '/+', '/finance', '/'),
  ...no(PLUS, '+', '/finance', '/', 'a/b'),
  ...yes(PLUS, '+', 'finance', 'a'),
  ...yes(PLUS, 'a/+', 'a/'),
  ...yes(PLUS, 'sport/+/player1', 'sport/tennis/player1', 'sport//player1'),
  ...no(PLUS, 'sport/+/player1', 'sport/tennis/player2', 'sport/player1'),
  ...yes(PLUS, '+/tennis/#', 'sport/tennis', 'sport/tennis/player1', '/tennis/x'),
  ...no(PLUS, '+/tennis/#', 'sport/golf', 'tennis'),
  ...yes(PLUS, '+/+/+', '//', 'a/b/c', 'a//'),
  ...no(PLUS, '+/+/+', '/', 'a/b/c/d'),
  // 4.7.2 Topics beginning with $.
  ...no(DOLLAR, '#', '$SYS', '$SYS/broker/uptime', '$', '$/a'),
  ...no(DOLLAR, '+', '$SYS', '$'),
  ...no(DOLLAR, '+/monitor/Clients', '$SYS/monitor/Clients'),
  ...yes(DOLLAR, '+/monitor/Clients', 'SYS/monitor/Clients', '/monitor/Clients'),
  ...no(DOLLAR, '+/#', '$SYS/a', '$SYS'),
  ...yes(DOLLAR, '$SYS/#', '$SYS', '$SYS/', '$SYS/broker/clients/connected'),
  ...no(DOLLAR, '$SYS/#', '$SYSX/a', 'SYS/a'),
  ...yes(DOLLAR, '$SYS/monitor/+', '$SYS/monitor/Clients'),
  ...yes(DOLLAR, '$SYS/+', '$SYS/broker', '$SYS/'),
  ...no(DOLLAR, '$SYS/+', '$SYS', '$SYS/broker/uptime'),
  ...yes(DOLLAR, '$SYS', '$SYS'),
  ...yes(DOLLAR, '$SYS/+/+', '$SYS/a/b'),
  // '$' only matters as the first character of the topic.
  ...yes(DOLLAR, '#', 'a/$SYS', 'a$'),
  ...yes(DOLLAR, '+/+', 'a/$b'),
  ...yes(DOLLAR, 'a/#', 'a/$SYS/x'),
  // 4.7.3 Names are compared as-is: case, spaces, separators, no normalisation.
  ...no(NAMES, 'ACCOUNTS', 'Accounts'),
  ...yes(NAMES, 'Accounts payable', 'Accounts payable'),
  ...no(NAMES, '/finance', 'finance'),
  ...no(NAMES, 'finance', '/finance', 'finance/'),
  ...yes(NAMES, '/', '/'),
  ...no(NAMES, '/', '//', 'a'),
  ...no(NAMES, 'caf\u00e9', 'cafe\u0301'),
  ...yes(NAMES, 'ü/€/😀', 'ü/€/😀'),
  ...no(NAMES, 'a/b', 'a/b/', 'a', 'a/bc', 'a/c'),
  ...yes(NAMES, 'a//b', 'a//b'),
  ...no(NAMES, 'a//b', 'a/b'),
];

type Matcher = (filter: string, topic: string) => boolean;

const MATCHERS: ReadonlyArray<readonly [string, Matcher]> = [
  ['topicMatches', topicMatches],
  [
    'TopicTrie',
    (filter, topic) => {
      const trie = new TopicTrie<string>();
      trie.add(filter, 'client', filter);
      const seen: string[] = [];
      trie.match(topic, (v) => seen.push(v));
      assert.ok(seen.length <= 1, 'a single entry is visited at most once');
      return seen.length === 1;
    },
  ],
  [
    'TopicIndex',
    (filter, topic) => {
      const index = new TopicIndex<number>();
      index.set(topic, 1);
      const seen: string[] = [];
      index.match(filter, (t) => seen.push(t));
      assert.ok(seen.length <= 1, 'a single entry is visited at most once');
      if (seen.length === 1) assert.equal(seen[0], topic);
      return seen.length === 1;
    },
  ],
];

for (const [name, matches] of MATCHERS) {
  describe(`${name}: topic matching conformance`, () => {
    for (const c of CASES) {
      const verb = c.matches ? 'matches' : 'does not match';
      test(`${c.spec} ${JSON.stringify(c.filter)} ${verb} ${JSON.stringify(c.topic)}`, () => {
        assert.equal(matches(c.filter, c.topic), c.matches);
      });
    }
  });
}

describe('topicMatches on input outside the specification', () => {
  test('never throws, and reads a wildcard only when it is a whole level', () => {
    assert.equal(topicMatches('a+', 'a+'), true);
    assert.equal(topicMatches('a+', 'ab'), false);
    assert.equal(topicMatches('#a', '#a'), true);
    assert.equal(topicMatches('', ''), true);
    assert.equal(topicMatches('+', ''), true);
    assert.equal(topicMatches('a', ''), false);
  });
});
