// Every key of the YAML config file, its type, range, default and meaning. Keys are named
// as in mosquitto.conf wherever mosquitto has the setting, so one vocabulary serves both.
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export type KeySpec =
  | { type: 'int'; min: number; max: number; default: number; doc: string }
  | { type: 'bool'; default: boolean; doc: string }
  | { type: 'string'; default: string; doc: string; oneOf?: readonly string[] };

const MAX_U32 = 4294967295;

export const CONFIG_KEYS = {
  port: { type: 'int', min: 0, max: 65535, default: 1883, doc: 'MQTT TCP port (mosquitto: listener).' },
  host: { type: 'string', default: '0.0.0.0', doc: 'Address the MQTT listener binds to.' },
  persistence_location: { type: 'string', default: './data', doc: 'Data directory (same as --data).' },
  log_level: { type: 'string', default: 'info', oneOf: LOG_LEVELS, doc: 'Log level of the structured (JSON) log on stdout.' },
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

export type ConfigKey = keyof typeof CONFIG_KEYS;

type ValueOf<S> = S extends { type: 'int' } ? number : S extends { type: 'bool' } ? boolean : string;

/** A fully resolved configuration: every key present. */
export type CulexConfig = { -readonly [K in ConfigKey]: ValueOf<(typeof CONFIG_KEYS)[K]> };

export function defaultConfig(): CulexConfig {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(CONFIG_KEYS)) out[key] = spec.default;
  return out as CulexConfig;
}
