// Retained messages in process memory, indexed by topic level for wildcard look-ups.
import type { Message } from '../../core/message.js';
import type { RetainedStore } from '../../core/ports.js';
import { TopicIndex } from '../../topic/index.js';

export class MemoryRetainedStore implements RetainedStore {
  readonly #index = new TopicIndex<Message>();

  set(message: Message): void {
    this.#index.set(message.topic, message);
  }

  delete(topic: string): void {
    this.#index.delete(topic);
  }

  get(topic: string): Message | undefined {
    return this.#index.get(topic);
  }

  match(filter: string, visit: (message: Message) => void): void {
    this.#index.match(filter, (_topic, message) => visit(message));
  }

  get size(): number {
    return this.#index.size;
  }
}
