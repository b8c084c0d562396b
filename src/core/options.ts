// Broker settings as core sees them. config/ maps the mosquitto-style keys of the YAML
// file (max_inflight_messages, ...) onto these; defaults follow mosquitto where it has
// the setting, except where mosquitto's default is "unbounded".
import type { AuthMethod, Authenticator, ClusterLink, DurableStore, Authorizer, Clock, Logger, RetainedStore, RuntimeStats, SessionStore } from './ports.js';

export interface BrokerSettings {
  /** Largest packet accepted, in bytes (max_packet_size). */
  maxPacketSize: number;
  /** Outgoing QoS 1/2 messages in flight per client (max_inflight_messages); 0 = no limit. */
  maxInflightMessages: number;
  /** QoS 1/2 messages queued per client beyond the inflight window (max_queued_messages). */
  maxQueuedMessages: number;
  /** Largest keepalive accepted, in seconds (max_keepalive). */
  maxKeepalive: number;
  /** Bytes waiting to be written to one client before it counts as slow (max_outbound_bytes). */
  maxOutboundBytes: number;
  /** Seconds a client may stay over maxOutboundBytes before it is disconnected (slow_consumer_timeout). */
  slowConsumerTimeout: number;
  /** Seconds a new connection may take to send CONNECT (connect_timeout). */
  connectTimeout: number;
  /** Accept an empty client id and assign one (allow_zero_length_clientid). */
  allowZeroLengthClientId: boolean;
  /** Prefix of assigned client ids (auto_id_prefix). */
  autoIdPrefix: string;
  /** Seconds between $SYS updates; 0 turns $SYS off (sys_interval). */
  sysInterval: number;
  /** Retained messages kept at most; a new topic beyond this is not retained (max_retained_messages). */
  maxRetainedMessages: number;
  /** PUBLISH packets per second per client before reading pauses (max_publish_rate); 0 = no limit. */
  maxPublishRate: number;
  /** PUBLISH topic+payload bytes per second per client before reading pauses (max_publish_bytes_rate); 0 = no limit. */
  maxPublishBytesRate: number;
  /** Topic aliases a v5 client may use towards us (max_topic_alias); 0 = none. */
  maxTopicAlias: number;
  /** Topic aliases we assign towards a v5 client that allows them (max_topic_alias_outbound). */
  maxTopicAliasOutbound: number;
  /** Seconds an offline 3.1/3.1.1 persistent session is kept; 0 = forever (persistent_client_expiration). */
  persistentClientExpiration: number;
  /** Largest Session Expiry Interval granted to v5 clients, in seconds (max_session_expiry_interval); 0 = no cap. */
  maxSessionExpiryInterval: number;
  /** Prefix of the Response Information offered to v5 clients that ask (response_information_prefix); empty = none. */
  responseInformationPrefix: string;
  /** Whether retained messages are accepted (retain_available). */
  retainAvailable: boolean;
  /** Highest QoS accepted and granted (max_qos). */
  maxQos: 0 | 1 | 2;
  /** Reported in $SYS/broker/version as "culex <version>". */
  version: string;
}

export const DEFAULT_SETTINGS: Readonly<BrokerSettings> = Object.freeze({
  maxPacketSize: 1024 * 1024,
  maxInflightMessages: 20,
  maxQueuedMessages: 1000,
  maxKeepalive: 65535,
  maxOutboundBytes: 4 * 1024 * 1024,
  slowConsumerTimeout: 30,
  connectTimeout: 10,
  allowZeroLengthClientId: true,
  autoIdPrefix: 'auto-',
  sysInterval: 10,
  maxRetainedMessages: 100_000,
  maxPublishRate: 0,
  maxPublishBytesRate: 0,
  maxTopicAlias: 10,
  maxTopicAliasOutbound: 10,
  persistentClientExpiration: 0,
  maxSessionExpiryInterval: 0,
  responseInformationPrefix: 'responses/',
  retainAvailable: true,
  maxQos: 2,
  version: 'unknown',
});

export interface BrokerDeps {
  clock: Clock;
  logger: Logger;
  sessions: SessionStore;
  retained: RetainedStore;
  authenticator: Authenticator;
  authorizer: Authorizer;
  /** Where sessions, retained messages and wills survive restarts; none = memory only. */
  durable?: DurableStore;
  /** Set to make this broker one node of a cluster (adapters/redis). */
  cluster?: ClusterLink;
  /** MQTT 5 enhanced authentication methods, by Authentication Method name; none by default. */
  authMethods?: readonly AuthMethod[];
  /** Heap and event-loop lag for $SYS; none = those topics are not published. */
  runtime?: RuntimeStats;
}

export interface BrokerOptions extends Partial<BrokerSettings> {
  deps: BrokerDeps;
}
