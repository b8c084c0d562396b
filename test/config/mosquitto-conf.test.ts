// Reading mosquitto.conf: real configs (mosquitto's own, Debian's), listener blocks, security
// folding, local only mode, include_dir, and the warnings for keys that have no effect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMosquittoConf, readMosquittoConf, mosquittoOrder } from '../../src/config/mosquitto-conf.js';
import { BRIDGE_KEYS, IGNORED, MAPPED, UNSUPPORTED } from '../../src/config/mosquitto-keys.js';
import { ConfigError } from '../../src/config/errors.js';
import { FIXTURES, assertConfigError, requireFile } from './support.js';

const fixture = (name: string): string => join(FIXTURES, 'mosquitto', name);
const keysOf = (warnings: readonly { key: string | undefined }[]): (string | undefined)[] => warnings.map((w) => w.key);

test("mosquitto's Docker no-auth config: one listener, anonymous allowed, no HTTP server", () => {
  const { config, warnings } = readMosquittoConf(fixture('docker-no-auth.conf'));
  assert.deepEqual(config, { port: 1883, allow_anonymous: true, http_port: -1 });
  assert.deepEqual(warnings, []);
});

test("mosquitto's snap default config: local only mode, persistence false keeps state in memory, a warning for user", () => {
  const file = fixture('snap-default.conf');
  const { config, warnings } = readMosquittoConf(file);
  assert.deepEqual(config, { host: '127.0.0.1', port: 1883, allow_anonymous: true, http_port: -1, persistence: 'memory' });
  assert.deepEqual(
    warnings.map((w) => [w.line, w.key]),
    [[3, 'user'], [undefined, undefined]],
  );
  assert.match(warnings[0]!.text, new RegExp(`^${file.replace(/[.]/g, '\\.')}:3: user: no effect: `));
  assert.match(warnings[1]!.message, /local only mode/);
});

test("a broker test config of mosquitto's: the deprecated port key, max_queued_messages 0, max_queued_bytes", () => {
  const { config, warnings } = readMosquittoConf(fixture('queued-bytes.conf'));
  assert.deepEqual(config, { sys_interval: 1, max_queued_messages: 10000000, port: 1888, http_port: -1 });
  assert.deepEqual(keysOf(warnings), ['max_queued_messages', 'max_queued_bytes']);
});

test("mosquitto's random-test config is refused at its first plugin line", () => {
  const file = fixture('random.conf');
  assertConfigError(() => readMosquittoConf(file), { file, line: 11, key: 'auth_plugin', problem: /plugins cannot be loaded/ });
});

test('a production config: listeners, TLS with client certificates, WebSockets, bridge and logging', () => {
  const file = fixture('production.conf');
  const { config, warnings } = readMosquittoConf(file);
  assert.deepEqual(config, {
    allow_anonymous: false,
    password_file: '/etc/mosquitto/passwd',
    acl_file: '/etc/mosquitto/acl',
    persistence: 'sqlite',
    persistence_location: '/var/lib/mosquitto/',
    persistent_client_expiration: 14 * 86400,
    log_level: 'info',
    max_inflight_messages: 40,
    max_queued_messages: 5000,
    max_packet_size: 268435455,
    sys_interval: 30,
    http_port: -1,
    listeners: [
      listener({ type: 'tcp', port: 1883, bind_address: '127.0.0.1' }),
      listener({
        type: 'tls',
        port: 8883,
        certfile: '/etc/mosquitto/certs/server.crt',
        keyfile: '/etc/mosquitto/certs/server.key',
        cafile: '/etc/mosquitto/ca_certificates/ca.crt',
        require_certificate: true,
        use_identity_as_username: true,
      }),
      listener({ type: 'wss', port: 8081, certfile: '/etc/mosquitto/certs/server.crt', keyfile: '/etc/mosquitto/certs/server.key', max_connections: 500 }),
    ],
  });
  assert.deepEqual(
    warnings.map((w) => `${w.line}:${w.key}`),
    // Line by line, then what only the whole file decides (the WebSocket path).
    ['9:pid_file', '14:autosave_interval', '16:log_dest', '21:connection_messages', '25:max_packet_size', '39:ciphers', '48:connection', '43:protocol'],
  );
  assert.ok(warnings.every((w) => w.file === file && w.text.startsWith(`${file}:${w.line}: ${w.key}: `)));
  assert.match(warnings.find((w) => w.key === 'protocol')!.message, /any path; Culex only on \/mqtt/);
  assert.match(warnings.find((w) => w.key === 'connection')!.message, /bridge "cloud" dropped/);
});

test('per_listener_settings true folds into one set when every listener has the same; relative paths are resolved and noted', () => {
  const { config, warnings } = readMosquittoConf(fixture('per-listener-same.conf'));
  const dir = join(FIXTURES, 'mosquitto');
  assert.deepEqual(config, {
    password_file: join(dir, 'pwfile'),
    allow_anonymous: false,
    http_port: -1,
    listeners: [listener({ port: 1883 }), listener({ type: 'tls', port: 8883, certfile: join(FIXTURES, 'ssl/server.crt'), keyfile: join(FIXTURES, 'ssl/server.key') })],
  });
  assert.deepEqual(keysOf(warnings), ['password_file', 'certfile', 'keyfile', 'password_file']);
  assert.match(warnings[0]!.message, /^relative path: mosquitto opens it from its working directory/);
});

test("Debian's /etc/mosquitto/mosquitto.conf: local only mode, its data directory, warnings for pid_file and log_dest", () => {
  const file = requireFile('/etc/mosquitto/mosquitto.conf', 'apt-get install mosquitto');
  const { config, warnings, files } = readMosquittoConf(file);
  // Debian's file says `persistence true`: Culex keeps state in SQLite there
  assert.deepEqual(config, { persistence: 'sqlite', persistence_location: '/var/lib/mosquitto/', host: '127.0.0.1', port: 1883, allow_anonymous: true, http_port: -1 });
  assert.deepEqual(keysOf(warnings), ['pid_file', 'log_dest', undefined]);
  assert.equal(files[0], file);
});

test("Debian's example mosquitto.conf (every line commented out) is the local only default", () => {
  const file = requireFile('/usr/share/doc/mosquitto/examples/mosquitto.conf', 'apt-get install mosquitto');
  const { config } = readMosquittoConf(file);
  assert.deepEqual(config, { host: '127.0.0.1', port: 1883, allow_anonymous: true, http_port: -1 });
});

test("every option in Debian's example mosquitto.conf is known: uncommented, none is an unknown key", () => {
  const file = requireFile('/usr/share/doc/mosquitto/examples/mosquitto.conf', 'apt-get install mosquitto');
  const options = [...readFileSync(file, 'utf8').matchAll(/^#([a-z_0-9.]+)(?: (.*))?$/gm)].map((m) => [m[1]!, m[2] ?? ''] as const);
  assert.ok(options.length > 80, `only ${options.length} options found in ${file}`);
  for (const [key, value] of options) {
    // Bridge options only make sense inside a bridge.
    const text = `listener 1883\nconnection b\n${key} ${value}\n`;
    try {
      parseMosquittoConf(text, 'example.conf');
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.line, 3, err.message);
      assert.notEqual(err.problem, 'unknown mosquitto.conf option', err.message);
    }
  }
});

test('every mosquitto key is in exactly one table, and the mapped ones are handled', () => {
  const tables = [Object.keys(MAPPED), Object.keys(IGNORED), Object.keys(UNSUPPORTED), BRIDGE_KEYS];
  const all = tables.flat();
  assert.equal(new Set(all).size, all.length, 'a key appears in two tables');
  for (const key of Object.keys(MAPPED)) {
    try {
      parseMosquittoConf(`listener 1883\n${key} x\n`, 'm.conf');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.notEqual(err.problem, 'unknown mosquitto.conf option', `${key} is documented as mapped but not handled`);
    }
  }
});

test('listener blocks: settings before the first listener belong to the default listener, which comes first', () => {
  const { config } = parseMosquittoConf('port 1884\nmax_connections 10\nlistener 1883 ::1\nmax_connections 0\nlistener 9001 127.0.0.1\nprotocol websockets\n', '/m/m.conf');
  assert.deepEqual(config.listeners, [
    listener({ port: 1884, max_connections: 10 }),
    listener({ port: 1883, bind_address: '::1' }),
    listener({ type: 'ws', port: 9001, bind_address: '127.0.0.1' }),
  ]);
});

test('a listener line with a trailing comment, Windows line endings, a byte order mark and indented lines', () => {
  const { config } = parseMosquittoConf('\uFEFFlistener 1883 # plain\r\n  allow_anonymous true # for now\r\n\t# indented comment\r\n', 'm.conf');
  assert.deepEqual(config, { port: 1883, allow_anonymous: true, http_port: -1 });
});

test('booleans: true, false, 1 and 0, as mosquitto', () => {
  const { config } = parseMosquittoConf('listener 1883\nallow_anonymous 1\nretain_available 0\nallow_zero_length_clientid false\n', 'm.conf');
  assert.deepEqual(config, { port: 1883, allow_anonymous: true, retain_available: false, allow_zero_length_clientid: false, http_port: -1 });
});

test('mosquitto value conventions become Culex values', () => {
  const { config, warnings } = parseMosquittoConf(
    'listener 1883\nmax_inflight_messages -1\nmax_queued_messages 20000000\npersistent_client_expiration 2h\nlog_type debug\nlog_type error\nmax_topic_alias 5\nmax_qos 1\n',
    'm.conf',
  );
  assert.deepEqual(config, { port: 1883, max_inflight_messages: 0, max_queued_messages: 10000000, persistent_client_expiration: 7200, log_level: 'debug', max_topic_alias: 5, max_qos: 1, http_port: -1 });
  assert.deepEqual(keysOf(warnings), ['max_queued_messages']);
  assert.equal(parseMosquittoConf('listener 1883\nlog_type all\nlog_type none\n', 'm.conf').config.log_level, 'silent');
  assert.equal(parseMosquittoConf('listener 1883\nlog_type error\nlog_type warning\n', 'm.conf').config.log_level, 'warn');
});

test('max_qos set on one listener of two applies to both, with a warning', () => {
  const { config, warnings } = parseMosquittoConf('listener 1883\nlistener 1884\nmax_qos 1\n', 'm.conf');
  assert.equal(config.max_qos, 1);
  assert.deepEqual(warnings.map((w) => `${w.line}:${w.key}`), ['3:max_qos']);
});

test('TLS settings on a listener without certfile and keyfile are dropped with a warning; tlsv1.1 becomes tlsv1.2', () => {
  const plain = parseMosquittoConf('listener 1883\ncafile /ca.crt\nrequire_certificate false\n', 'm.conf');
  assert.deepEqual(plain.config, { port: 1883, http_port: -1 });
  assert.deepEqual(keysOf(plain.warnings), ['cafile', 'require_certificate']);
  const old = parseMosquittoConf('listener 8883\ncertfile /c\nkeyfile /k\ntls_version tlsv1.1\n', 'm.conf');
  assert.deepEqual(old.config.listeners, [listener({ type: 'tls', port: 8883, certfile: '/c', keyfile: '/k' })]);
  assert.deepEqual(keysOf(old.warnings), ['tls_version']);
});

test('local only mode keeps allow_anonymous true even when the file says false, and says so', () => {
  const { config, warnings } = parseMosquittoConf('allow_anonymous false\ncertfile /c\n', 'm.conf');
  assert.deepEqual(config, { host: '127.0.0.1', port: 1883, allow_anonymous: true, http_port: -1 });
  assert.deepEqual(warnings.map((w) => `${w.line}:${w.key}`), ['2:listener', 'undefined:undefined']);
  assert.match(warnings[1]!.message, /ignores allow_anonymous false/);
});

test('bind_address makes a default listener on 1883', () => {
  const { config } = parseMosquittoConf('bind_address 10.0.0.5\n', 'm.conf');
  assert.deepEqual(config, { port: 1883, host: '10.0.0.5', http_port: -1 });
});

test('include_dir: *.conf files in mosquitto order, each starting at the default listener; include_dir in them is ignored', () => {
  const dir = mkdtempSync(join(tmpdir(), 'culex-conf-'));
  try {
    const inc = join(dir, 'conf.d');
    mkdirSync(inc);
    writeFileSync(join(dir, 'mosquitto.conf'), 'listener 1884\ninclude_dir conf.d\nsys_interval 99\n');
    const names = ['b.conf', 'A.conf', '01.conf', 'a.conf', 'B.conf', '00.conf'];
    names.forEach((name, i) => writeFileSync(join(inc, name), `sys_interval ${i + 1}\n`));
    writeFileSync(join(inc, 'README'), 'not a config\n');
    writeFileSync(join(inc, '.conf'), 'too short a name to count\n');
    // Settings before the first listener line of an included file go to the default listener.
    writeFileSync(join(inc, 'zz.conf'), 'max_connections 7\nlistener 8883\ncertfile /c\nkeyfile /k\ninclude_dir /nowhere\n');
    const { config, files, warnings } = readMosquittoConf(join(dir, 'mosquitto.conf'));
    assert.deepEqual(files, [join(dir, 'mosquitto.conf'), ...['00.conf', '01.conf', 'A.conf', 'a.conf', 'B.conf', 'b.conf', 'zz.conf'].map((n) => join(inc, n))]);
    assert.equal(config.sys_interval, 99, 'the main file continues after include_dir');
    assert.deepEqual(config.listeners, [
      listener({ port: 1883, max_connections: 7 }),
      listener({ port: 1884 }),
      listener({ type: 'tls', port: 8883, certfile: '/c', keyfile: '/k' }),
    ]);
    assert.deepEqual(warnings.map((w) => `${w.file}:${w.line}:${w.key}`), [`${join(dir, 'mosquitto.conf')}:2:include_dir`, `${join(inc, 'zz.conf')}:5:include_dir`]);
    assert.match(warnings[0]!.message, /^relative path/);
    assert.match(warnings[1]!.message, /^ignored: mosquitto reads include_dir only from the main config file$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mosquittoOrder sorts as mosquitto.conf(5) documents', () => {
  assert.deepEqual(['b.conf', 'A.conf', '01.conf', 'a.conf', 'B.conf', '00.conf'].sort(mosquittoOrder), ['00.conf', '01.conf', 'A.conf', 'a.conf', 'B.conf', 'b.conf']);
});

function listener(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    type: 'tcp',
    bind_address: '',
    path: '/mqtt',
    proxy_protocol: false,
    max_connections: -1,
    max_connections_per_second: 0,
    certfile: '',
    keyfile: '',
    cafile: '',
    require_certificate: false,
    use_identity_as_username: false,
    tls_version: 'tlsv1.2',
    ...overrides,
  };
}
