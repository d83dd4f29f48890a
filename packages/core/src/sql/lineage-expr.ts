// Lineage of expressions: which columns a value is computed from, and PostgreSQL's rules for
// resolving a column reference against the FROM namespaces of the current and outer queries.
import type { AstObject } from './node-kinds.js';
import { TABLE_READING_FUNCTIONS, isKnownPure } from './lineage-functions.js';
import {
  alternatives, copyLin, derived, emptyLin, unknownLin, LineageUnknown,
  type Lin, type NsItem, type OutCol, type Scope,
} from './lineage-scope.js';
import type { LineageCatalog } from './lineage-types.js';

/** A CTE name → its output columns, or 'pending' while a WITH RECURSIVE is being analysed. */
export interface CteEnv {
  readonly parent: CteEnv | undefined;
  readonly map: Map<string, OutCol[] | 'pending'>;
}

/** What every step of the analysis needs; `stmtCols` breaks the cycle expression ↔ query. */
export interface Ctx {
  readonly catalog: LineageCatalog | undefined;
  readonly viewDepth: number;
  stmtCols(stmt: unknown, scope: Scope, env: CteEnv | undefined): OutCol[];
  /** A view's columns traced through its definition, or undefined when not a (known) view. */
  viewCols(schema: string | undefined, name: string): OutCol[] | undefined;
}

export function isObject(value: unknown): value is AstObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `{Type: {...}}` → its type and fields; undefined for a plain struct or a non-object. */
export function unwrap(value: unknown): { type: string; node: AstObject } | undefined {
  if (!isObject(value)) return undefined;
  const keys = Object.keys(value);
  const key = keys[0];
  if (keys.length !== 1 || key === undefined || !/^[A-Z]/.test(key)) return undefined;
  const node = value[key];
  return isObject(node) ? { type: key, node } : undefined;
}

export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** `[{String:{sval:'a'}}, …]` → ['a', …]; a non-String element gives undefined in its place. */
export function names(value: unknown): (string | undefined)[] {
  return list(value).map((item) => {
    const w = unwrap(item);
    return w?.type === 'String' ? str(w.node['sval']) : undefined;
  });
}

export function definedNames(value: unknown): string[] {
  return names(value).filter((n): n is string => n !== undefined);
}

/** Lineage of an expression evaluated in `scope` (innermost level last). */
export function exprLin(value: unknown, scope: Scope, env: CteEnv | undefined, ctx: Ctx): Lin {
  if (Array.isArray(value)) return derived(value.map((v) => exprLin(v, scope, env, ctx)));
  if (!isObject(value)) return emptyLin();
  const w = unwrap(value);
  if (w === undefined) return genericLin(value, scope, env, ctx);
  const { type, node } = w;
  switch (type) {
    case 'ColumnRef':
      return columnRefLin(node, scope);
    case 'A_Const': case 'ParamRef': case 'SQLValueFunction': case 'SetToDefault': case 'CurrentOfExpr':
    case 'GroupingFunc': case 'String': case 'Integer': case 'Float': case 'Boolean': case 'BitString':
    case 'TypeName': case 'A_Star':
      return emptyLin();
    case 'FuncCall':
      return funcLin(node, scope, env, ctx);
    case 'SubLink':
      return subLinkLin(node, scope, env, ctx);
    case 'SelectStmt': case 'InsertStmt': case 'UpdateStmt': case 'DeleteStmt': case 'MergeStmt':
      return derived(ctx.stmtCols(value, scope, env).map((c) => c.lin));
    default:
      return genericLin(node, scope, env, ctx);
  }
}

/** Any other node: computed from everything beneath it (an over-approximation, never an under-). */
function genericLin(node: AstObject, scope: Scope, env: CteEnv | undefined, ctx: Ctx): Lin {
  const parts: Lin[] = [];
  for (const key of Object.keys(node)) {
    const child = node[key];
    if (typeof child === 'object' && child !== null) parts.push(exprLin(child, scope, env, ctx));
  }
  return derived(parts);
}

function funcLin(node: AstObject, scope: Scope, env: CteEnv | undefined, ctx: Ctx): Lin {
  // Only the arguments are values; agg_order, agg_filter and the window clause choose rows.
  // Except WITHIN GROUP (ORDER BY x): there x is what an ordered-set aggregate returns or ranks
  // (`mode() WITHIN GROUP (ORDER BY email)` is an e-mail address).
  const args = node['agg_within_group'] === true ? [...list(node['args']), ...list(node['agg_order'])] : list(node['args']);
  const lin = derived(args.map((a) => exprLin(a, scope, env, ctx)));
  const parts = names(node['funcname']);
  const name = parts[parts.length - 1];
  const schema = parts.length > 1 ? parts[parts.length - 2] : undefined;
  if (name === undefined) return mergeUnknown(lin, 'a function with an unreadable name');
  const qualified = schema === undefined ? name : `${schema}.${name}`;
  if (TABLE_READING_FUNCTIONS.has(name)) return mergeUnknown(lin, `function ${qualified} reads data the statement does not name`);
  const pure = ctx.catalog?.functionIsPure?.(schema, name) ?? isKnownPure(schema, name);
  if (!pure) return mergeUnknown(lin, `function ${qualified} is not known to compute from its arguments alone`);
  return lin;
}

function mergeUnknown(lin: Lin, reason: string): Lin {
  if (lin.unknown === undefined) lin.unknown = reason;
  lin.direct = false;
  return lin;
}

function subLinkLin(node: AstObject, scope: Scope, env: CteEnv | undefined, ctx: Ctx): Lin {
  const kind = str(node['subLinkType']);
  const test = node['testexpr'] === undefined ? emptyLin() : exprLin(node['testexpr'], scope, env, ctx);
  // EXISTS yields a boolean chosen by the sub-query's WHERE: rows are filtered, no value flows.
  if (kind === 'EXISTS_SUBLINK') return derived([test]);
  const cols = ctx.stmtCols(node['subselect'], scope, env);
  if (kind === 'EXPR_SUBLINK' && cols.length === 1 && cols[0] !== undefined) return copyLin(cols[0].lin);
  return derived([test, ...cols.map((c) => c.lin)]);
}

/** Resolves a ColumnRef the way PostgreSQL's transformColumnRef does, conservatively. */
export function columnRefLin(node: AstObject, scope: Scope): Lin {
  const fields = list(node['fields']);
  const last = unwrap(fields[fields.length - 1]);
  const parts = names(fields);
  if (last?.type === 'A_Star') {
    // `c.*` (or `*`) inside an expression: the whole row.
    const qual = parts.slice(0, -1);
    if (qual.length === 0) return derived(innermostItems(scope).map((i) => i.rel.whole()));
    const item = findRel(qual, scope);
    return item === undefined ? unknownLin(`no FROM item named ${qual.join('.')}`) : item.rel.whole();
  }
  if (parts.some((p) => p === undefined)) return unknownLin('a column reference with an unreadable part');
  const ps = parts as string[];
  if (ps.length === 1) return singleName(ps[0] as string, scope);
  if (ps.length >= 2 && ps.length <= 4) {
    // [t, c], [s, t, c], [db, s, t, c]: the database name is the current one or an error.
    const col = ps[ps.length - 1] as string;
    const item = findRel(ps.slice(Math.max(0, ps.length - 3), -1), scope);
    if (item !== undefined) {
      const hit = item.rel.column(col);
      if (hit.found !== 'absent') return hit.lin;
      return unknownLin(`${ps.join('.')} names no known column`);
    }
    // `a.b` with no relation `a`: field b of a composite column a (PostgreSQL tries that next).
    const prefix = columnRefLin({ fields: fields.slice(0, -1) }, scope);
    return derived([prefix]);
  }
  return unknownLin(`column reference ${ps.join('.')} has too many parts`);
}

function innermostItems(scope: Scope): NsItem[] {
  return scope[scope.length - 1]?.items ?? [];
}

/** The FROM item a qualifier names: [table] or [schema, table], innermost query level first. */
export function findRel(qual: (string | undefined)[], scope: Scope): NsItem | undefined {
  const table = qual[qual.length - 1];
  const schema = qual.length > 1 ? qual[qual.length - 2] : undefined;
  for (let l = scope.length - 1; l >= 0; l--) {
    const items = scope[l]?.items ?? [];
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i] as NsItem;
      if (!item.relVisible || item.refname !== table) continue;
      if (schema !== undefined && item.schema !== undefined && item.schema !== schema) continue;
      return item;
    }
  }
  return undefined;
}

/**
 * An unqualified name: a column of the nearest query level that has one (PostgreSQL's
 * colNameToVar), else a whole-row reference to a FROM item of that name. A table whose columns
 * are unknown "maybe" has the column: it counts as a candidate, and outer levels are searched too.
 */
function singleName(name: string, scope: Scope): Lin {
  const candidates: Lin[] = [];
  for (let l = scope.length - 1; l >= 0; l--) {
    let definite = false;
    for (const item of scope[l]?.items ?? []) {
      if (!item.colsVisible) continue;
      const hit = item.rel.column(name);
      if (hit.found === 'absent') continue;
      candidates.push(hit.lin);
      if (hit.found === 'yes') definite = true;
    }
    if (definite) return alternatives(candidates);
  }
  const row = findRel([name], scope);
  if (row !== undefined) candidates.push(row.rel.whole());
  if (candidates.length === 0) return unknownLin(`column ${name} not found in any FROM item`);
  return alternatives(candidates);
}

/** The name PostgreSQL gives an output column without an alias (FigureColname), roughly. */
export function figureName(value: unknown): string {
  const w = unwrap(value);
  if (w === undefined) return '?column?';
  const { type, node } = w;
  switch (type) {
    case 'ColumnRef': {
      const parts = names(node['fields']);
      return parts[parts.length - 1] ?? '?column?';
    }
    case 'FuncCall': {
      const parts = names(node['funcname']);
      return parts[parts.length - 1] ?? '?column?';
    }
    case 'TypeCast': {
      const inner = figureName(node['arg']);
      if (inner !== '?column?') return inner;
      const typeNames = isObject(node['typeName']) ? definedNames(node['typeName']['names']) : [];
      return typeNames[typeNames.length - 1] ?? '?column?';
    }
    case 'A_Indirection': {
      const parts = definedNames(node['indirection']);
      return parts[parts.length - 1] ?? figureName(node['arg']);
    }
    case 'A_Expr': return node['kind'] === 'AEXPR_NULLIF' ? 'nullif' : '?column?';
    case 'CaseExpr': return 'case';
    case 'A_ArrayExpr': return 'array';
    case 'CoalesceExpr': return 'coalesce';
    case 'RowExpr': return 'row';
    case 'MinMaxExpr': return node['op'] === 'IS_GREATEST' ? 'greatest' : 'least';
    case 'SubLink': {
      if (node['subLinkType'] === 'EXISTS_SUBLINK') return 'exists';
      if (node['subLinkType'] === 'ARRAY_SUBLINK') return 'array';
      if (node['subLinkType'] !== 'EXPR_SUBLINK') return '?column?';
      const sub = unwrap(node['subselect']);
      const first = sub === undefined ? undefined : list(sub.node['targetList'])[0];
      const rt = unwrap(first);
      if (rt?.type === 'ResTarget') return str(rt.node['name']) ?? figureName(rt.node['val']);
      return '?column?';
    }
    default: return '?column?';
  }
}

/** Thrown when something makes the whole statement untraceable. */
export function cannotTell(reason: string): never {
  throw new LineageUnknown(reason);
}
