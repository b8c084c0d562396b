// Counters behind $SYS (and later Prometheus). Plain numbers: incremented on the hot path.
export interface BrokerStats {
  startedAt: number;
  clientsConnected: number;
  clientsMaximum: number;
  /** Every packet received / sent, any type (mosquitto's messages/received, messages/sent). */
  packetsReceived: number;
  packetsSent: number;
  publishReceived: number;
  publishSent: number;
  /** Messages not delivered because a queue or buffer was full, or the client was offline at QoS 0. */
  publishDropped: number;
  /** Messages whose v5 Message Expiry Interval passed before they could be sent. */
  publishExpired: number;
  /** Times a client's reading was paused for going over its publish rate limit. */
  publishThrottled: number;
  bytesReceived: number;
  bytesSent: number;
  connectionsAccepted: number;
  /** Closed connections by reason. */
  closes: Record<string, number>;
}

export function createStats(now: number): BrokerStats {
  return {
    startedAt: now,
    clientsConnected: 0,
    clientsMaximum: 0,
    packetsReceived: 0,
    packetsSent: 0,
    publishReceived: 0,
    publishSent: 0,
    publishDropped: 0,
    publishExpired: 0,
    publishThrottled: 0,
    bytesReceived: 0,
    bytesSent: 0,
    connectionsAccepted: 0,
    closes: {},
  };
}
