// Types of column lineage (lineage.ts): which source columns feed each result column of a statement.

export interface SourceColumn { schema?: string; table: string; column: string }

export interface WholeRow { schema?: string; table: string }

export interface ResultColumnLineage {
  /** Output column name as the parse tree gives it (alias, column or function name); advisory. */
  name: string;
  /** Base-table columns whose values flow into this output column, through any expression. */
  sources: SourceColumn[];
  /** Tables whose whole row flows in (row_to_json(c), c, c.* inside a function, to_jsonb(t)…). */
  wholeRows: WholeRow[];
  /**
   * Every value of this column is, unchanged, the value of one of `sources` (a plain reference,
   * maybe renamed; several sources when arms of a UNION or a JOIN … USING merge). Never true
   * with wholeRows or `unknown`.
   */
  direct: boolean;
  /**
   * Set when something feeds this column that the parse tree cannot see through (a function that
   * may read tables, a view whose definition is unknown…): treat the column as fed by anything.
   */
  unknown?: string;
}

export type StatementLineage =
  /** One entry per output column, in order; stars are expanded through the catalog. */
  | { kind: 'rows'; columns: ResultColumnLineage[]; writes?: true }
  /** The statement returns no rows (DECLARE … CURSOR: `cursor` is what a FETCH from it returns). */
  | { kind: 'none'; cursor?: { name: string; lineage: StatementLineage } }
  /**
   * Cannot tell: the caller masks every untraced column or refuses the statement. FETCH sets
   * `cursor`, the cursor it reads: a caller that saw its DECLARE can use that lineage instead.
   */
  | { kind: 'unknown'; reason: string; writes?: true; cursor?: string };

/*
 * `writes`: the statement's rows come (or may come) from a data-modifying statement — RETURNING
 * of INSERT/UPDATE/DELETE/MERGE, a data-modifying CTE, or EXECUTE of a prepared statement. The
 * server then attributes a RETURNING column to the written table's column (RowDescription's table
 * OID) even when the value written into it came from elsewhere (`UPDATE t SET note = c.email …
 * RETURNING note`): the origin it reports must not be trusted; use this lineage for every column.
 */

/**
 * What the parse tree cannot know, asked of the caller (which has the catalog). Results are
 * cached per catalog object (LineageAnalyzer), so pass a new object when the schema changes.
 * `schema` is undefined for an unqualified name: resolve it with the session's search_path.
 */
export interface LineageCatalog {
  /**
   * Column names of a table, view or other relation in attribute order (dropped columns left
   * out), or undefined when unknown. Needed to expand `*`, to resolve unqualified column names
   * among several tables, and for NATURAL joins; without it those resolve conservatively or the
   * statement is `unknown`.
   */
  columns(schema: string | undefined, table: string): readonly string[] | undefined;
  /**
   * A view's definition (pg_get_viewdef's text) when `table` is a view, else undefined. When
   * given, a view's columns are traced to the base tables of its definition; when absent the
   * view is reported as a table (sources name the view).
   */
  viewDefinition?(schema: string | undefined, table: string): string | undefined;
  /**
   * Whether a function computes its result from its arguments alone (true for PostgreSQL's own
   * functions, except those that run queries: see TABLE_READING_FUNCTIONS). undefined = use the
   * built-in list of known pure functions. A function not known pure makes its column `unknown`.
   */
  functionIsPure?(schema: string | undefined, name: string): boolean | undefined;
}
