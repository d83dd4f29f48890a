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

/**
 * Classifies each distinct statement shape once. The same Classification object comes back for
 * every text of a shape, so callers may cache further work (decide()) by object identity.
 * Failures are not cached: a text that fails to parse is parsed again next time, and so a
 * failure is never served for, or because of, another text of the shape.
 * Call loadSqlParser() before the first classify().
 */
export class SqlClassifier {
  readonly #maxEntries: number;
  // A Map iterates in insertion order: re-inserting on a hit keeps the oldest entry first.
  readonly #entries = new Map<string, Classification>();
  #hits = 0;
  #misses = 0;
  #uncacheable = 0;

  constructor(opts: { maxEntries?: number } = {}) {
    const max = opts.maxEntries ?? 10_000;
    this.#maxEntries = Number.isInteger(max) && max > 0 ? max : 10_000;
  }

  classify(text: string): Classification {
    const key = shapeKey(text);
    if (key === null) {
      this.#uncacheable++;
      return classifySql(text);
    }
    const cached = this.#entries.get(key);
    if (cached !== undefined) {
      this.#hits++;
      this.#entries.delete(key);
      this.#entries.set(key, cached);
      return cached;
    }
    this.#misses++;
    const result = classifySql(text);
    if (result.ok) {
      if (this.#entries.size >= this.#maxEntries) {
        const oldest = this.#entries.keys().next();
        if (!oldest.done) this.#entries.delete(oldest.value);
      }
      this.#entries.set(key, result);
    }
    return result;
  }

  stats(): SqlClassifierStats {
    return { hits: this.#hits, misses: this.#misses, uncacheable: this.#uncacheable, size: this.#entries.size };
  }
}
