// What the classifier learns about SQL text: the facts policy matches on.
import type { StatementKind } from './kinds.js';

/** One top-level statement of a query string, with everything nested in it folded in. */
export interface StatementFacts {
  /** The top-level kind first, then every kind nested inside (CTEs, sub-queries, EXPLAIN, PREPARE…). */
  kinds: StatementKind[];
  /** Relations read or written, lower-cased as PostgreSQL folds them, `schema.table` when qualified. */
  tables: string[];
  /** Functions called, lower-cased, `schema.fn` when qualified. */
  functions: string[];
}

export type Classification =
  | { ok: true; statements: StatementFacts[] }
  /** The parser refused the text or the classifier met a node it does not know: fail closed. */
  | { ok: false; error: string };
