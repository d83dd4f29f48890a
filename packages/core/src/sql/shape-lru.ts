// The bounded, lazily refreshed LRU behind the caches keyed by statement shape (SqlClassifier,
// LineageAnalyzer): a hit on the hot path costs one Map lookup.

interface Slot<V> {
  readonly value: V;
  /** Value of the insertion counter when this slot was last (re)inserted. */
  at: number;
}

export class ShapeLru<V> {
  readonly maxEntries: number;
  readonly #refreshAfter: number;
  // A Map iterates in insertion order, so the first key is the least recently (re)inserted.
  readonly #slots = new Map<string, Slot<V>>();
  #inserted = 0;

  /** `maxEntries` that is not a positive integer means the default, 10 000. */
  constructor(maxEntries: number | undefined) {
    const max = maxEntries ?? 10_000;
    this.maxEntries = Number.isInteger(max) && max > 0 ? max : 10_000;
    this.#refreshAfter = Math.max(1, Math.floor(this.maxEntries / 2));
  }

  get size(): number {
    return this.#slots.size;
  }

  /** The value of `key`, counted as a use (see touch). */
  get(key: string): V | undefined {
    const slot = this.#slots.get(key);
    if (slot !== undefined) this.#refresh(key, slot);
    return slot?.value;
  }

  /** The value of `key`, not counted as a use. */
  peek(key: string): V | undefined {
    return this.#slots.get(key)?.value;
  }

  /** Counts a use of `key` (a caller that peeked and found what it needed). */
  touch(key: string): void {
    const slot = this.#slots.get(key);
    if (slot !== undefined) this.#refresh(key, slot);
  }

  /** Adds a key not present, evicting the least recently used one when full. */
  add(key: string, value: V): void {
    if (this.#slots.size >= this.maxEntries) {
      const oldest = this.#slots.keys().next();
      if (!oldest.done) this.#slots.delete(oldest.value);
    }
    this.#insert(key, { value, at: 0 });
  }

  // LRU by re-insertion, done lazily: only a slot in the older half of the insertion order
  // moves to the end. Re-inserting on every hit costs more than the whole lookup (V8 compacts
  // a Map's table after deletions), and a hot slot in the newer half cannot be evicted yet.
  #refresh(key: string, slot: Slot<V>): void {
    if (this.#inserted - slot.at >= this.#refreshAfter) {
      this.#slots.delete(key);
      this.#insert(key, slot);
    }
  }

  #insert(key: string, slot: Slot<V>): void {
    slot.at = ++this.#inserted;
    this.#slots.set(key, slot);
  }
}
