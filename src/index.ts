// Public API of the culex package.
export { createBroker, CulexBroker, type CreateBrokerOptions } from './app/create-broker.js';
export { BrokerApiError, type PublishOptions } from './core/broker.js';
export type { BrokerEventMap, ClientInfo } from './core/events.js';
export type { CloseReason } from './core/errors.js';
export type { AuthMethod, AuthSession, AuthStartContext, AuthStep, Authenticator, Authorizer, Clock, Logger, RetainedStore, SessionStore } from './core/ports.js';
export type { BrokerSettings } from './core/options.js';
export * from './protocol/index.js';
export {
  MemoryScramCredentialStore,
  ScramSha256,
  scramCredentials,
  type ScramCredentialStore,
  type ScramCredentials,
} from './adapters/auth/scram-sha256.js';
