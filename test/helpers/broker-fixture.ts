// An in-memory broker for conformance tests: clients connect through duplex pairs, no sockets.
import { createBroker, type CreateBrokerOptions, type CulexBroker } from '../../src/app/create-broker.js';
import { duplexPair } from './duplex-pair.js';
import { TestClient, type TestClientOptions } from './mqtt-test-client.js';

export interface BrokerFixture {
  broker: CulexBroker;
  /** A new client connected to the broker through an in-memory pair (not yet MQTT-connected). */
  client(options?: TestClientOptions): TestClient;
  close(): Promise<void>;
}

export function memoryBroker(options: CreateBrokerOptions = {}): BrokerFixture {
  const broker = createBroker({ sysInterval: 0, ...options });
  const clients: TestClient[] = [];
  return {
    broker,
    client(clientOptions = {}) {
      const [clientSide, brokerSide] = duplexPair();
      broker.handle(brokerSide, { remoteAddress: '127.0.0.1' });
      const client = new TestClient(clientSide, clientOptions);
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.destroy();
      await broker.close();
    },
  };
}
