// Whether a function computes its result from its arguments alone, judged from pg_proc for
// masking's lineage (a function that may run queries hides what feeds its result). Pure means:
// PostgreSQL's own functions (pg_catalog, not an extension's) except those that read tables,
// files or changes named by an argument, and functions of a few extensions that only compute.
// Every SQL, PL/pgSQL or other user function stays "not known pure", whatever its volatility
// says (IMMUTABLE is a promise PostgreSQL does not check), and so do user-defined aggregates.
import { TABLE_READING_FUNCTIONS } from '@chaperone/core/sql/lineage-functions';

/** pg_catalog functions that also return data they read (beyond core's TABLE_READING_FUNCTIONS). */
const READS_DATA: ReadonlySet<string> = new Set([
  'pg_logical_slot_get_changes', 'pg_logical_slot_peek_changes',
  'pg_logical_slot_get_binary_changes', 'pg_logical_slot_peek_binary_changes',
  'pg_read_file', 'pg_read_binary_file', 'lo_get', 'loread', 'lo_export',
]);

/** Extensions whose functions compute from their arguments (C code that runs no queries). */
const COMPUTING_EXTENSIONS: ReadonlySet<string> = new Set([
  'pgcrypto', 'citext', 'uuid-ossp', 'fuzzystrmatch', 'unaccent', 'pg_trgm', 'hstore', 'ltree', 'isn',
]);

/** One pg_proc row the session's user could call. */
export interface FunctionRow { schema: string; name: string; kind: string; extension: string | null }

export function isPureFunction(f: FunctionRow): boolean {
  if (TABLE_READING_FUNCTIONS.has(f.name) || READS_DATA.has(f.name)) return false;
  if (f.schema === 'pg_catalog' && f.extension === null) return true;
  return f.extension !== null && COMPUTING_EXTENSIONS.has(f.extension) && f.kind === 'f';
}

/**
 * Purity of a call by name: `schema` given, that schema's functions of the name; unqualified,
 * every function of the name in a schema the user may use (the session's search_path is not
 * known here, and `SET search_path = evil, pg_catalog` puts a user's `lower` first). Pure only
 * when every candidate is; no candidate at all is not pure (the call fails on the server anyway).
 */
export function callIsPure(rows: readonly FunctionRow[], schema: string | undefined): boolean {
  let any = false;
  for (const r of rows) {
    if (schema !== undefined && r.schema !== schema) continue;
    if (!isPureFunction(r)) return false;
    any = true;
  }
  return any;
}

/** The catalog query for the functions named `names` (already SQL literals). */
export function functionsQuery(literals: readonly string[]): string {
  return `SELECT json_build_object('schema', n.nspname, 'name', p.proname, 'kind', p.prokind,
    'ext', (SELECT e.extname FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
            WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'e' LIMIT 1))
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE p.proname IN (${literals.join(', ')})
      AND pg_catalog.has_schema_privilege(n.oid, 'USAGE') AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE')`;
}

export function parseFunctionRow(json: string): FunctionRow | null {
  try {
    const o = JSON.parse(json) as { schema?: unknown; name?: unknown; kind?: unknown; ext?: unknown };
    if (typeof o.schema !== 'string' || typeof o.name !== 'string' || typeof o.kind !== 'string') return null;
    return { schema: o.schema, name: o.name, kind: o.kind, extension: typeof o.ext === 'string' ? o.ext : null };
  } catch {
    return null;
  }
}
