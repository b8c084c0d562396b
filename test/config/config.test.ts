import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigError, parseConfigText, resolveConfig } from '../../src/config/load.js';
import { renderConfigDoc } from '../../src/config/doc.js';
import { defaultConfig } from '../../src/config/schema.js';

test('a valid file sets only its keys; flags override the file', () => {
  const file = parseConfigText('port: 1999\nmax_inflight_messages: 50\nallow_zero_length_clientid: false\n', 'c.yaml');
  assert.deepEqual(file, { port: 1999, max_inflight_messages: 50, allow_zero_length_clientid: false });
  const config = resolveConfig(file, { port: 2000 });
  assert.equal(config.port, 2000);
  assert.equal(config.max_inflight_messages, 50);
  assert.equal(config.max_queued_messages, defaultConfig().max_queued_messages);
});

test('an empty file is the defaults', () => {
  assert.deepEqual(resolveConfig(parseConfigText('', 'c.yaml'), {}), defaultConfig());
});

const bad: [string, string, RegExp][] = [
  ['unknown key', 'port: 1\nmax_inflight: 3\n', /^c\.yaml:2: max_inflight: unknown key$/],
  ['wrong type', 'sys_interval: 10\nmax_inflight_messages: many\n', /^c\.yaml:2: max_inflight_messages: must be an integer, got "many"$/],
  ['out of range', 'port: 70000\n', /^c\.yaml:1: port: must be between 0 and 65535, got 70000$/],
  ['bad enum', 'log_level: loud\n', /^c\.yaml:1: log_level: must be one of .*got "loud"$/],
  ['bad bool', '\n\nallow_zero_length_clientid: maybe\n', /^c\.yaml:3: allow_zero_length_clientid: must be true or false/],
  ['not YAML', 'port: [1,\n', /^c\.yaml:\d+: not valid YAML/],
  ['not a mapping', '- port\n', /^c\.yaml:1: the file must be a mapping/],
  ['duplicate key', 'port: 1\nport: 2\n', /^c\.yaml:\d+: not valid YAML/],
];
for (const [name, text, message] of bad) {
  test(`a bad config names file, line and key: ${name}`, () => {
    assert.throws(() => parseConfigText(text, 'c.yaml'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, message);
      return true;
    });
  });
}

test('docs/configuration.md is generated from the schema and up to date', () => {
  const committed = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
  assert.equal(committed, renderConfigDoc(), 'run `npm run build && node scripts/gen-config-doc.mjs`');
});
