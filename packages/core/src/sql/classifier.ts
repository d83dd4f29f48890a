// SqlClassifier: classifySql behind a bounded LRU keyed by statement shape (shape-key.ts).
import { classifySql } from './classify.js';
import type { Classification } from './facts.js';
import { shapeKey } from './shape-key.js';

export interface SqlClassifierStats {
  hits: number;
  misses: number;
  /** Texts that had no shape key and were parsed outright. */
  uncacheable: number;
  size: number;
}

interface Entry {
  readonly classification: Classification;
  /** Value of the insertion counter when this entry was last (re)inserted. */
  at: number;
}

/**
 * Classifies each distinct statement shape once. The same Classification object comes back for
 * every text of a shape, so callers may cache further work (decide()) by object identity.
 * Failures are not cached: a text that fails to parse is parsed again next time, and so a
 * failure is never served for, or because of, another text of the shape.
 * Call loadSqlParser() before the first classify().
 */
export class SqlClassifier {
  readonly #maxEntries: number;
  readonly #refreshAfter: number;
  // A Map iterates in insertion order, so the first key is the least recently (re)inserted.
  readonly #entries = new Map<string, Entry>();
  #inserted = 0;
  #hits = 0;
  #misses = 0;
  #uncacheable = 0;

  constructor(opts: { maxEntries?: number } = {}) {
    const max = opts.maxEntries ?? 10_000;
    this.#maxEntries = Number.isInteger(max) && max > 0 ? max : 10_000;
    this.#refreshAfter = Math.max(1, Math.floor(this.#maxEntries / 2));
  }

  classify(text: string): Classification {
    const key = shapeKey(text);
    if (key === null) {
      this.#uncacheable++;
      return classifySql(text);
    }
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      this.#hits++;
      // LRU by re-insertion, done lazily: only an entry in the older half of the insertion order
      // moves to the end. Re-inserting on every hit costs more than the whole lookup (V8 compacts
      // a Map's table after deletions), and a hot entry in the newer half cannot be evicted yet.
      if (this.#inserted - entry.at >= this.#refreshAfter) {
        this.#entries.delete(key);
        this.#insert(key, entry);
      }
      return entry.classification;
    }
    this.#misses++;
    const classification = classifySql(text);
    if (classification.ok) {
      if (this.#entries.size >= this.#maxEntries) {
        const oldest = this.#entries.keys().next();
        if (!oldest.done) this.#entries.delete(oldest.value);
      }
      this.#insert(key, { classification, at: 0 });
    }
    return classification;
  }

  stats(): SqlClassifierStats {
    return { hits: this.#hits, misses: this.#misses, uncacheable: this.#uncacheable, size: this.#entries.size };
  }

  #insert(key: string, entry: Entry): void {
    entry.at = ++this.#inserted;
    this.#entries.set(key, entry);
  }
}
