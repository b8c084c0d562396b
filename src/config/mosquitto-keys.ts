// Every key mosquitto 2.0's src/conf.c knows, and what becomes of it in Culex: read into the
// Culex config (MAPPED, handled in mosquitto-conf.ts), read and dropped with a warning (IGNORED),
// or refused because dropping it would quietly weaken security (UNSUPPORTED). Anything else is
// an unknown key, as in mosquitto.

/** Keys mosquitto-conf.ts turns into Culex settings, with what they become (for the docs). */
export const MAPPED: Readonly<Record<string, string>> = {
  listener: 'starts an entry of `listeners` (port and bind_address)',
  port: 'the default listener\'s port (`port`, or a `listeners` entry)',
  bind_address: 'the default listener\'s address (`host`, or a `listeners` entry)',
  protocol: '`mqtt` = tcp/tls, `websockets` = ws/wss (WebSocket clients must use `path`, default /mqtt)',
  certfile: '`listeners[].certfile`; with keyfile, makes the listener tls or wss',
  keyfile: '`listeners[].keyfile`',
  cafile: '`listeners[].cafile`',
  capath: 'not supported: refused when require_certificate has no cafile, otherwise dropped with a warning',
  require_certificate: '`listeners[].require_certificate`',
  use_identity_as_username: '`listeners[].use_identity_as_username`',
  tls_version: '`listeners[].tls_version` (tlsv1.1 becomes tlsv1.2, with a warning)',
  max_connections: '`listeners[].max_connections` (0 and below = -1, unlimited)',
  max_qos: '`max_qos` (for all listeners)',
  maximum_qos: '`max_qos` (for all listeners)',
  max_topic_alias: '`max_topic_alias` (for all listeners)',
  allow_anonymous: '`allow_anonymous`',
  password_file: '`password_file`',
  acl_file: '`acl_file`',
  allow_zero_length_clientid: '`allow_zero_length_clientid`',
  auto_id_prefix: '`auto_id_prefix`',
  per_listener_settings: 'accepted when every listener ends up with the same security settings, refused otherwise (Culex has one set for all listeners)',
  max_inflight_messages: '`max_inflight_messages` (below 0 or 65535 = 0, no limit)',
  max_keepalive: '`max_keepalive`',
  max_packet_size: '`max_packet_size` (above 268435455 = 268435455)',
  max_queued_messages: '`max_queued_messages` (0 = no limit becomes 10000000, with a warning)',
  sys_interval: '`sys_interval`',
  persistent_client_expiration: '`persistent_client_expiration`, in seconds (`2h`, `14d`, `1w`, `1m`, `1y`)',
  retain_available: '`retain_available`',
  persistence_location: '`persistence_location`',
  persistence: '`true`: nothing to do; `false`: warning (Culex has no such switch; its data directory is persistence_location)',
  log_type: '`log_level` (debug or all = debug; information or notice = info; warning = warn; error = error; none = silent)',
  include_dir: 'its `*.conf` files are read in mosquitto\'s order (main file only, as mosquitto)',
  connection: 'a bridge: not supported; the bridge and its keys are dropped with a warning',
};

/** Keys that have no effect in Culex: read, checked for a value, and dropped with a warning. */
export const IGNORED: Readonly<Record<string, string>> = {
  allow_duplicate_messages: 'deprecated in mosquitto; no effect in Culex',
  autosave_interval: 'no effect in Culex',
  autosave_on_changes: 'no effect in Culex',
  check_retain_source: 'no effect in Culex',
  ciphers: 'Culex uses Node.js\'s default TLS cipher list',
  'ciphers_tls1.3': 'Culex uses Node.js\'s default TLS cipher list',
  connection_messages: 'no effect in Culex; log_level decides what is logged',
  dhparamfile: 'Culex uses Node.js\'s default key exchange (ECDHE)',
  http_dir: 'Culex serves its own dashboard on http_port',
  log_dest: 'Culex logs JSON lines to stdout',
  log_facility: 'Culex logs JSON lines to stdout',
  log_timestamp: 'Culex logs JSON lines with timestamps',
  log_timestamp_format: 'Culex logs JSON lines with timestamps',
  max_inflight_bytes: 'Culex limits by message count (max_inflight_messages) and by max_outbound_bytes',
  max_queued_bytes: 'Culex limits by message count (max_queued_messages) and by max_outbound_bytes',
  memory_limit: 'no effect in Culex',
  message_size_limit: 'use max_packet_size, which limits the whole packet',
  persistence_file: 'Culex keeps its own files in persistence_location',
  pid_file: 'Culex writes no pid file; run it under a service manager',
  queue_qos0_messages: 'no effect in Culex',
  retry_interval: 'no effect (mosquitto 2 ignores it too)',
  set_tcp_nodelay: 'no effect in Culex',
  socket_domain: 'Culex binds the listener\'s address: 0.0.0.0 for IPv4, :: for IPv6 and IPv4',
  tls_engine: 'OpenSSL engines are not supported; keyfile must be a PEM file',
  tls_engine_kpass_sha1: 'OpenSSL engines are not supported; keyfile must be a PEM file',
  tls_keyform: 'keyfile must be a PEM file',
  upgrade_outgoing_qos: 'no effect in Culex',
  user: 'Culex does not change user; start it as the user it should run as',
  websockets_headers_size: 'no effect in Culex',
  websockets_log_level: 'no effect in Culex',
};

/** Keys Culex refuses: ignoring them would let in clients mosquitto keeps out. */
export const UNSUPPORTED: Readonly<Record<string, string>> = {
  auth_plugin: 'mosquitto plugins cannot be loaded by Culex; use password_file, acl_file or Culex\'s tokens instead',
  plugin: 'mosquitto plugins cannot be loaded by Culex; use password_file, acl_file or Culex\'s tokens instead',
  auth_plugin_deny_special_chars: 'mosquitto plugins cannot be loaded by Culex',
  bind_interface: 'not supported; give the interface\'s address in the listener line instead',
  clientid_prefixes: 'not supported; restrict clients with password_file and acl_file instead',
  crlfile: 'certificate revocation lists are not supported',
  mount_point: 'not supported; give each group of clients its own topic tree in acl_file instead',
  psk_file: 'TLS-PSK is not supported; use certificates (certfile, keyfile)',
  psk_hint: 'TLS-PSK is not supported; use certificates (certfile, keyfile)',
  use_subject_as_username: 'not supported; use use_identity_as_username (the certificate\'s Common Name)',
  use_username_as_clientid: 'not supported',
};

/** Key prefixes of plugin options (auth_opt_*, plugin_opt_*). */
export const UNSUPPORTED_PREFIXES: readonly string[] = ['auth_opt_', 'plugin_opt_'];

/** Keys that belong to a bridge (after `connection`). */
export const BRIDGE_KEYS: readonly string[] = [
  'address', 'addresses', 'bridge_alpn', 'bridge_attempt_unsubscribe', 'bridge_bind_address', 'bridge_cafile', 'bridge_capath',
  'bridge_certfile', 'bridge_identity', 'bridge_insecure', 'bridge_keyfile', 'bridge_max_packet_size', 'bridge_outgoing_retain',
  'bridge_protocol_version', 'bridge_psk', 'bridge_require_ocsp', 'bridge_tls_version', 'cleansession', 'clientid',
  'idle_timeout', 'keepalive_interval', 'local_cleansession', 'local_clientid', 'local_password', 'local_username',
  'notification_topic', 'notifications', 'notifications_local_only', 'password', 'remote_clientid', 'remote_password',
  'remote_username', 'restart_timeout', 'round_robin', 'start_type', 'threshold', 'topic', 'try_private', 'username',
];

/** Rows of the reference page's mosquitto table: keys, and what becomes of them. */
export const MOSQUITTO_KEY_DOC: readonly (readonly [readonly string[], string])[] = [
  ...Object.entries(MAPPED).map(([key, effect]) => [[key], effect] as const),
  ...Object.entries(UNSUPPORTED).map(([key, why]) => [[key], `refused: ${why}`] as const),
  [UNSUPPORTED_PREFIXES.map((p) => `${p}*`), 'refused: mosquitto plugins cannot be loaded by Culex'],
  ...Object.entries(IGNORED).map(([key, why]) => [[key], `warning, dropped: ${why}`] as const),
  [BRIDGE_KEYS, 'bridge settings: dropped with their `connection`; refused outside a bridge'],
];
