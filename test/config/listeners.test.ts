// The new keys of the YAML config: listeners with their defaults, relative paths, which keys a
// file set, and what the resolved config means (resolveListeners, names, the HTTP address).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { findPortConflicts, listenerName, resolveHttpBindAddress, resolveListeners } from '../../src/config/effective.js';
import { loadConfigFile, parseConfigText, resolveConfig } from '../../src/config/load.js';
import { defaultConfig, defaultListener } from '../../src/config/schema.js';
import { FIXTURES } from './support.js';

test('a listener gets the defaults of the keys it leaves out', () => {
  const file = parseConfigText('listeners:\n  - port: 1883\n  - type: ws\n    port: 9001\n', '/etc/culex/culex.yaml');
  assert.deepEqual(file.listeners, [
    { type: 'tcp', port: 1883, bind_address: '', path: '/mqtt', proxy_protocol: false, max_connections: -1, max_connections_per_second: 0, certfile: '', keyfile: '', cafile: '', require_certificate: false, use_identity_as_username: false, tls_version: 'tlsv1.2' },
    { ...defaultListener(9001), type: 'ws' },
  ]);
});

test("relative paths are resolved against the config file's directory; absolute and empty ones are kept", () => {
  const file = parseConfigText(
    'password_file: passwd\nacl_file: ""\nlisteners:\n  - type: tls\n    port: 8883\n    certfile: tls/server.crt\n    keyfile: /etc/ssl/server.key\n    cafile: ../ca.crt\n    require_certificate: true\n',
    '/etc/culex/culex.yaml',
  );
  assert.equal(file.password_file, '/etc/culex/passwd');
  assert.equal(file.acl_file, '');
  const [tls] = file.listeners ?? [];
  assert.deepEqual([tls?.certfile, tls?.keyfile, tls?.cafile], ['/etc/culex/tls/server.crt', '/etc/ssl/server.key', '/etc/ca.crt']);
  assert.equal(parseConfigText('password_file: p\n', 'x.yaml', { baseDir: '/srv' }).password_file, '/srv/p');
});

test('persistence_location keeps its old meaning: relative to the working directory, not resolved', () => {
  assert.equal(parseConfigText('persistence_location: data\n', '/etc/culex/culex.yaml').persistence_location, 'data');
});

test('the result says which keys the file set, so "allow_anonymous: false" differs from no allow_anonymous', () => {
  const set = parseConfigText('allow_anonymous: false\n', 'c.yaml');
  const unset = parseConfigText('port: 1883\n', 'c.yaml');
  assert.equal(Object.hasOwn(set, 'allow_anonymous'), true);
  assert.equal(Object.hasOwn(unset, 'allow_anonymous'), false);
  assert.equal(resolveConfig(unset, {}).allow_anonymous, false);
});

test('a YAML fixture with everything loads from disk', () => {
  const path = join(FIXTURES, 'yaml', 'local-dev.yaml');
  const file = loadConfigFile(path);
  assert.equal(file.password_file, join(FIXTURES, 'yaml', 'passwd'));
  assert.deepEqual(file.listeners?.map(listenerName), ['tcp:1883', 'ws:9001']);
});

test('resolveListeners: the absent key means one tcp listener on port and host; an empty bind_address means host', () => {
  const config = resolveConfig(parseConfigText('port: 1999\nhost: 127.0.0.1\n', 'c.yaml'), {});
  assert.deepEqual(resolveListeners(config), [{ ...defaultListener(1999), bind_address: '127.0.0.1' }]);
  const many = resolveConfig(parseConfigText('host: 10.0.0.1\nlisteners:\n  - port: 1\n  - port: 2\n    bind_address: 127.0.0.1\n', 'c.yaml'), {});
  assert.deepEqual(resolveListeners(many).map((l) => l.bind_address), ['10.0.0.1', '127.0.0.1']);
  assert.equal(many.listeners?.[0]?.bind_address, '', 'resolveListeners does not change the config');
});

test('the HTTP server binds http_bind_address, or else the first listener\'s address', () => {
  const base = resolveConfig(parseConfigText('host: 127.0.0.1\n', 'c.yaml'), {});
  assert.equal(resolveHttpBindAddress(base), '127.0.0.1');
  assert.equal(resolveHttpBindAddress({ ...base, http_bind_address: '0.0.0.0' }), '0.0.0.0');
  const listeners = resolveConfig(parseConfigText('listeners:\n  - port: 1\n    bind_address: ::1\n', 'c.yaml'), {});
  assert.equal(resolveHttpBindAddress(listeners), '::1');
});

test('findPortConflicts, for checks after command-line flags changed port or host', () => {
  assert.deepEqual(findPortConflicts(defaultConfig()), []);
  const clash = findPortConflicts({ ...defaultConfig(), port: 8080 });
  assert.deepEqual(clash.map((c) => [c.first.path, c.second.path]), [['port', 'http_port']]);
  assert.deepEqual(findPortConflicts({ ...defaultConfig(), port: 0, http_port: 0 }), [], 'port 0 never conflicts');
  const v6 = { ...defaultConfig(), http_port: -1, listeners: [{ ...defaultListener(1), bind_address: '::1' }, { ...defaultListener(1), bind_address: '0.0.0.0' }] };
  assert.deepEqual(findPortConflicts(v6), [], '0.0.0.0 does not overlap an IPv6 address');
  const dual = { ...v6, listeners: [{ ...defaultListener(1), bind_address: '::' }, { ...defaultListener(1), bind_address: '127.0.0.1' }] };
  assert.equal(findPortConflicts(dual).length, 1, ':: overlaps everything');
});

test('defaultConfig has every new key with the documented default', () => {
  const d = defaultConfig();
  assert.deepEqual(
    [d.allow_anonymous, d.password_file, d.acl_file, d.max_connections, d.max_publish_rate, d.max_publish_bytes_rate, d.auth_failure_delay, d.auth_failure_delay_max, d.http_port, d.http_bind_address, d.listeners, d.topic_rules],
    [false, '', '', -1, 0, 0, 1, 30, 8080, '', null, null],
  );
});

test('topic_rules come back with their defaults', () => {
  const file = parseConfigText('topic_rules:\n  rules:\n    - pattern: devices/(:id)/meta/(:name)\n      publish: true\n', 'c.yaml');
  assert.deepEqual(file.topic_rules, { deny_action: 'disconnect', rules: [{ pattern: 'devices/(:id)/meta/(:name)', publish: true, subscribe: false }] });
});
