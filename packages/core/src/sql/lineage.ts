// Column lineage from PostgreSQL's parse tree: which source columns feed each result column of
// a statement, so that results the server does not attribute to a table column can be masked.
// The rules are in packages/core/README.md ("Column lineage").
import { parseSync } from 'libpg-query';
import { cannotTell, isObject, list, str, unwrap, type Ctx } from './lineage-expr.js';
import { namedRel } from './lineage-from.js';
import { queryCols, stmtCols } from './lineage-query.js';
import { LineageUnknown, emptyLin, toResult, unknownLin, type OutCol } from './lineage-scope.js';
import type { LineageCatalog, StatementLineage } from './lineage-types.js';

export type { LineageCatalog, ResultColumnLineage, SourceColumn, StatementLineage, WholeRow } from './lineage-types.js';

/** Views defined through views…: deeper than this is refused rather than followed. */
const MAX_VIEW_DEPTH = 16;

export type ParsedSql = { ok: true; tree: unknown } | { ok: false; error: string };

/** Parses like classifySql (call loadSqlParser() first); never throws. */
export function parseSql(sql: string): ParsedSql {
  if (sql.includes('\0')) return { ok: false, error: 'statement text contains a NUL character' };
  try {
    return { ok: true, tree: parseSync(sql) };
  } catch (err) {
    const message = err instanceof Error ? err.message : 'unparseable statement';
    const cut = message.indexOf(' at or near ');
    return { ok: false, error: cut === -1 ? message : message.slice(0, cut) };
  }
}

/**
 * Lineage of each statement of a query string, in the order classifySql lists them. Text that
 * does not parse gives one `unknown` entry. Without a catalog, `*` over a table is `unknown` and
 * an unqualified column among several tables counts as coming from any of them.
 */
export function resultLineage(sql: string, catalog?: LineageCatalog): StatementLineage[] {
  if (sql.length === 0) return [];
  const parsed = parseSql(sql);
  // Unparsed: it may be anything, a write included.
  if (!parsed.ok) return [{ kind: 'unknown', reason: parsed.error, writes: true }];
  return lineageOfTree(parsed.tree, catalog);
}

/** resultLineage of an already parsed tree (libpg-query's JSON). */
export function lineageOfTree(tree: unknown, catalog?: LineageCatalog): StatementLineage[] {
  const stmts = isObject(tree) ? tree['stmts'] : undefined;
  if (stmts === undefined) return [];
  if (!Array.isArray(stmts)) return [{ kind: 'unknown', reason: 'parse tree without a statement list', writes: true }];
  const ctx = makeCtx(catalog, 0, new Map());
  return stmts.map((raw) => statementLineage(isObject(raw) ? raw['stmt'] : undefined, ctx));
}

/**
 * The cursors a text declares (`DECLARE name CURSOR FOR query`), each with its query's lineage:
 * the columns a later `FETCH … FROM name` returns (resultLineage says `unknown` for FETCH, which
 * does not name the query). psql with FETCH_COUNT set reads every result this way.
 */
export function declaredCursors(sql: string, catalog?: LineageCatalog): { name: string; lineage: StatementLineage }[] {
  const parsed = parseSql(sql);
  if (!parsed.ok) return [];
  const ctx = makeCtx(catalog, 0, new Map());
  const out: { name: string; lineage: StatementLineage }[] = [];
  for (const raw of isObject(parsed.tree) ? list(parsed.tree['stmts']) : []) {
    const w = unwrap(isObject(raw) ? raw['stmt'] : undefined);
    const name = w?.type === 'DeclareCursorStmt' ? str(w.node['portalname']) : undefined;
    if (w !== undefined && name !== undefined) out.push({ name, lineage: statementLineage(w.node['query'], ctx) });
  }
  return out;
}

/** The cursor name statement `index` of `sql` declares (DECLARE name CURSOR …), if it is one. */
export function declaredCursorName(sql: string, index: number): string | undefined {
  const parsed = parseSql(sql);
  if (!parsed.ok || !isObject(parsed.tree)) return undefined;
  const raw = list(parsed.tree['stmts'])[index];
  const w = unwrap(isObject(raw) ? raw['stmt'] : undefined);
  return w?.type === 'DeclareCursorStmt' ? str(w.node['portalname']) : undefined;
}

function makeCtx(catalog: LineageCatalog | undefined, viewDepth: number, views: Map<string, OutCol[]>): Ctx {
  const ctx: Ctx = {
    catalog,
    viewDepth,
    stmtCols: (stmt, scope, env) => stmtCols(stmt, scope, env, ctx),
    viewCols: (schema, name) => viewCols(schema, name, ctx, views),
  };
  return ctx;
}

/** A view's columns: its definition's lineage, named by the catalog's column list. */
function viewCols(schema: string | undefined, name: string, ctx: Ctx, views: Map<string, OutCol[]>): OutCol[] | undefined {
  const definition = ctx.catalog?.viewDefinition?.(schema, name);
  if (definition === undefined) return undefined;
  const key = `${ctx.viewDepth}\0${schema ?? ''}\0${name}`;
  const memo = views.get(key);
  if (memo !== undefined) return memo;
  if (ctx.viewDepth >= MAX_VIEW_DEPTH) cannotTell(`views nest deeper than ${MAX_VIEW_DEPTH}`);
  const attnames = ctx.catalog?.columns(schema, name);
  let cols: OutCol[];
  try {
    const parsed = parseSql(definition);
    if (!parsed.ok) cannotTell(parsed.error);
    const stmts = isObject(parsed.tree) ? list(parsed.tree['stmts']) : [];
    const only = stmts.length === 1 && isObject(stmts[0]) ? stmts[0]['stmt'] : cannotTell('not one statement');
    cols = stmtCols(only, [], undefined, makeCtx(ctx.catalog, ctx.viewDepth + 1, views));
    if (attnames !== undefined) cols = cols.map((c, i) => ({ name: attnames[i] ?? c.name, lin: c.lin }));
  } catch (err) {
    if (!(err instanceof LineageUnknown) || attnames === undefined) throw err;
    cols = attnames.map((n) => ({ name: n, lin: unknownLin(`view ${name}: ${err.message}`) }));
  }
  views.set(key, cols);
  return cols;
}

const NONE: StatementLineage = { kind: 'none' };

function rows(cols: OutCol[]): StatementLineage {
  return { kind: 'rows', columns: cols.map((c) => toResult(c.name, c.lin)) };
}

/** Node types that write data, or may (EXECUTE runs a statement this text does not show). */
const WRITING = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt', 'ExecuteStmt']);

/** Whether any node beneath `value` is a data-modifying statement (iterative: deep trees are fine). */
export function writesData(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) { for (const x of v) if (typeof x === 'object' && x !== null) stack.push(x); continue; }
    if (typeof v !== 'object' || v === null) continue;
    for (const key in v) {
      if (WRITING.has(key)) return true;
      const child = (v as Record<string, unknown>)[key];
      if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
  return false;
}

function statementLineage(stmt: unknown, ctx: Ctx): StatementLineage {
  const r = statementLineageOf(stmt, ctx);
  return r.kind !== 'none' && writesData(stmt) ? { ...r, writes: true } : r;
}

function statementLineageOf(stmt: unknown, ctx: Ctx): StatementLineage {
  try {
    const w = unwrap(stmt) ?? cannotTell('statement is not a parse-tree node');
    const { type, node } = w;
    switch (type) {
      case 'SelectStmt':
        return node['intoClause'] !== undefined ? NONE : rows(queryCols(node, [], undefined, ctx));
      case 'InsertStmt': case 'UpdateStmt': case 'DeleteStmt': case 'MergeStmt': {
        const cols = stmtCols(stmt, [], undefined, ctx);
        return cols.length === 0 ? NONE : rows(cols);
      }
      case 'CopyStmt':
        return copyLineage(node, ctx);
      case 'ExplainStmt':
        // Plan text: expressions as written and estimates, never table values (EXPLAIN ANALYZE
        // runs the statement but discards its rows).
        return rows([{ name: 'QUERY PLAN', lin: emptyLin() }]);
      case 'VariableShowStmt':
        return str(node['name']) === 'all'
          ? rows(['name', 'setting', 'description'].map((n) => ({ name: n, lin: emptyLin() })))
          : rows([{ name: str(node['name']) ?? '?column?', lin: emptyLin() }]);
      case 'FetchStmt': {
        if (node['ismove'] === true) return NONE;
        const cursor = str(node['portalname']);
        const unknown: StatementLineage = { kind: 'unknown', reason: 'FETCH returns rows of a cursor declared by another statement' };
        return cursor === undefined ? unknown : { ...unknown, cursor };
      }
      case 'DeclareCursorStmt': {
        const name = str(node['portalname']);
        return name === undefined ? NONE : { kind: 'none', cursor: { name, lineage: statementLineage(node['query'], ctx) } };
      }
      case 'ExecuteStmt':
        return { kind: 'unknown', reason: 'EXECUTE runs a statement prepared by another statement' };
      case 'CallStmt':
        return { kind: 'unknown', reason: "CALL returns a procedure's output parameters, computed out of sight" };
      default:
        // PostgreSQL's utility statements return rows only for the cases above (UtilityReturnsTuples).
        return NONE;
    }
  } catch (err) {
    if (err instanceof LineageUnknown) return { kind: 'unknown', reason: err.message };
    if (err instanceof RangeError) return { kind: 'unknown', reason: 'statement nests too deeply to analyse' };
    return { kind: 'unknown', reason: `lineage failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** COPY … TO STDOUT sends rows to the client; COPY FROM and COPY TO a file or program do not. */
function copyLineage(node: AstObject, ctx: Ctx): StatementLineage {
  if (node['is_from'] === true || node['is_program'] === true || node['filename'] !== undefined) return NONE;
  if (node['query'] !== undefined) return rows(stmtCols(node['query'], [], undefined, ctx));
  const relation = isObject(node['relation']) ? node['relation'] : cannotTell('COPY without a table or query');
  const name = str(relation['relname']) ?? cannotTell('COPY without a table name');
  const rel = namedRel(str(relation['schemaname']), name, undefined, ctx);
  const attlist = list(node['attlist']).map((a) => str(unwrap(a)?.node['sval']));
  if (attlist.length === 0) {
    return rows(rel.columns() ?? cannotTell(`COPY ${name} needs the catalog's column list`));
  }
  return rows(attlist.map((col) => {
    if (col === undefined) cannotTell('COPY column list with an unreadable name');
    const hit = rel.column(col);
    return { name: col, lin: hit.found === 'absent' ? unknownLin(`${name}.${col} is not a known column`) : hit.lin };
  }));
}

type AstObject = Record<string, unknown>;
