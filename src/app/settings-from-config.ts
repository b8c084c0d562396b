// Maps the mosquitto-style config keys onto the core's settings.
import type { BrokerSettings } from '../core/options.js';
import type { CulexConfig } from '../config/schema.js';

export function settingsFromConfig(config: CulexConfig, version: string): BrokerSettings {
  return {
    maxPacketSize: config.max_packet_size,
    maxInflightMessages: config.max_inflight_messages,
    maxQueuedMessages: config.max_queued_messages,
    maxKeepalive: config.max_keepalive,
    maxOutboundBytes: config.max_outbound_bytes,
    slowConsumerTimeout: config.slow_consumer_timeout,
    connectTimeout: config.connect_timeout,
    allowZeroLengthClientId: config.allow_zero_length_clientid,
    autoIdPrefix: config.auto_id_prefix,
    sysInterval: config.sys_interval,
    maxRetainedMessages: config.max_retained_messages,
    maxTopicAlias: config.max_topic_alias,
    maxTopicAliasOutbound: config.max_topic_alias_outbound,
    persistentClientExpiration: config.persistent_client_expiration,
    maxSessionExpiryInterval: config.max_session_expiry_interval,
    responseInformationPrefix: config.response_information_prefix,
    retainAvailable: config.retain_available,
    maxQos: config.max_qos as 0 | 1 | 2,
    maxPublishRate: config.max_publish_rate,
    maxPublishBytesRate: config.max_publish_bytes_rate,
    version,
  };
}
