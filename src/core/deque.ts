/** Shared by every empty Deque until its first push (an idle session costs no ring); never written to. */
const NONE: readonly unknown[] = [];

/** A growable ring buffer: O(1) push and shift, unlike Array#shift on long arrays. */
export class Deque<T> {
  #items: (T | undefined)[] = NONE as (T | undefined)[];
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#length) % this.#items.length] = item;
    this.#length++;
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#items.length;
    this.#length--;
    return item;
  }

  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  clear(): void {
    // the old ring goes whole: nothing in it keeps its items alive
    this.#items = NONE as (T | undefined)[];
    this.#head = 0;
    this.#length = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) yield this.#items[(this.#head + i) % this.#items.length] as T;
  }

  #grow(): void {
    const next = new Array<T | undefined>(Math.max(16, this.#items.length * 2));
    for (let i = 0; i < this.#length; i++) next[i] = this.#items[(this.#head + i) % this.#items.length];
    this.#items = next;
    this.#head = 0;
  }
}
