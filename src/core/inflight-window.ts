// A session's outgoing QoS 1/2 packets in flight, by packet id and in send order. It has
// the part of the Map API the broker uses, but none of a Map's garbage-collector trouble.
//
// Why not a Map: a busy QoS 1 subscriber adds and deletes hundreds of entries per event-loop
// turn, so V8 rehashes the Map's backing table every few hundred operations. Once that
// table is in the old generation (after any full GC, which promotes what the young
// generation holds), every new table is allocated there too, and each dead table still
// points at the deliveries it held. The scavenger takes those pointers as roots until the
// next full GC, so every delivery, message and payload copy survives and is promoted:
// fan-in at QoS 1 fell to about half speed for the rest of the process (bench/ANALYSIS.md).
//
// Here the entries sit in a ring in send order whose slot is cleared when the entry leaves,
// and the id -> slot index holds only integers (typed arrays). Neither is reallocated
// except to grow, so nothing stale points at a finished delivery.
import type { OutgoingInflight } from './session-state.js';

const MIN_CAPACITY = 8;
// shared by every empty window (idle sessions cost one small object); never written to
const NO_ENTRIES: readonly OutgoingInflight[] = [];
const NO_IDS = new Uint16Array(0);
const NO_SLOTS = new Int32Array(0);

export class InflightWindow {
  /** Entries in send order from #head; undefined where one left out of order. */
  #ring: (OutgoingInflight | undefined)[] = NO_ENTRIES as OutgoingInflight[];
  /** Packet id of each ring slot (0 = none). */
  #ids = NO_IDS;
  #head = 0;
  /** Slots from #head to the newest entry, holes included. */
  #span = 0;
  #size = 0;
  /**
   * Open addressing (linear probing, Fibonacci hashing) from packet id to ring slot; key
   * 0 = empty. Twice the ring's size, so at most half full. (Hashing the id itself would put
   * the sequential ids in one long run, and deleting the oldest would then walk all of it.)
   */
  #keys = NO_IDS;
  #slots = NO_SLOTS;
  /** 32 - log2(#keys.length): the hash is the top bits of id * 2^32/phi. */
  #shift = 32;

  get size(): number {
    return this.#size;
  }

  get(packetId: number): OutgoingInflight | undefined {
    const at = this.#find(packetId);
    return at < 0 ? undefined : this.#ring[this.#slots[at] as number];
  }

  has(packetId: number): boolean {
    return this.#find(packetId) >= 0;
  }

  /** Adds an entry after the newest one; an id already present keeps its place (as a Map). */
  set(packetId: number, entry: OutgoingInflight): this {
    if (!(packetId >= 1 && packetId <= 0xffff)) throw new RangeError(`packet id ${packetId} outside 1..65535`);
    if (this.#span === this.#ring.length) this.#makeRoom();
    // one probe run finds either the id (replace) or the free index position for it
    const keys = this.#keys;
    const mask = keys.length - 1;
    let at = hash(packetId, this.#shift);
    for (let key = keys[at] as number; key !== 0; key = keys[at] as number) {
      if (key === packetId) {
        this.#ring[this.#slots[at] as number] = entry;
        return this;
      }
      at = (at + 1) & mask;
    }
    const slot = (this.#head + this.#span) & (this.#ring.length - 1);
    this.#ring[slot] = entry;
    this.#ids[slot] = packetId;
    this.#span++;
    this.#size++;
    keys[at] = packetId;
    this.#slots[at] = slot;
    return this;
  }

  delete(packetId: number): boolean {
    const at = this.#find(packetId);
    if (at < 0) return false;
    const slot = this.#slots[at] as number;
    this.#unindex(at);
    this.#ring[slot] = undefined;
    this.#ids[slot] = 0;
    this.#size--;
    if (slot === this.#head) {
      // the oldest left: skip the holes that later ones left behind it
      const mask = this.#ring.length - 1;
      let head = this.#head;
      let span = this.#span;
      do {
        head = (head + 1) & mask;
        span--;
      } while (span > 0 && this.#ring[head] === undefined);
      this.#head = span === 0 ? 0 : head;
      this.#span = span;
    }
    return true;
  }

  clear(): void {
    this.#ring.fill(undefined);
    this.#ring = NO_ENTRIES as OutgoingInflight[];
    this.#ids = this.#keys = NO_IDS;
    this.#slots = NO_SLOTS;
    this.#shift = 32;
    this.#head = this.#span = this.#size = 0;
  }

  /** The entries in send order (a snapshot: the window may change while it is walked). */
  values(): IterableIterator<OutgoingInflight> {
    return this.#size === 0 ? NO_ENTRIES.values() : this.#ordered().values();
  }

  [Symbol.iterator](): IterableIterator<OutgoingInflight> {
    return this.values();
  }

  #ordered(): OutgoingInflight[] {
    const out: OutgoingInflight[] = [];
    const ring = this.#ring;
    const mask = ring.length - 1;
    for (let i = 0; i < this.#span; i++) {
      const entry = ring[(this.#head + i) & mask];
      if (entry !== undefined) out.push(entry);
    }
    return out;
  }

  /**
   * The ring is full from head to tail: compact it in place when at least half of it is
   * holes, else double it (at most 131072 slots, as at most 65535 ids are in flight).
   */
  #makeRoom(): void {
    const old = this.#ring;
    const oldIds = this.#ids;
    const mask = old.length - 1;
    const capacity = old.length === 0 ? MIN_CAPACITY : this.#size <= old.length >>> 1 ? old.length : old.length * 2;
    const entries: OutgoingInflight[] = [];
    const ids: number[] = [];
    for (let i = 0; i < this.#span; i++) {
      const slot = (this.#head + i) & mask;
      const entry = old[slot];
      if (entry === undefined) continue;
      entries.push(entry);
      ids.push(oldIds[slot] as number);
    }
    if (capacity === old.length) {
      // same size: reuse the arrays, so no discarded copy keeps pointing at live entries
      old.fill(undefined);
      oldIds.fill(0);
    } else {
      this.#ring = new Array<OutgoingInflight | undefined>(capacity).fill(undefined);
      this.#ids = new Uint16Array(capacity);
      this.#keys = new Uint16Array(capacity * 2);
      this.#slots = new Int32Array(capacity * 2);
      this.#shift = 32 - Math.log2(capacity * 2);
      // the old ring is garbage now: clear it so it pins nothing should it be in the old generation
      old.fill(undefined);
    }
    const ring = this.#ring;
    this.#keys.fill(0);
    for (let i = 0; i < entries.length; i++) {
      ring[i] = entries[i];
      this.#ids[i] = ids[i] as number;
      this.#index(ids[i] as number, i);
    }
    this.#head = 0;
    this.#span = entries.length;
  }

  #find(packetId: number): number {
    const keys = this.#keys;
    if (keys.length === 0) return -1;
    const mask = keys.length - 1;
    let at = hash(packetId, this.#shift);
    for (;;) {
      const key = keys[at] as number;
      if (key === packetId) return at;
      if (key === 0) return -1;
      at = (at + 1) & mask;
    }
  }

  #index(packetId: number, slot: number): void {
    const keys = this.#keys;
    const mask = keys.length - 1;
    let at = hash(packetId, this.#shift);
    while (keys[at] !== 0) at = (at + 1) & mask;
    keys[at] = packetId;
    this.#slots[at] = slot;
  }

  /** Removes index position `at`, moving later members of its probe run back (no tombstones). */
  #unindex(at: number): void {
    const keys = this.#keys;
    const slots = this.#slots;
    const mask = keys.length - 1;
    const shift = this.#shift;
    let hole = at;
    let next = at;
    for (;;) {
      next = (next + 1) & mask;
      const key = keys[next] as number;
      if (key === 0) break;
      const home = hash(key, shift);
      // the key at `next` may fill the hole only if its home is not cyclically in (hole, next]
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      keys[hole] = key;
      slots[hole] = slots[next] as number;
      hole = next;
    }
    keys[hole] = 0;
  }
}

function hash(packetId: number, shift: number): number {
  return Math.imul(packetId, 0x9e3779b1) >>> shift;
}
