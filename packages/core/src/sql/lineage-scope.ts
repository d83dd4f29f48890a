// Lineage values and the relations of a FROM clause that column references resolve against.
import type { ResultColumnLineage, SourceColumn, WholeRow } from './lineage-types.js';

/** Lineage while it is built: sets keyed by qualified name, in first-seen order. */
export interface Lin {
  readonly sources: Map<string, SourceColumn>;
  readonly wholeRows: Map<string, WholeRow>;
  direct: boolean;
  unknown?: string;
}

/** A statement-level "cannot tell", thrown inside the analysis and caught per statement. */
export class LineageUnknown extends Error {}

export function emptyLin(): Lin {
  return { sources: new Map(), wholeRows: new Map(), direct: false };
}

export function sourceLin(schema: string | undefined, table: string, column: string): Lin {
  const lin = emptyLin();
  const source: SourceColumn = schema === undefined ? { table, column } : { schema, table, column };
  lin.sources.set(`${schema ?? ''}.${table}.${column}`, source);
  lin.direct = true;
  return lin;
}

export function wholeRowLin(schema: string | undefined, table: string): Lin {
  const lin = emptyLin();
  lin.wholeRows.set(`${schema ?? ''}.${table}`, schema === undefined ? { table } : { schema, table });
  return lin;
}

export function unknownLin(reason: string): Lin {
  const lin = emptyLin();
  lin.unknown = reason;
  return lin;
}

/** Adds `from` into `into` (a union); `into` stays direct only if both are. */
export function mergeInto(into: Lin, from: Lin): Lin {
  for (const [k, v] of from.sources) into.sources.set(k, v);
  for (const [k, v] of from.wholeRows) into.wholeRows.set(k, v);
  into.direct = into.direct && from.direct;
  if (into.unknown === undefined && from.unknown !== undefined) into.unknown = from.unknown;
  return into;
}

/** Union of several lineages as a computed (not direct) value. */
export function derived(parts: Iterable<Lin>): Lin {
  const lin = emptyLin();
  for (const part of parts) mergeInto(lin, part);
  lin.direct = false;
  return lin;
}

/** Union of alternatives (UNION arms, JOIN USING sides): direct when every alternative is. */
export function alternatives(parts: Lin[]): Lin {
  const lin = emptyLin();
  lin.direct = parts.length > 0;
  for (const part of parts) mergeInto(lin, part);
  return lin;
}

export function copyLin(lin: Lin): Lin {
  const copy: Lin = { sources: new Map(lin.sources), wholeRows: new Map(lin.wholeRows), direct: lin.direct };
  if (lin.unknown !== undefined) copy.unknown = lin.unknown;
  return copy;
}

export function toResult(name: string, lin: Lin): ResultColumnLineage {
  const out: ResultColumnLineage = {
    name,
    sources: [...lin.sources.values()],
    wholeRows: [...lin.wholeRows.values()],
    direct: lin.direct && lin.wholeRows.size === 0 && lin.unknown === undefined && lin.sources.size > 0,
  };
  if (lin.unknown !== undefined) out.unknown = lin.unknown;
  return out;
}

/** A stable text of a lineage, to detect the fixpoint of a recursive CTE. */
export function linKey(lin: Lin): string {
  return `${[...lin.sources.keys()].sort().join(',')}|${[...lin.wholeRows.keys()].sort().join(',')}|${lin.direct}|${lin.unknown ?? ''}`;
}

export interface OutCol { name: string; lin: Lin }

/** How a relation answers for a column name. 'absent' is only given when its columns are known. */
export type ColLookup = { found: 'yes' | 'maybe'; lin: Lin } | { found: 'absent' };

/** Something rows come from: a table, a sub-query, a CTE, a function, a join. */
export interface Rel {
  /** Output columns in order, or undefined when the parse tree and catalog cannot tell. */
  columns(): OutCol[] | undefined;
  column(name: string): ColLookup;
  /** The lineage of the whole row (`c`, `c.*` inside an expression). */
  whole(): Lin;
}

/** A relation whose columns are known with their lineages (sub-query, CTE, VALUES, view). */
export function derivedRel(cols: OutCol[]): Rel {
  return {
    columns: () => cols,
    column(name) {
      const hits = cols.filter((c) => c.name === name);
      if (hits.length === 0) return { found: 'absent' };
      return { found: 'yes', lin: alternatives(hits.map((h) => copyLin(h.lin))) };
    },
    whole: () => derived(cols.map((c) => c.lin)),
  };
}

/** PostgreSQL's system columns: row versions and locations, never user data (no user column may take these names). */
const SYSTEM_COLUMNS: ReadonlySet<string> = new Set(['ctid', 'xmin', 'xmax', 'cmin', 'cmax', 'tableoid']);

/** A base table, with its column names when the catalog knows them. */
export function tableRel(schema: string | undefined, table: string, names: readonly string[] | undefined): Rel {
  return {
    columns: () => names?.map((n) => ({ name: n, lin: sourceLin(schema, table, n) })),
    column(name) {
      if (SYSTEM_COLUMNS.has(name)) return { found: 'yes', lin: emptyLin() };
      if (names === undefined) return { found: 'maybe', lin: sourceLin(schema, table, name) };
      return names.includes(name) ? { found: 'yes', lin: sourceLin(schema, table, name) } : { found: 'absent' };
    },
    whole: () => wholeRowLin(schema, table),
  };
}

/** A relation with column names from an alias list `AS x(a, b)`: the first names are replaced. */
export function renamedRel(inner: Rel, aliases: string[]): Rel {
  if (aliases.length === 0) return inner;
  const cols = inner.columns();
  if (cols !== undefined) {
    return derivedRel(cols.map((c, i) => ({ name: aliases[i] ?? c.name, lin: c.lin })));
  }
  // Positions unknown: an aliased name may be any column, so it stands for the whole row.
  return {
    columns: () => undefined,
    column(name) {
      if (aliases.includes(name)) return { found: 'yes', lin: derived([inner.whole()]) };
      return inner.column(name);
    },
    whole: () => inner.whole(),
  };
}

/** One FROM item as name lookup sees it. */
export interface NsItem {
  /** The name a qualified reference uses (alias, or table name); undefined for an alias-less join. */
  refname: string | undefined;
  /** For a base table without alias, its schema (for `schema.table.column`). */
  schema: string | undefined;
  rel: Rel;
  /** Visible to qualified references `refname.col`. */
  relVisible: boolean;
  /** Visible to unqualified column names. */
  colsVisible: boolean;
}

/** One query level's FROM namespace; `stars` are the top-level items `*` expands, in order. */
export interface Level {
  items: NsItem[];
  stars: Rel[];
}

/** Scopes from outermost to innermost. */
export type Scope = readonly Level[];
