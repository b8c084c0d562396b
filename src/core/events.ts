// Typed broker events for embedders (and later the event handlers of notify/).
import { EventEmitter } from 'node:events';
import type { Subscription } from '../protocol/types.js';
import type { CloseReason } from './errors.js';
import type { Message } from './message.js';

export interface ClientInfo {
  clientId: string;
  username: string | undefined;
  protocolVersion: number;
  remoteAddress: string | undefined;
}

export interface BrokerEventMap {
  clientConnected: [client: ClientInfo, sessionPresent: boolean];
  clientDisconnected: [client: ClientInfo, reason: CloseReason];
  /** A connection that ended, connected or not, with its reason (and error text if any). */
  connectionClosed: [info: { remoteAddress: string | undefined; clientId: string | undefined; reason: CloseReason; detail?: string }];
  publish: [message: Message, client: ClientInfo | undefined];
  subscribe: [subscriptions: Subscription[], client: ClientInfo];
  unsubscribe: [topicFilters: string[], client: ClientInfo];
}

/** EventEmitter with the event names and argument lists checked. */
export class BrokerEvents extends EventEmitter {
  override on<K extends keyof BrokerEventMap>(event: K, listener: (...args: BrokerEventMap[K]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }
  override once<K extends keyof BrokerEventMap>(event: K, listener: (...args: BrokerEventMap[K]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }
  override off<K extends keyof BrokerEventMap>(event: K, listener: (...args: BrokerEventMap[K]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }
  override emit<K extends keyof BrokerEventMap>(event: K, ...args: BrokerEventMap[K]): boolean {
    return super.emit(event, ...args);
  }
}
