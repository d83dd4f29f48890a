// SqlClassifier: classifySql behind a bounded LRU keyed by statement shape (shape-key.ts).
import { classifySql } from './classify.js';
import type { Classification } from './facts.js';
import { shapeKey } from './shape-key.js';
import { ShapeLru } from './shape-lru.js';

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
  readonly #entries: ShapeLru<Classification>;
  #hits = 0;
  #misses = 0;
  #uncacheable = 0;

  constructor(opts: { maxEntries?: number } = {}) {
    this.#entries = new ShapeLru(opts.maxEntries);
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
      return cached;
    }
    this.#misses++;
    const classification = classifySql(text);
    if (classification.ok) this.#entries.add(key, classification);
    return classification;
  }

  stats(): SqlClassifierStats {
    return { hits: this.#hits, misses: this.#misses, uncacheable: this.#uncacheable, size: this.#entries.size };
  }
}
