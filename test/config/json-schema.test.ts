// The published JSON Schema (docs/config.schema.json): up to date, valid for ajv in strict
// mode, satisfied by the example configs in the docs and by real configs, and in agreement
// with the loader on good and bad configs (hand-picked, then generated).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { parseDocument } from 'yaml';
import { ConfigError } from '../../src/config/errors.js';
import { renderJsonSchemaText } from '../../src/config/json-schema.js';
import { parseConfigText } from '../../src/config/load.js';
import { readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import { renderYaml } from '../../src/config/render-yaml.js';
import { CONFIG_SPEC } from '../../src/config/schema.js';
import { isScalarSpec, type FieldSpec, type ObjectSpec } from '../../src/config/spec.js';
import { validateConfig } from '../../src/config/validate.js';
import { DOCS, FIXTURES } from './support.js';

const committed = readFileSync(join(DOCS, 'config.schema.json'), 'utf8');
const validate = new Ajv2020({ strict: true, allErrors: true }).compile(JSON.parse(committed) as object);

/** What the loader may refuse that the JSON Schema cannot say (several keys at once). */
const LOADER_ONLY = /is already taken by|is also the HTTP server's port|must not be (below|above) auth_failure_delay/;

/** JSON Schema errors, '' if none. An empty YAML file (null) is a file with no keys. */
function schemaErrors(value: unknown): string {
  return validate(value ?? {}) ? '' : JSON.stringify(validate.errors);
}

test('docs/config.schema.json is generated from the schema and up to date', () => {
  assert.equal(committed, renderJsonSchemaText(), 'run `npm run build && node scripts/gen-config-doc.mjs`');
  const schema = JSON.parse(committed) as Record<string, unknown>;
  assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(schema.additionalProperties, false);
});

test('the YAML examples in docs/configuration.md pass both the JSON Schema and the loader', () => {
  const page = readFileSync(join(DOCS, 'configuration.md'), 'utf8');
  const blocks = [...page.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.ok(blocks.length >= 2, 'the page should have YAML examples');
  for (const text of blocks) {
    assert.equal(schemaErrors(parseDocument(text).toJS()), '', text);
    parseConfigText(text, 'configuration.md');
  }
});

test('real configs pass both: the YAML fixtures and the mosquitto fixtures converted to YAML', () => {
  const yamlDir = join(FIXTURES, 'yaml');
  const yamlFiles = readdirSync(yamlDir).filter((n) => n.endsWith('.yaml'));
  assert.ok(yamlFiles.length >= 3);
  for (const name of yamlFiles) {
    const text = readFileSync(join(yamlDir, name), 'utf8');
    assert.equal(schemaErrors(parseDocument(text).toJS()), '', name);
    parseConfigText(text, join(yamlDir, name));
  }
  for (const name of ['docker-no-auth.conf', 'snap-default.conf', 'queued-bytes.conf', 'production.conf', 'per-listener-same.conf']) {
    const yaml = renderYaml(readMosquittoConf(join(FIXTURES, 'mosquitto', name)).config);
    assert.equal(schemaErrors(parseDocument(yaml).toJS()), '', `${name} converted:\n${yaml}`);
  }
});

const good: readonly string[] = [
  '',
  'port: 0\nhost: "::"\n',
  'allow_anonymous: true\npassword_file: ""\nacl_file: acl\nmax_connections: -1\n',
  'auth_failure_delay: 0\nauth_failure_delay_max: 0\nhttp_port: -1\nhttp_bind_address: 127.0.0.1\n',
  'listeners:\n  - port: 1883\n',
  'listeners:\n  - type: ws\n    port: 9001\n    path: /\n    proxy_protocol: true\n    max_connections_per_second: 10\n',
  'listeners:\n  - type: wss\n    port: 443\n    certfile: c\n    keyfile: k\n    cafile: ca\n    require_certificate: true\n    use_identity_as_username: true\n    tls_version: tlsv1.3\n',
  'listeners:\n  - type: tls\n    port: 8883\n    certfile: c\n    keyfile: k\n    cafile: ca\n',
  'topic_rules:\n  rules: []\n',
  'topic_rules:\n  deny_action: ignore\n  rules:\n    - pattern: a/(:b)\n      subscribe: true\n',
  'max_qos: 1\nmax_publish_rate: 100\nmax_publish_bytes_rate: 1000000\n',
];

const bad: readonly string[] = [
  'max_inflight: 3\n',
  'port: 65536\n',
  'port: "1883"\n',
  'http_port: -2\n',
  'allow_anonymous: "true"\n',
  'log_level: loud\n',
  'listeners: []\n',
  'listeners: {}\n',
  'listeners:\n  - {}\n',
  'listeners:\n  - port: 1\n    type: udp\n',
  'listeners:\n  - port: 1\n    extra: 1\n',
  'listeners:\n  - port: 1\n    certfile: c\n',
  'listeners:\n  - port: 1\n    type: tls\n    certfile: c\n',
  'listeners:\n  - port: 1\n    type: tls\n    certfile: ""\n    keyfile: k\n',
  'listeners:\n  - port: 1\n    type: tls\n    certfile: c\n    keyfile: k\n    require_certificate: true\n',
  'listeners:\n  - port: 1\n    type: tls\n    certfile: c\n    keyfile: k\n    cafile: ca\n    use_identity_as_username: true\n',
  'listeners:\n  - port: 1\n    path: /mqtt\n',
  'listeners:\n  - port: 1\n    type: ws\n    path: mqtt\n',
  'port: 1\nlisteners:\n  - port: 2\n',
  'topic_rules: {}\n',
  'topic_rules:\n  rules:\n    - publish: true\n',
  'topic_rules:\n  rules:\n    - pattern: ""\n',
  'topic_rules:\n  deny_action: drop\n  rules: []\n',
];

const loaderOnly: readonly string[] = [
  'listeners:\n  - port: 1883\n  - port: 1883\n    type: ws\n',
  'listeners:\n  - port: 8080\n',
  'port: 8080\n',
  'auth_failure_delay: 10\nauth_failure_delay_max: 5\n',
];

function loaderAccepts(text: string): boolean {
  try {
    parseConfigText(text, 'c.yaml');
    return true;
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return false;
  }
}

test('the JSON Schema and the loader agree on good and bad configs', () => {
  for (const text of good) {
    assert.equal(loaderAccepts(text), true, `loader refuses:\n${text}`);
    assert.equal(schemaErrors(parseDocument(text).toJS()), '', text);
  }
  for (const text of bad) {
    assert.equal(loaderAccepts(text), false, `loader accepts:\n${text}`);
    assert.equal(validate(parseDocument(text).toJS()), false, `schema accepts:\n${text}`);
  }
});

test('what only the loader checks: clashing ports, auth_failure_delay_max below auth_failure_delay', () => {
  for (const text of loaderOnly) {
    assert.equal(schemaErrors(parseDocument(text).toJS()), '', text);
    assert.throws(() => parseConfigText(text, 'c.yaml'), (err: unknown) => err instanceof ConfigError && LOADER_ONLY.test(err.problem));
  }
});

/** Values for a field: mostly valid, sometimes of the wrong type or out of range. */
function arbField(spec: FieldSpec): fc.Arbitrary<unknown> {
  const junk = fc.constantFrom<unknown>(null, 'x', 1.5, -1, true, [], {});
  if (isScalarSpec(spec)) {
    switch (spec.type) {
      case 'int':
        return fc.oneof({ arbitrary: fc.integer({ min: spec.min, max: spec.max }), weight: 60 }, { arbitrary: fc.constantFrom(spec.min - 1, spec.max + 1), weight: 3 }, junk);
      case 'bool':
        return fc.oneof({ arbitrary: fc.boolean(), weight: 60 }, junk);
      case 'string': {
        const valid =
          spec.oneOf !== undefined ? fc.constantFrom(...spec.oneOf) : spec.pattern !== undefined ? fc.constantFrom('/mqtt', '/', '/a/b') : fc.constantFrom('', 'a', '127.0.0.1', 'x/y');
        return fc.oneof({ arbitrary: valid, weight: 60 }, { arbitrary: fc.constantFrom(spec.pattern !== undefined ? 'mqtt' : 'bogus'), weight: 3 }, junk);
      }
    }
  }
  if (spec.type === 'list') return fc.oneof({ arbitrary: fc.array(arbObject(spec.items), { minLength: 1, maxLength: 2 }), weight: 60 }, fc.constant([]), junk);
  return fc.oneof({ arbitrary: arbObject(spec), weight: 60 }, junk);
}

/**
 * Mappings built so that the rules between keys are tested on their edges: the keys rules
 * depend on (a listener's type, ...) are drawn first, then a key a rule forbids is rarely
 * present and a key a rule requires usually is. Otherwise almost every listener would be
 * refused for some TLS key on a tcp listener, and the interesting cases never come up.
 */
function arbObject(spec: ObjectSpec): fc.Arbitrary<Record<string, unknown>> {
  const rules = spec.rules ?? [];
  const conditionKeys = [...new Set(rules.map((r) => r.key))];
  const first: Record<string, fc.Arbitrary<unknown>> = {};
  for (const key of conditionKeys) first[key] = arbField(spec.fields[key]!);
  const others = Object.keys(spec.fields).filter((k) => !conditionKeys.includes(k));
  const usual = Math.min(0.35, 3 / others.length);
  return fc.record(first, { requiredKeys: [] }).chain((chosen) => {
    const forbidden = new Set<string>();
    const required = new Set<string>(spec.required ?? []);
    for (const rule of rules) {
      const set = Object.hasOwn(chosen, rule.key);
      const field = spec.fields[rule.key];
      const actual = set ? chosen[rule.key] : field !== undefined && isScalarSpec(field) ? field.default : undefined;
      const holds = rule.present === true ? set : (rule.in ?? []).some((v) => v === actual);
      const action = holds ? rule.then : rule.else;
      for (const key of action?.forbid ?? []) forbidden.add(key);
      for (const key of [...(action?.require ?? []), ...(action?.requireTrue ?? [])]) required.add(key);
    }
    const rest: fc.Arbitrary<[string, unknown] | null>[] = others.map((key) => {
      const p = forbidden.has(key) ? 0.01 : required.has(key) ? 0.9 : usual;
      return fc.integer({ min: 0, max: 999 }).chain((roll) => (roll < p * 1000 ? arbField(spec.fields[key]!).map((v) => [key, v] as [string, unknown]) : fc.constant(null)));
    });
    return fc.tuple(fc.tuple(...rest), fc.oneof({ arbitrary: fc.constant(null), weight: 60 }, fc.constantFrom('unknown_key', 'Port'))).map(([pairs, extra]) => {
      const out: Record<string, unknown> = { ...chosen };
      for (const pair of pairs) if (pair !== null) out[pair[0]] = pair[1];
      if (extra !== null) out[extra] = 1;
      return out;
    });
  });
}

test('generated configs: the loader accepts exactly what the JSON Schema accepts, apart from the loader-only checks', () => {
  const source = { baseDir: '/', locate: () => ({ file: 'gen.yaml', line: undefined }) };
  let accepted = 0;
  const runs = 10000;
  fc.assert(
    fc.property(arbObject(CONFIG_SPEC), (config) => {
      const schemaOk = validate(config);
      let loaderOk = true;
      try {
        validateConfig(config, source);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        loaderOk = false;
        if (schemaOk && !LOADER_ONLY.test(err.problem)) throw new Error(`only the loader refuses: ${err.message}`);
      }
      if (loaderOk && !schemaOk) throw new Error(`only the schema refuses: ${JSON.stringify(validate.errors)}`);
      if (loaderOk) accepted++;
    }),
    { numRuns: runs, unbiased: true },
  );
  assert.ok(accepted > runs / 10, `only ${accepted} of ${runs} generated configs were valid; the generator should make more`);
});
