// renderYaml writes a commented YAML file that reads back as the same config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import { readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import { renderYaml } from '../../src/config/render-yaml.js';
import { CONFIG_KEYS } from '../../src/config/schema.js';
import { FIXTURES } from './support.js';

test('every mosquitto fixture that converts renders to YAML that reads back the same', () => {
  const dir = join(FIXTURES, 'mosquitto');
  let converted = 0;
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.conf') && n !== 'random.conf')) {
    const { config, warnings } = readMosquittoConf(join(dir, name));
    const yaml = renderYaml(config, { header: [`converted from ${name}`, ...warnings.map((w) => `warning: ${w.text}`)] });
    assert.deepEqual(parseConfigText(yaml, join(dir, 'culex.yaml')), config, yaml);
    converted++;
  }
  assert.ok(converted >= 5);
});

test('the output has the header, each key under its meaning, and only the listener keys that differ from the defaults', () => {
  const config = parseConfigText('allow_anonymous: true\nlisteners:\n  - type: ws\n    port: 9001\n    path: /ws\n  - port: 1883\n', '/c/c.yaml');
  const yaml = renderYaml(config, { header: ['made by a test'] });
  const lines = yaml.split('\n');
  assert.equal(lines[0], '# made by a test');
  const at = lines.indexOf('allow_anonymous: true');
  assert.ok(at > 0 && lines[at - 1]!.startsWith('# ') && CONFIG_KEYS.allow_anonymous.doc.endsWith(lines[at - 1]!.slice(2)), yaml);
  assert.match(yaml, /listeners:\n {2}- type: ws\n {4}port: 9001\n {4}path: \/ws\n {2}- type: tcp\n {4}port: 1883\n/);
  assert.doesNotMatch(yaml, /proxy_protocol|tls_version/);
});

test('values YAML would misread are quoted', () => {
  const config = { host: '::', auto_id_prefix: 'yes', response_information_prefix: '#x/', password_file: '/a b/c: d' };
  assert.deepEqual(parseConfigText(renderYaml(config), '/c.yaml'), config);
});
