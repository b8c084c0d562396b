// Every key of the YAML config file, its type, range, default and meaning. Keys are named
// as in mosquitto.conf wherever mosquitto has the setting, so one vocabulary serves both.
import type { FieldsValue, KeySpec, ListSpec, ObjectSpec, SpecValue } from './spec.js';

export type { KeySpec } from './spec.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export type ListenerType = 'tcp' | 'tls' | 'ws' | 'wss';
export const LISTENER_TYPES: readonly ListenerType[] = ['tcp', 'tls', 'ws', 'wss'];
export type TlsVersion = 'tlsv1.2' | 'tlsv1.3';
export const TLS_VERSIONS: readonly TlsVersion[] = ['tlsv1.2', 'tlsv1.3'];
export type DenyAction = 'disconnect' | 'ignore';
export const DENY_ACTIONS: readonly DenyAction[] = ['disconnect', 'ignore'];

export type PersistenceMode = 'sqlite' | 'memory';
export const PERSISTENCE_MODES: readonly PersistenceMode[] = ['sqlite', 'memory'];
export type PersistenceSync = 'normal' | 'full';
export const PERSISTENCE_SYNCS: readonly PersistenceSync[] = ['normal', 'full'];

const MAX_U32 = 4294967295;

/** The top-level keys whose value is one scalar. */
export const CONFIG_KEYS = {
  port: { type: 'int', min: 0, max: 65535, default: 1883, doc: 'MQTT TCP port (mosquitto: listener). Used only when `listeners` is absent.' },
  host: { type: 'string', default: '0.0.0.0', doc: 'Address the MQTT listener binds to; also the address of every listener whose bind_address is empty.' },
  http_port: { type: 'int', min: -1, max: 65535, default: 8080, doc: 'Port of the HTTP server (dashboard, REST API, MQTT over WebSocket at /mqtt); -1 = no HTTP server.' },
  http_bind_address: { type: 'string', default: '', doc: 'Address the HTTP server binds to; empty = the address of the first MQTT listener.' },
  persistence_location: { type: 'string', default: './data', doc: 'Data directory (same as --data): culex.db (API tokens, and with `persistence: sqlite` the sessions, queued messages, retained messages and wills).' },
  persistence: { type: 'string', oneOf: PERSISTENCE_MODES, default: 'sqlite', doc: 'Where sessions, queued and in-flight QoS 1/2 messages, retained messages and wills live: sqlite (in culex.db; survives restarts and crashes; a PUBLISH is acknowledged once stored) or memory (lost on restart). mosquitto.conf `persistence true|false` maps onto this (same as --persistence).' },
  cluster: { type: 'string', default: '', pattern: { regex: '^$|^rediss?://', means: 'must be empty or a redis:// URL' }, doc: 'redis://host:port of the Redis server that makes this broker one node of a cluster (same as --cluster): subscriptions, retained messages and sessions are shared with the other nodes. Empty = a single broker.' },
  node_id: { type: 'string', default: '', pattern: { regex: '^$|^[A-Za-z0-9._:-]{1,64}$', means: 'must be 1 to 64 characters of A-Z a-z 0-9 . _ : -' }, doc: 'This node\'s name in the cluster (same as --node-id); empty = "<host name>-<process id>". Shown in $SYS/broker/cluster/node.' },
  persistence_sync: { type: 'string', oneOf: PERSISTENCE_SYNCS, default: 'normal', doc: 'sqlite only. normal: what was acknowledged survives a crash of the process (kill -9); full: it also survives a power loss, at the cost of an fsync per event-loop turn that writes.' },
  log_level: { type: 'string', default: 'info', oneOf: LOG_LEVELS, doc: 'Log level of the structured (JSON) log on stdout.' },
  allow_anonymous: { type: 'bool', default: false, doc: 'Accept clients that give no user name. With no config file at all Culex runs like mosquitto 2 in local only mode (listeners on 127.0.0.1, anonymous clients allowed); once a config file is given this defaults to false.' },
  password_file: { type: 'string', path: true, default: '', doc: 'Password file in mosquitto_passwd format; a relative path is relative to this file. Empty = none.' },
  acl_file: { type: 'string', path: true, default: '', doc: 'Access control list in mosquitto acl_file format; a relative path is relative to this file. Empty = none.' },
  auth_failure_delay: { type: 'int', min: 0, max: 3600, default: 1, doc: 'Seconds a client address waits before its next login is checked after a failed one; doubles with each further failure. 0 = no delay.' },
  auth_failure_delay_max: { type: 'int', min: 0, max: 86400, default: 30, doc: 'Longest delay, in seconds, that auth_failure_delay grows to. Must not be below auth_failure_delay.' },
  max_connections: { type: 'int', min: -1, max: MAX_U32, default: -1, doc: 'Clients connected at once over all listeners; a connection beyond it is closed. -1 = unlimited (as mosquitto).' },
  max_publish_rate: { type: 'int', min: 0, max: MAX_U32, default: 0, doc: 'PUBLISH packets per second accepted from one client; 0 = unlimited.' },
  max_publish_bytes_rate: { type: 'int', min: 0, max: MAX_U32, default: 0, doc: 'PUBLISH bytes per second accepted from one client; 0 = unlimited.' },
  max_packet_size: { type: 'int', min: 20, max: 268435455, default: 1048576, doc: 'Largest packet accepted, in bytes; a larger one closes the connection (v5: DISCONNECT 0x95).' },
  max_inflight_messages: { type: 'int', min: 0, max: 65535, default: 20, doc: 'Outgoing QoS 1/2 messages in flight per client; 0 means no limit (up to 65535 packet ids).' },
  max_queued_messages: { type: 'int', min: 1, max: 10000000, default: 1000, doc: 'QoS 1/2 messages queued per client beyond the inflight window (also while offline); more are dropped and counted.' },
  max_keepalive: { type: 'int', min: 0, max: 65535, default: 65535, doc: 'Largest keepalive accepted, in seconds. 3.1/3.1.1 clients asking for more are refused (CONNACK 2); 5.0 clients are told this value.' },
  max_outbound_bytes: { type: 'int', min: 1024, max: MAX_U32, default: 4194304, doc: 'Bytes waiting to be written to one client before it counts as a slow consumer: QoS 0 messages to it are dropped, QoS 1/2 wait in its queue.' },
  slow_consumer_timeout: { type: 'int', min: 1, max: 86400, default: 30, doc: 'Seconds a client may stay over max_outbound_bytes before it is disconnected.' },
  connect_timeout: { type: 'int', min: 1, max: 3600, default: 10, doc: 'Seconds a new connection may take to send CONNECT before it is closed.' },
  allow_zero_length_clientid: { type: 'bool', default: true, doc: 'Accept an empty client id (3.1.1 with clean session, 5.0) and assign one.' },
  auto_id_prefix: { type: 'string', default: 'auto-', doc: 'Prefix of assigned client ids.' },
  sys_interval: { type: 'int', min: 0, max: 86400, default: 10, doc: 'Seconds between $SYS updates; 0 turns $SYS off.' },
  max_retained_messages: { type: 'int', min: 0, max: 100000000, default: 100000, doc: 'Retained messages kept at most; a retained publish to a new topic beyond this is routed but not retained.' },
  max_topic_alias: { type: 'int', min: 0, max: 65535, default: 10, doc: 'Topic aliases a v5 client may define towards the broker (announced as Topic Alias Maximum).' },
  max_topic_alias_outbound: { type: 'int', min: 0, max: 65535, default: 10, doc: 'Topic aliases the broker assigns towards a v5 client, up to the Topic Alias Maximum the client announced; 0 = never.' },
  persistent_client_expiration: { type: 'int', min: 0, max: MAX_U32, default: 0, doc: 'Seconds an offline 3.1/3.1.1 persistent session (clean session 0) is kept; 0 = forever (as mosquitto).' },
  max_session_expiry_interval: { type: 'int', min: 0, max: MAX_U32, default: 0, doc: 'Largest Session Expiry Interval granted to v5 clients, in seconds (a larger request is lowered and the CONNACK says so); 0 = no cap.' },
  response_information_prefix: { type: 'string', default: 'responses/', doc: 'v5 clients that set Request Response Information get Response Information "<prefix><client id>/"; empty = not offered.' },
  retain_available: { type: 'bool', default: true, doc: 'Accept retained messages. When false, a retained PUBLISH is refused (v5: DISCONNECT 0x9A) and CONNACK says Retain Available 0.' },
  max_qos: { type: 'int', min: 0, max: 2, default: 2, doc: 'Highest QoS accepted from publishers and granted to subscribers (v5: CONNACK Maximum QoS).' },
} as const satisfies Record<string, KeySpec>;

/** The keys of one entry of `listeners`. */
export const LISTENER_FIELDS = {
  type: { type: 'string', oneOf: LISTENER_TYPES, default: 'tcp', doc: 'tcp, tls (MQTT over TLS), ws (MQTT over WebSocket) or wss (WebSocket over TLS).' },
  port: { type: 'int', min: 0, max: 65535, doc: 'Port to listen on; 0 = any free port.' },
  bind_address: { type: 'string', default: '', doc: 'Address to bind; empty = the top-level host.' },
  path: { type: 'string', default: '/mqtt', pattern: { regex: '^/', means: 'must start with /' }, doc: 'ws and wss only: the HTTP path WebSocket clients connect to.' },
  proxy_protocol: { type: 'bool', default: false, doc: 'Expect a PROXY protocol v1 or v2 header first (from a load balancer) and take the client address from it.' },
  max_connections: { type: 'int', min: -1, max: MAX_U32, default: -1, doc: 'Clients connected at once on this listener; -1 = unlimited.' },
  max_connections_per_second: { type: 'int', min: 0, max: MAX_U32, default: 0, doc: 'New connections accepted per second on this listener; more are closed at once. 0 = unlimited.' },
  certfile: { type: 'string', path: true, default: '', doc: 'tls and wss: PEM server certificate (chain); required.' },
  keyfile: { type: 'string', path: true, default: '', doc: 'tls and wss: PEM private key of certfile; required.' },
  cafile: { type: 'string', path: true, default: '', doc: 'tls and wss: PEM CA certificates trusted for client certificates; required when require_certificate is true.' },
  require_certificate: { type: 'bool', default: false, doc: 'tls and wss: a client must present a certificate signed by cafile.' },
  use_identity_as_username: { type: 'bool', default: false, doc: 'tls and wss, with require_certificate: the certificate\'s Common Name is the client\'s identity for ACLs, instead of the MQTT user name.' },
  tls_version: { type: 'string', oneOf: TLS_VERSIONS, default: 'tlsv1.2', doc: 'tls and wss: lowest TLS version accepted.' },
} as const satisfies Record<string, KeySpec>;

const TLS_ONLY = ['certfile', 'keyfile', 'cafile', 'require_certificate', 'use_identity_as_username', 'tls_version'] as const;

export const LISTENER_SPEC = {
  type: 'object',
  doc: 'One network listener for MQTT.',
  fields: LISTENER_FIELDS,
  required: ['port'],
  rules: [
    { key: 'type', in: ['tls', 'wss'], then: { require: ['certfile', 'keyfile'] }, else: { forbid: TLS_ONLY } },
    { key: 'type', in: ['ws', 'wss'], else: { forbid: ['path'] } },
    { key: 'require_certificate', in: [true], then: { require: ['cafile'] } },
    { key: 'use_identity_as_username', in: [true], then: { requireTrue: ['require_certificate'] } },
  ],
} as const satisfies ObjectSpec;

export const LISTENERS_SPEC = {
  type: 'list',
  doc: 'The MQTT listeners. When absent, Culex listens with one tcp listener on port and host. Two listeners may not share a port and address.',
  items: LISTENER_SPEC,
  minItems: 1,
} as const satisfies ListSpec;

export const TOPIC_RULE_FIELDS = {
  pattern: { type: 'string', minLength: 1, doc: 'Topic pattern; `(:name)` captures one level (checked when the broker starts).' },
  publish: { type: 'bool', default: false, doc: 'Clients may publish to matching topics.' },
  subscribe: { type: 'bool', default: false, doc: 'Clients may subscribe to matching topics.' },
} as const satisfies Record<string, KeySpec>;

export const TOPIC_RULES_SPEC = {
  type: 'object',
  doc: 'A table of topic patterns and what clients may do with them. When absent, there is no table.',
  fields: {
    deny_action: { type: 'string', oneOf: DENY_ACTIONS, default: 'disconnect', doc: 'What happens to a publish or subscribe no rule allows: disconnect the client, or ignore the request (refuse it and keep the connection).' },
    rules: { type: 'list', doc: 'The rules, first match wins.', items: { type: 'object', doc: 'One topic rule.', fields: TOPIC_RULE_FIELDS, required: ['pattern'] } },
  },
  required: ['rules'],
} as const satisfies ObjectSpec;

/** The whole file. */
export const CONFIG_SPEC = {
  type: 'object',
  doc: 'Culex configuration file (YAML). Keys are named as in mosquitto.conf wherever mosquitto has the setting.',
  fields: { ...CONFIG_KEYS, listeners: LISTENERS_SPEC, topic_rules: TOPIC_RULES_SPEC },
  rules: [{ key: 'listeners', present: true, then: { forbid: ['port'] }, hint: 'add a listener of type tcp instead' }],
} as const satisfies ObjectSpec;

export type ConfigKey = keyof typeof CONFIG_KEYS;
export type ListenerConfig = FieldsValue<typeof LISTENER_FIELDS>;
export type TopicRuleConfig = FieldsValue<typeof TOPIC_RULE_FIELDS>;
export type TopicRulesConfig = SpecValue<typeof TOPIC_RULES_SPEC>;

/** A fully resolved configuration: every key present. */
export type CulexConfig = FieldsValue<typeof CONFIG_KEYS> & {
  /** null = the key was absent: one tcp listener on `port` and `host` (see resolveListeners). */
  listeners: ListenerConfig[] | null;
  /** null = the key was absent: no topic table. */
  topic_rules: TopicRulesConfig | null;
};

export function defaultConfig(): CulexConfig {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_KEYS)) out[key] = spec.default;
  out.listeners = null;
  out.topic_rules = null;
  return out as CulexConfig;
}

/** A listener with every key at its default, except the port. */
export function defaultListener(port: number): ListenerConfig {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(LISTENER_FIELDS)) if ('default' in spec) out[key] = spec.default;
  out.port = port;
  return out as ListenerConfig;
}

/** A listener with only the keys that differ from the defaults (type and port always). */
export function listenerWithoutDefaults(listener: ListenerConfig): Partial<ListenerConfig> {
  const out: Record<string, unknown> = { type: listener.type, port: listener.port };
  for (const [key, spec] of Object.entries(LISTENER_FIELDS)) {
    if (key === 'type' || key === 'port') continue;
    const value = (listener as Record<string, unknown>)[key];
    if (value !== undefined && (!('default' in spec) || value !== spec.default)) out[key] = value;
  }
  return out as Partial<ListenerConfig>;
}
