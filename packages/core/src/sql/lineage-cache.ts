// LineageAnalyzer: resultLineage behind a bounded LRU keyed by statement shape (shape-key.ts),
// with one result per catalog object, so a hot statement is parsed and analysed once.
import { lineageOfTree, parseSql } from './lineage.js';
import type { LineageCatalog, StatementLineage } from './lineage-types.js';
import { shapeKey } from './shape-key.js';
import { ShapeLru } from './shape-lru.js';

export interface LineageAnalyzerStats {
  hits: number;
  misses: number;
  /** Texts that had no shape key and were analysed outright. */
  uncacheable: number;
  size: number;
}

/** Whether a shape key marks a literal (shape-key.ts uses the control characters 1 to 3). */
function hasLiteral(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c >= 1 && c <= 3) return true;
  }
  return false;
}

interface Entry {
  /** Result without a catalog. */
  bare: readonly StatementLineage[] | undefined;
  /** Results per catalog object: a new catalog (schema change) gets a fresh analysis. */
  readonly byCatalog: WeakMap<LineageCatalog, readonly StatementLineage[]>;
}

/**
 * Lineage does not depend on literal values (they name no column), so every text of a shape
 * shares one result. Only results are kept, never parse trees (which hold the literals). A
 * result is frozen: callers share it. Failures to parse are not cached. Call loadSqlParser() first.
 */
export class LineageAnalyzer {
  readonly #entries: ShapeLru<Entry>;
  // Exact texts seen, to their shape's entry: a repeated text (a prepared statement, an ORM's
  // query) is found with one hash lookup, without computing its shape key.
  readonly #byText = new Map<string, Entry>();
  #hits = 0;
  #misses = 0;
  #uncacheable = 0;

  constructor(opts: { maxEntries?: number } = {}) {
    this.#entries = new ShapeLru(opts.maxEntries);
  }

  /**
   * Lineage of each statement of `text` (see resultLineage). `key` may pass the text's
   * shapeKey when the caller already has it (the classifier computes the same key); a text
   * seen before is found without it.
   */
  lineage(text: string, catalog?: LineageCatalog, key?: string | null): readonly StatementLineage[] {
    const known = this.#byText.get(text);
    if (known !== undefined) {
      const cached = catalog === undefined ? known.bare : known.byCatalog.get(catalog);
      if (cached !== undefined) {
        this.#hits++;
        return cached;
      }
    }
    return this.#lineageByShape(text, catalog, key === undefined ? shapeKey(text) : key);
  }

  #lineageByShape(text: string, catalog: LineageCatalog | undefined, key: string | null): readonly StatementLineage[] {
    if (key === null) {
      this.#uncacheable++;
      return analyse(text, catalog).result;
    }
    const entry = this.#entries.peek(key);
    if (entry !== undefined) {
      const cached = catalog === undefined ? entry.bare : entry.byCatalog.get(catalog);
      if (cached !== undefined) {
        this.#hits++;
        this.#entries.touch(key);
        this.#remember(text, key, entry);
        return cached;
      }
    }
    this.#misses++;
    const { result, parsed } = analyse(text, catalog);
    if (!parsed) return result;
    const target = entry ?? this.#newEntry(key);
    if (catalog === undefined) target.bare = result;
    else target.byCatalog.set(catalog, result);
    this.#remember(text, key, target);
    return result;
  }

  /**
   * Oldest-first eviction; the entry stays valid for its text even once its shape is evicted.
   * Only texts without literals are kept (parameters instead, as prepared statements have):
   * literal values may be secrets, and are not held beyond the statement.
   */
  #remember(text: string, key: string, entry: Entry): void {
    if (this.#byText.get(text) === entry || hasLiteral(key)) return;
    if (this.#byText.size >= this.#entries.maxEntries) {
      const oldest = this.#byText.keys().next();
      if (!oldest.done) this.#byText.delete(oldest.value);
    }
    this.#byText.set(text, entry);
  }

  stats(): LineageAnalyzerStats {
    return { hits: this.#hits, misses: this.#misses, uncacheable: this.#uncacheable, size: this.#entries.size };
  }

  #newEntry(key: string): Entry {
    const entry: Entry = { bare: undefined, byCatalog: new WeakMap() };
    this.#entries.add(key, entry);
    return entry;
  }
}

function analyse(text: string, catalog: LineageCatalog | undefined): { result: readonly StatementLineage[]; parsed: boolean } {
  if (text.length === 0) return { result: Object.freeze([]), parsed: true };
  const parsed = parseSql(text);
  if (!parsed.ok) return { result: deepFreeze([{ kind: 'unknown', reason: parsed.error, writes: true }]), parsed: false };
  return { result: deepFreeze(lineageOfTree(parsed.tree, catalog)), parsed: true };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
