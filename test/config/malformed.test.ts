// Every kind of bad config names the file, the line and the key: YAML syntax, unknown keys,
// wrong types, out-of-range values, bad listeners, bad topic_rules, keys that clash, and bad
// mosquitto.conf lines.
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile, parseConfigText } from '../../src/config/load.js';
import { parseMosquittoConf, readMosquittoConf } from '../../src/config/mosquitto-conf.js';
import { assertConfigError } from './support.js';

type Case = readonly [name: string, text: string, line: number | undefined, key: string | undefined, problem: RegExp];

const yamlCases: readonly Case[] = [
  ['YAML syntax: unclosed flow list', 'port: 1\nhost: [a,\n', 3, undefined, /^not valid YAML/],
  ['YAML syntax: bad indentation', 'listeners:\n  - type: tcp\n   port: 1\n', 3, undefined, /^not valid YAML/],
  ['YAML syntax: duplicate key', 'sys_interval: 1\nsys_interval: 2\n', 2, undefined, /^not valid YAML: Map keys must be unique/],
  ['YAML syntax: tab indentation', 'listeners:\n\t- port: 1\n', 2, undefined, /^not valid YAML/],
  ['not a mapping', '- port\n', 1, undefined, /^the file must be a mapping/],
  ['unknown top-level key', 'port: 1\nmax_inflight: 3\n', 2, 'max_inflight', /^unknown key$/],
  ['unknown listener key', 'listeners:\n  - port: 1\n    tsl_version: tlsv1.3\n', 3, 'listeners[0].tsl_version', /^unknown key$/],
  ['unknown topic_rules key', 'topic_rules:\n  rules: []\n  default: deny\n', 3, 'topic_rules.default', /^unknown key$/],
  ['unknown rule key', 'topic_rules:\n  rules:\n    - pattern: a\n      retain: true\n', 4, 'topic_rules.rules[0].retain', /^unknown key$/],
  ['wrong type: string for integer', 'max_inflight_messages: many\n', 1, 'max_inflight_messages', /^must be an integer, got "many"$/],
  ['wrong type: float for integer', 'max_connections: 1.5\n', 1, 'max_connections', /^must be an integer, got 1\.5$/],
  ['wrong type: YAML 1.1 yes for a boolean', 'allow_anonymous: yes\n', 1, 'allow_anonymous', /^must be true or false, got "yes"$/],
  ['wrong type: number for a path', 'password_file: 12\n', 1, 'password_file', /^must be a string, got 12$/],
  ['wrong type: empty value', 'acl_file:\n', 1, 'acl_file', /^must be a string, got null$/],
  ['wrong type: listeners not a list', 'listeners:\n  port: 1\n', 1, 'listeners', /^must be a list/],
  ['wrong type: listener not a mapping', 'listeners:\n  - 1883\n', 2, 'listeners[0]', /^must be a mapping/],
  ['wrong type: topic_rules a list', 'topic_rules:\n  - pattern: a\n', 1, 'topic_rules', /^must be a mapping/],
  ['out of range: port', 'port: 70000\n', 1, 'port', /^must be between 0 and 65535, got 70000$/],
  ['out of range: http_port', 'http_port: -2\n', 1, 'http_port', /^must be between -1 and 65535, got -2$/],
  ['out of range: max_connections', 'max_connections: -5\n', 1, 'max_connections', /^must be between -1 and 4294967295/],
  ['out of range: auth_failure_delay_max', 'auth_failure_delay_max: 100000\n', 1, 'auth_failure_delay_max', /^must be between 0 and 86400/],
  ['out of range: listener port', 'listeners:\n  - type: ws\n    port: 65536\n', 3, 'listeners[0].port', /^must be between 0 and 65535/],
  ['bad enum: log_level', 'log_level: loud\n', 1, 'log_level', /^must be one of fatal, error/],
  ['bad listener: unknown type', 'listeners:\n  - type: quic\n    port: 1\n', 2, 'listeners[0].type', /^must be one of tcp, tls, ws, wss, got "quic"$/],
  ['bad listener: no port', 'listeners:\n  - type: tcp\n', 2, 'listeners[0].port', /^required$/],
  ['bad listener: tls without certfile', 'listeners:\n  - port: 1\n  - type: tls\n    port: 2\n    keyfile: k.pem\n', 3, 'listeners[1].certfile', /^required for type tls$/],
  ['bad listener: wss without keyfile', 'listeners:\n  - type: wss\n    port: 2\n    certfile: c.pem\n', 2, 'listeners[0].keyfile', /^required for type wss$/],
  ['bad listener: empty certfile', 'listeners:\n  - type: tls\n    port: 2\n    certfile: ""\n    keyfile: k\n', 4, 'listeners[0].certfile', /^must not be empty for type tls$/],
  ['bad listener: certfile on tcp', 'listeners:\n  - port: 1883\n    certfile: c.pem\n', 3, 'listeners[0].certfile', /^only for type tls or wss, not tcp$/],
  ['bad listener: tls_version on ws', 'listeners:\n  - type: ws\n    port: 1\n    tls_version: tlsv1.3\n', 4, 'listeners[0].tls_version', /^only for type tls or wss, not ws$/],
  ['bad listener: path on tls', 'listeners:\n  - type: tls\n    port: 1\n    certfile: c\n    keyfile: k\n    path: /mqtt\n', 6, 'listeners[0].path', /^only for type ws or wss, not tls$/],
  ['bad listener: path without slash', 'listeners:\n  - type: ws\n    port: 1\n    path: mqtt\n', 4, 'listeners[0].path', /^must start with \/, got "mqtt"$/],
  ['bad listener: require_certificate without cafile', 'listeners:\n  - type: tls\n    port: 1\n    certfile: c\n    keyfile: k\n    require_certificate: true\n', 2, 'listeners[0].cafile', /^required when require_certificate is true$/],
  ['bad listener: identity without certificate', 'listeners:\n  - type: tls\n    port: 1\n    certfile: c\n    keyfile: k\n    use_identity_as_username: true\n', 2, 'listeners[0].require_certificate', /^must be true when use_identity_as_username is true$/],
  ['bad listener: bad tls_version', 'listeners:\n  - type: tls\n    port: 1\n    certfile: c\n    keyfile: k\n    tls_version: tlsv1.1\n', 6, 'listeners[0].tls_version', /^must be one of tlsv1\.2, tlsv1\.3/],
  ['bad listener: empty list', 'listeners: []\n', 1, 'listeners', /^must have at least 1 entry/],
  ['bad listener: two on one port', 'listeners:\n  - port: 1883\n  - type: ws\n    port: 1883\n', 4, 'listeners[1].port', /^1883 on 0\.0\.0\.0 is already taken by listeners\[0\]/],
  ['bad listener: wildcard overlaps a specific address', 'listeners:\n  - port: 1883\n    bind_address: 127.0.0.1\n  - port: 1883\n    bind_address: 0.0.0.0\n', 4, 'listeners[1].port', /already taken by listeners\[0\] \(127\.0\.0\.1:1883\)/],
  ['bad listener: on the HTTP port by default', 'listeners:\n  - type: ws\n    port: 8080\n', 3, 'listeners[0].port', /is also the HTTP server's port/],
  ['bad listener: port and listeners together', 'port: 1884\nlisteners:\n  - port: 1883\n', 1, 'port', /^not allowed when listeners is set; add a listener of type tcp instead$/],
  ['clash: http_port on the MQTT port', 'port: 1999\nhttp_port: 1999\n', 2, 'http_port', /^1999 on 0\.0\.0\.0 is already taken by the MQTT listener/],
  ['clash: auth_failure_delay_max below auth_failure_delay', 'auth_failure_delay: 5\nauth_failure_delay_max: 2\n', 2, 'auth_failure_delay_max', /^must not be below auth_failure_delay \(5\), got 2$/],
  ['bad topic_rules: no rules', 'topic_rules:\n  deny_action: ignore\n', 1, 'topic_rules.rules', /^required$/],
  ['bad topic_rules: deny_action', 'topic_rules:\n  deny_action: drop\n  rules: []\n', 2, 'topic_rules.deny_action', /^must be one of disconnect, ignore, got "drop"$/],
  ['bad topic_rules: rule without pattern', 'topic_rules:\n  rules:\n    - publish: true\n', 3, 'topic_rules.rules[0].pattern', /^required$/],
  ['bad topic_rules: empty pattern', 'topic_rules:\n  rules:\n    - pattern: a\n    - pattern: ""\n', 4, 'topic_rules.rules[1].pattern', /^must not be empty$/],
  ['bad topic_rules: publish not a boolean', 'topic_rules:\n  rules:\n    - pattern: a/b\n      publish: "true"\n', 4, 'topic_rules.rules[0].publish', /^must be true or false, got "true"$/],
];

for (const [name, text, line, key, problem] of yamlCases) {
  test(`YAML config, ${name}: names file, line and key`, () => {
    assertConfigError(() => parseConfigText(text, 'culex.yaml'), { file: 'culex.yaml', line, key, problem });
  });
}

test('an unreadable YAML file names the file', () => {
  assertConfigError(() => loadConfigFile('/nonexistent/culex.yaml'), { file: '/nonexistent/culex.yaml', line: undefined, key: undefined, problem: /^cannot read/ });
});

const mosquittoCases: readonly Case[] = [
  ['unknown key', 'listener 1883\nallow_anonymus true\n', 2, 'allow_anonymus', /^unknown mosquitto\.conf option$/],
  ['bad boolean', 'listener 1883\n\nallow_anonymous maybe\n', 3, 'allow_anonymous', /^must be true or false, got "maybe"$/],
  ['bad integer', 'max_inflight_messages many\n', 1, 'max_inflight_messages', /^must be an integer, got "many"$/],
  ['empty value', '# comment\nmax_keepalive\n', 2, 'max_keepalive', /^needs a value$/],
  ['empty string value', 'password_file\n', 1, 'password_file', /^needs a value$/],
  ['out of range', 'max_qos 3\n', 1, 'max_qos', /^must be between 0 and 2, got 3$/],
  ['max_packet_size below 20', 'max_packet_size 0\n', 1, 'max_packet_size', /^must be at least 20/],
  ['extra word after a value', 'retain_available false true\n', 1, 'retain_available', /^unexpected "true" after the value$/],
  ['listener without a port', 'listener\n', 1, 'listener', /^needs a port$/],
  ['listener port out of range', 'listener 70000\n', 1, 'listener', /^port must be between 1 and 65535, got 70000$/],
  ['listener on a Unix socket', 'listener 0 /run/mosquitto.sock\n', 1, 'listener', /Unix sockets are not supported/],
  ['bad protocol', 'listener 1883\nprotocol mqttsn\n', 2, 'protocol', /^must be mqtt or websockets, got "mqttsn"$/],
  ['bad tls_version', 'listener 8883\ntls_version tlsv1\n', 2, 'tls_version', /^must be tlsv1\.3, tlsv1\.2 or tlsv1\.1/],
  ['bad expiration', 'persistent_client_expiration 14\n', 1, 'persistent_client_expiration', /^must be a number and a unit/],
  ['bad log_type', 'log_type verbose\n', 1, 'log_type', /^must be one of none, information/],
  ['string set twice', 'password_file /a\nacl_file /b\npassword_file /c\n', 3, 'password_file', /^set twice \(first at mosquitto\.conf:1\)$/],
  ['per_listener_settings after security', 'allow_anonymous true\nper_listener_settings true\n', 2, 'per_listener_settings', /^must come before any security setting/],
  ['bridge key outside a bridge', 'listener 1883\naddress 10.0.0.1:1883\n', 2, 'address', /no bridge was started/],
  ['plugin', 'listener 1883\nplugin /usr/lib/mosquitto_dynamic_security.so\n', 2, 'plugin', /plugins cannot be loaded/],
  ['plugin option', 'plugin_opt_config_file /x.json\n', 1, 'plugin_opt_config_file', /plugins cannot be loaded/],
  ['TLS-PSK', 'listener 8884\npsk_hint hint\n', 2, 'psk_hint', /TLS-PSK is not supported/],
  ['revocation list', 'listener 8883\ncrlfile /etc/crl.pem\n', 2, 'crlfile', /revocation lists are not supported/],
  ['certfile without keyfile', 'listener 1883\nlistener 8883\ncertfile /c.pem\n', 3, 'keyfile', /^missing: TLS needs both certfile and keyfile \(mosquitto would run the listener at mosquitto\.conf:2 without TLS\)$/],
  ['require_certificate without cafile', 'listener 8883\ncertfile /c\nkeyfile /k\nrequire_certificate true\n', 4, 'require_certificate', /^needs cafile/],
  ['require_certificate with capath only', 'listener 8883\ncertfile /c\nkeyfile /k\ncapath /etc/ssl/certs\nrequire_certificate true\n', 4, 'capath', /^not supported: put the CA certificates into one PEM file/],
  ['identity without require_certificate', 'listener 8883\ncertfile /c\nkeyfile /k\nuse_identity_as_username true\n', 4, 'use_identity_as_username', /^needs require_certificate true/],
  ['per-listener security that differs', 'per_listener_settings true\nlistener 1883\nallow_anonymous true\nlistener 1884\n', 1, 'per_listener_settings', /allow_anonymous is true for the listener at mosquitto\.conf:2 and false for the listener at mosquitto\.conf:4$/],
  ['max_qos that differs per listener', 'listener 1883\nmax_qos 1\nlistener 1884\nmax_qos 2\n', 4, 'max_qos', /^Culex has one max_qos for all listeners/],
  ['two listeners on one port', 'listener 1883\nlistener 1883 127.0.0.1\n', 2, 'listeners[1].port', /^1883 on 127\.0\.0\.1 is already taken by listeners\[0\]/],
];

for (const [name, text, line, key, problem] of mosquittoCases) {
  test(`mosquitto.conf, ${name}: names file, line and key`, () => {
    assertConfigError(() => parseMosquittoConf(text, 'mosquitto.conf'), { file: 'mosquitto.conf', line, key, problem });
  });
}

test('a bad line in an include_dir file names that file and its line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'culex-conf-'));
  try {
    mkdirSync(join(dir, 'conf.d'));
    writeFileSync(join(dir, 'mosquitto.conf'), 'listener 1883\ninclude_dir conf.d\n');
    writeFileSync(join(dir, 'conf.d', 'a.conf'), 'sys_interval 5\n');
    writeFileSync(join(dir, 'conf.d', 'b.conf'), '# second\n\nmax_keepalive 70000\n');
    const file = join(dir, 'conf.d', 'b.conf');
    assertConfigError(() => readMosquittoConf(join(dir, 'mosquitto.conf')), { file, line: 3, key: 'max_keepalive', problem: /^must be between 0 and 65535, got 70000$/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing include_dir names the main file, its line and the key', () => {
  assertConfigError(() => parseMosquittoConf('listener 1883\ninclude_dir /nonexistent/conf.d\n', '/etc/m.conf'), {
    file: '/etc/m.conf',
    line: 2,
    key: 'include_dir',
    problem: /^cannot read directory \/nonexistent\/conf\.d/,
  });
});
