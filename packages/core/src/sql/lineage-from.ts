// Lineage of FROM clauses: tables, views, CTE references, sub-queries, functions and joins
// become the relations (lineage-scope.ts) that column references resolve against.
import { functionColumnNames } from './lineage-functions.js';
import {
  alternatives, copyLin, derived, derivedRel, emptyLin, renamedRel, tableRel,
  type ColLookup, type Level, type Lin, type NsItem, type OutCol, type Rel, type Scope,
} from './lineage-scope.js';
import {
  cannotTell, definedNames, exprLin, isObject, list, names, str, unwrap, type Ctx, type CteEnv,
} from './lineage-expr.js';
import type { AstObject } from './node-kinds.js';

/** Builds one query level's namespace from its FROM list, left to right (LATERAL sees the left). */
export function buildLevel(fromClause: unknown, scope: Scope, env: CteEnv | undefined, ctx: Ctx): Level {
  const level: Level = { items: [], stars: [] };
  for (const item of list(fromClause)) level.stars.push(fromItem(item, scope, level, env, ctx));
  return level;
}

function lookupCte(env: CteEnv | undefined, name: string): OutCol[] | 'pending' | undefined {
  for (let e = env; e !== undefined; e = e.parent) {
    const hit = e.map.get(name);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** A named relation: a CTE when unqualified and in scope, else a view or a table. */
export function namedRel(schema: string | undefined, name: string, env: CteEnv | undefined, ctx: Ctx): Rel {
  if (schema === undefined) {
    const cte = lookupCte(env, name);
    if (cte === 'pending') cannotTell(`CTE ${name} refers to a CTE of its WITH RECURSIVE that is not yet known`);
    if (cte !== undefined) return derivedRel(cte);
  }
  const view = ctx.viewCols(schema, name);
  if (view !== undefined) return derivedRel(view);
  return tableRel(schema, name, ctx.catalog?.columns(schema, name));
}

function aliasOf(node: AstObject): { name: string | undefined; colnames: string[] } {
  const alias = node['alias'];
  if (!isObject(alias)) return { name: undefined, colnames: [] };
  return { name: str(alias['aliasname']), colnames: definedNames(alias['colnames']) };
}

/** Adds one FROM item (and, for joins, its parts) to `level`; returns what `*` expands it to. */
function fromItem(value: unknown, scope: Scope, level: Level, env: CteEnv | undefined, ctx: Ctx): Rel {
  const w = unwrap(value);
  if (w === undefined) cannotTell('a FROM item that is not a parse-tree node');
  const { type, node } = w;
  switch (type) {
    case 'RangeVar': {
      const schema = str(node['schemaname']);
      const name = str(node['relname']) ?? cannotTell('a table without a name');
      const alias = aliasOf(node);
      const rel = renamedRel(namedRel(schema, name, env, ctx), alias.colnames);
      level.items.push({
        refname: alias.name ?? name, schema: alias.name === undefined ? schema : undefined,
        rel, relVisible: true, colsVisible: true,
      });
      return rel;
    }
    case 'RangeSubselect': {
      const inner = node['lateral'] === true ? [...scope, level] : scope;
      const alias = aliasOf(node);
      const rel = renamedRel(derivedRel(ctx.stmtCols(node['subquery'], inner, env)), alias.colnames);
      level.items.push({ refname: alias.name, schema: undefined, rel, relVisible: alias.name !== undefined, colsVisible: true });
      return rel;
    }
    case 'RangeFunction': {
      const alias = aliasOf(node);
      const rel = renamedRel(functionRel(node, alias.name, [...scope, level], env, ctx), alias.colnames);
      const first = unwrap(list(unwrap(list(node['functions'])[0])?.node['items'])[0]);
      const fname = first?.type === 'FuncCall' ? names(first.node['funcname']).at(-1) : undefined;
      level.items.push({ refname: alias.name ?? fname, schema: undefined, rel, relVisible: true, colsVisible: true });
      return rel;
    }
    case 'RangeTableSample':
      return fromItem(node['relation'], scope, level, env, ctx);
    case 'JoinExpr':
      return joinItem(node, scope, level, env, ctx);
    default: {
      // XMLTABLE, JSON_TABLE and whatever comes next: every column computed from the whole node.
      const alias = aliasOf(node);
      const lin = derived([exprLin(node, [...scope, level], env, ctx)]);
      // Every column has the same lineage, so only the count and names matter here.
      const colNames = type === 'RangeTableFunc'
        ? list(node['columns']).map((c) => str(unwrap(c)?.node['colname']))
        : type === 'JsonTable' ? jsonTableNames(node['columns']) : [undefined];
      const rel = colNames.every((n) => n !== undefined)
        ? derivedRel(colNames.map((n) => ({ name: n, lin: copyLin(lin) })))
        : opaqueRel(lin);
      const named = renamedRel(rel, alias.colnames);
      level.items.push({ refname: alias.name, schema: undefined, rel: named, relVisible: alias.name !== undefined, colsVisible: true });
      return named;
    }
  }
}

/** JSON_TABLE's columns, NESTED PATH columns in their place. */
function jsonTableNames(columns: unknown): (string | undefined)[] {
  return list(columns).flatMap((c) => {
    const col = unwrap(c)?.node;
    return col?.['coltype'] === 'JTC_NESTED' ? jsonTableNames(col['columns']) : [str(col?.['name'])];
  });
}

/** Columns unknown; any column is computed from `lin`. */
function opaqueRel(lin: Lin): Rel {
  return {
    columns: () => undefined,
    column: () => ({ found: 'maybe', lin: derived([lin]) }),
    whole: () => derived([lin]),
  };
}

/** A function (or ROWS FROM) in FROM: its columns are computed from its arguments. */
function functionRel(node: AstObject, alias: string | undefined, scope: Scope, env: CteEnv | undefined, ctx: Ctx): Rel {
  const fns = list(node['functions']);
  const cols: OutCol[] = [];
  const lins: Lin[] = [];
  let known = true;
  for (const f of fns) {
    const items = list(unwrap(f)?.node['items']);
    const call = items[0];
    const lin = derived([exprLin(call, scope, env, ctx)]);
    lins.push(lin);
    const defs = list(items[1]).length > 0 ? items[1] : fns.length === 1 ? node['coldeflist'] : undefined;
    let colNames: string[] | undefined = list(defs).map((d) => str(unwrap(d)?.node['colname']) ?? '?column?');
    if (colNames.length === 0) {
      const w = unwrap(call);
      const fname = w?.type === 'FuncCall' ? names(w.node['funcname']).at(-1) : undefined;
      colNames = fname === undefined ? undefined
        : functionColumnNames(fname, list(w?.node['args']).length, fns.length === 1 ? alias : undefined);
    }
    if (colNames === undefined) known = false;
    else for (const n of colNames) cols.push({ name: n, lin: copyLin(lin) });
  }
  if (node['ordinality'] === true) cols.push({ name: 'ordinality', lin: emptyLin() });
  return known ? derivedRel(cols) : opaqueRel(derived(lins));
}

/** A JOIN: parts keep their names (hidden when the join has an alias); USING columns merge. */
function joinItem(node: AstObject, scope: Scope, level: Level, env: CteEnv | undefined, ctx: Ctx): Rel {
  const before = level.items.length;
  const left = fromItem(node['larg'], scope, level, env, ctx);
  const right = fromItem(node['rarg'], scope, level, env, ctx);
  const rel = joinRel(left, right, node['isNatural'] === true ? 'natural' : definedNames(node['usingClause']));
  const alias = aliasOf(node);
  // PostgreSQL: the parts stay visible as table names unless the join has an alias, and are
  // never visible for unqualified column names (the join's own columns are).
  for (let i = before; i < level.items.length; i++) {
    const part = level.items[i] as NsItem;
    part.colsVisible = false;
    if (alias.name !== undefined) part.relVisible = false;
  }
  const named = renamedRel(rel, alias.colnames);
  level.items.push({ refname: alias.name, schema: undefined, rel: named, relVisible: alias.name !== undefined, colsVisible: true });
  const usingAlias = isObject(node['join_using_alias']) ? str(node['join_using_alias']['aliasname']) : undefined;
  if (usingAlias !== undefined) {
    const merged = definedNames(node['usingClause']).map((n) => ({ name: n, lin: lookupLin(rel.column(n)) }));
    level.items.push({ refname: usingAlias, schema: undefined, rel: derivedRel(merged), relVisible: true, colsVisible: false });
  }
  return named;
}

function lookupLin(hit: ColLookup): Lin {
  return hit.found === 'absent' ? emptyLin() : hit.lin;
}

/**
 * Join columns as PostgreSQL orders them: merged (USING / NATURAL) columns first, then the
 * left's others, then the right's. A merged column is either side's value (COALESCE for FULL
 * JOIN): both sides are its sources, and it stays direct when both are.
 */
function joinRel(left: Rel, right: Rel, using: string[] | 'natural'): Rel {
  const mergedNames = (): string[] | undefined => {
    if (using !== 'natural') return using;
    const l = left.columns();
    const r = right.columns();
    if (l === undefined || r === undefined) return undefined;
    return l.map((c) => c.name).filter((n) => r.some((c) => c.name === n));
  };
  const merged = (name: string): Lin => {
    const sides = [left.column(name), right.column(name)].filter((h) => h.found !== 'absent');
    return alternatives(sides.map((h) => copyLin(lookupLin(h))));
  };
  return {
    columns() {
      const m = mergedNames();
      const l = left.columns();
      const r = right.columns();
      if (m === undefined || l === undefined || r === undefined) return undefined;
      return [
        ...m.map((n) => ({ name: n, lin: merged(n) })),
        ...l.filter((c) => !m.includes(c.name)),
        ...r.filter((c) => !m.includes(c.name)),
      ];
    },
    column(name) {
      const m = mergedNames();
      if (m?.includes(name) === true) return { found: 'yes', lin: merged(name) };
      const hits = [left.column(name), right.column(name)].filter((h) => h.found !== 'absent');
      if (hits.length === 0) return { found: 'absent' };
      const lin = alternatives(hits.map((h) => copyLin(lookupLin(h))));
      return { found: hits.some((h) => h.found === 'yes') ? 'yes' : 'maybe', lin };
    },
    whole: () => derived([left.whole(), right.whole()]),
  };
}
