// Lineage of queries: SELECT (set operations, VALUES, WITH incl. RECURSIVE) and the RETURNING
// lists of INSERT, UPDATE, DELETE and MERGE, as one lineage per output column.
import { buildLevel, namedRel } from './lineage-from.js';
import {
  alternatives, copyLin, derived, linKey,
  type Level, type Lin, type OutCol, type Rel, type Scope,
} from './lineage-scope.js';
import {
  cannotTell, definedNames, exprLin, figureName, findRel, isObject, list, names, str, unwrap,
  type Ctx, type CteEnv,
} from './lineage-expr.js';
import type { AstObject } from './node-kinds.js';

/** Output columns of a statement used as a query (SELECT, or DML with RETURNING). */
export function stmtCols(value: unknown, scope: Scope, env: CteEnv | undefined, ctx: Ctx): OutCol[] {
  const w = unwrap(value) ?? cannotTell('a sub-query that is not a parse-tree node');
  switch (w.type) {
    case 'SelectStmt': return queryCols(w.node, scope, env, ctx);
    case 'InsertStmt': case 'UpdateStmt': case 'DeleteStmt': case 'MergeStmt':
      return returningCols(w.type, w.node, scope, env, ctx);
    default: return cannotTell(`a ${w.type} where a query was expected`);
  }
}

/** A SelectStmt's fields (set-operation arms come as plain structs, not wrapped). */
export function queryCols(node: AstObject, scope: Scope, env: CteEnv | undefined, ctx: Ctx): OutCol[] {
  const e = withEnv(node['withClause'], scope, env, ctx);
  const op = str(node['op']);
  if (op !== undefined && op !== 'SETOP_NONE') {
    // Output column i of UNION / INTERSECT / EXCEPT is column i of either arm.
    const l = queryCols(struct(node['larg']), scope, e, ctx);
    const r = queryCols(struct(node['rarg']), scope, e, ctx);
    if (l.length !== r.length) cannotTell('set operation arms with different column counts');
    return l.map((c, i) => ({ name: c.name, lin: alternatives([c.lin, (r[i] as OutCol).lin]) }));
  }
  if (node['valuesLists'] !== undefined) return valuesCols(node['valuesLists'], scope, e, ctx);
  const level = buildLevel(node['fromClause'], scope, e, ctx);
  return targetCols(node['targetList'], [...scope, level], e, ctx);
}

function struct(value: unknown): AstObject {
  return isObject(value) ? value : cannotTell('a set operation without both arms');
}

function valuesCols(rows: unknown, scope: Scope, env: CteEnv | undefined, ctx: Ctx): OutCol[] {
  const cols: Lin[][] = [];
  for (const row of list(rows)) {
    list(unwrap(row)?.node['items']).forEach((item, i) => {
      (cols[i] ??= []).push(exprLin(item, scope, env, ctx));
    });
  }
  return cols.map((lins, i) => ({ name: `column${i + 1}`, lin: alternatives(lins) }));
}

/** A target list (SELECT's or RETURNING's): `*` and `x.*` expand through the namespace. */
function targetCols(targetList: unknown, scope: Scope, env: CteEnv | undefined, ctx: Ctx): OutCol[] {
  const out: OutCol[] = [];
  for (const item of list(targetList)) {
    const rt = unwrap(item);
    if (rt?.type !== 'ResTarget') cannotTell('a target list entry that is not a ResTarget');
    const val = rt.node['val'];
    const ref = unwrap(val);
    const fields = ref?.type === 'ColumnRef' ? list(ref.node['fields']) : [];
    if (unwrap(fields[fields.length - 1])?.type === 'A_Star') {
      out.push(...expandStar(names(fields).slice(0, -1), scope));
      continue;
    }
    out.push({ name: str(rt.node['name']) ?? figureName(val), lin: exprLin(val, scope, env, ctx) });
  }
  return out;
}

function expandStar(qual: (string | undefined)[], scope: Scope): OutCol[] {
  let rels: Rel[];
  if (qual.length === 0) {
    rels = scope[scope.length - 1]?.stars ?? [];
    if (rels.length === 0) cannotTell('* without a FROM clause');
  } else {
    const item = findRel(qual, scope) ?? cannotTell(`no FROM item named ${qual.join('.')}`);
    rels = [item.rel];
  }
  const out: OutCol[] = [];
  for (const rel of rels) {
    const cols = rel.columns() ?? cannotTell('* over a relation whose columns are unknown (no catalog, or a function without a column list)');
    out.push(...cols.map((c) => ({ name: c.name, lin: copyLin(c.lin) })));
  }
  return out;
}

function rename(cols: OutCol[], aliases: string[]): OutCol[] {
  return cols.map((c, i) => ({ name: aliases[i] ?? c.name, lin: c.lin }));
}

/** The CTEs of a WITH clause, each analysed once, in order. */
function withEnv(withClause: unknown, scope: Scope, env: CteEnv | undefined, ctx: Ctx): CteEnv | undefined {
  if (!isObject(withClause)) return env;
  const e: CteEnv = { parent: env, map: new Map() };
  const recursive = withClause['recursive'] === true;
  const ctes = list(withClause['ctes']).map((c) => unwrap(c)?.node ?? cannotTell('a CTE that is not a parse-tree node'));
  // Under RECURSIVE every CTE of the clause is in scope everywhere in it.
  if (recursive) for (const c of ctes) e.map.set(str(c['ctename']) ?? '', 'pending');
  for (const c of ctes) {
    const name = str(c['ctename']) ?? cannotTell('a CTE without a name');
    const aliases = definedNames(c['aliascolnames']);
    const cols = recursive
      ? recursiveCte(c['ctequery'], name, aliases, scope, e, ctx)
      : rename(stmtCols(c['ctequery'], scope, e, ctx), aliases);
    e.map.set(name, searchCycleCols(c, cols));
  }
  return e;
}

/**
 * `non-recursive UNION [ALL] recursive`: the recursive arm reads the CTE's own rows, so its
 * lineage is iterated from the first arm's until it stops growing (sets only grow, and are
 * bounded by the columns the statement names).
 */
function recursiveCte(query: unknown, name: string, aliases: string[], scope: Scope, e: CteEnv, ctx: Ctx): OutCol[] {
  const q = unwrap(query);
  if (q?.type !== 'SelectStmt' || q.node['op'] === undefined || q.node['op'] === 'SETOP_NONE' || q.node['withClause'] !== undefined) {
    return rename(stmtCols(query, scope, e, ctx), aliases);
  }
  let cur = rename(queryCols(struct(q.node['larg']), scope, e, ctx), aliases);
  for (let round = 0; round < 64; round++) {
    e.map.set(name, cur);
    const r = queryCols(struct(q.node['rarg']), scope, e, ctx);
    if (r.length !== cur.length) cannotTell(`recursive CTE ${name} has arms with different column counts`);
    const next = cur.map((c, i) => ({ name: c.name, lin: alternatives([c.lin, (r[i] as OutCol).lin]) }));
    if (next.every((c, i) => linKey(c.lin) === linKey((cur[i] as OutCol).lin))) return next;
    cur = next;
  }
  return cannotTell(`recursive CTE ${name} did not settle`);
}

/** SEARCH and CYCLE add columns computed from the columns they name. */
function searchCycleCols(cte: AstObject, cols: OutCol[]): OutCol[] {
  const from = (listed: unknown): Lin =>
    derived(definedNames(listed).flatMap((n) => cols.filter((c) => c.name === n).map((c) => c.lin)));
  const out = [...cols];
  const search = cte['search_clause'];
  if (isObject(search)) out.push({ name: str(search['search_seq_column']) ?? '?column?', lin: from(search['search_col_list']) });
  const cycle = cte['cycle_clause'];
  if (isObject(cycle)) {
    out.push({ name: str(cycle['cycle_mark_column']) ?? '?column?', lin: from(cycle['cycle_col_list']) });
    out.push({ name: str(cycle['cycle_path_column']) ?? '?column?', lin: from(cycle['cycle_col_list']) });
  }
  return out;
}

/** What a DML statement writes: column → lineage of the values assigned, or `all` when positions are unknown. */
interface Written { byName: Map<string, Lin>; all: Lin | undefined }

function assign(written: Written, name: string | undefined, lin: Lin): void {
  if (name === undefined) return;
  const prior = written.byName.get(name);
  written.byName.set(name, prior === undefined ? lin : alternatives([prior, lin]));
}

/**
 * The target as RETURNING sees it after the write: a column's value is the table column's own
 * (its rules apply) or a value this statement assigned to it (whose sources then flow too, so
 * `UPDATE t SET note = c.email … RETURNING note` does not launder c.email).
 */
function writtenRel(base: Rel, written: Written): Rel {
  const lin = (name: string, own: Lin): Lin => {
    const parts = [own];
    const a = written.byName.get(name);
    if (a !== undefined) parts.push(a);
    if (written.all !== undefined) parts.push(written.all);
    return parts.length === 1 ? own : alternatives(parts.map(copyLin));
  };
  return {
    columns: () => base.columns()?.map((c) => ({ name: c.name, lin: lin(c.name, c.lin) })),
    column(name) {
      const hit = base.column(name);
      return hit.found === 'absent' ? hit : { found: hit.found, lin: lin(name, hit.lin) };
    },
    whole: () => derived([base.whole(), ...written.byName.values(), ...(written.all === undefined ? [] : [written.all])]),
  };
}

function returningCols(type: string, node: AstObject, scope: Scope, env: CteEnv | undefined, ctx: Ctx): OutCol[] {
  const clause = node['returningClause'];
  const exprs = isObject(clause) ? clause['exprs'] : node['returningList'];
  if (list(exprs).length === 0) return [];
  const e = withEnv(node['withClause'], scope, env, ctx);
  const target = isObject(node['relation']) ? node['relation'] : cannotTell(`${type} without a target table`);
  const schema = str(target['schemaname']);
  const relname = str(target['relname']) ?? cannotTell(`${type} without a target table`);
  const alias = isObject(target['alias']) ? str(target['alias']['aliasname']) : undefined;
  // A DML target is always a table or view, never a CTE.
  const base = namedRel(schema, relname, undefined, ctx);
  const level: Level = { items: [], stars: [] };
  level.items.push({ refname: alias ?? relname, schema: alias === undefined ? schema : undefined, rel: base, relVisible: true, colsVisible: true });
  level.stars.push(base);
  const extra = type === 'UpdateStmt' ? node['fromClause'] : type === 'DeleteStmt' ? node['usingClause'] : type === 'MergeStmt' ? [node['sourceRelation']] : [];
  const others = buildLevel(extra, [...scope, level], e, ctx);
  level.items.push(...others.items);
  level.stars.push(...others.stars);

  const written = writtenOf(type, node, base, [...scope, level], scope, e, ctx);
  const after = writtenRel(base, written);
  const first = level.items[0];
  if (first !== undefined) first.rel = after;
  level.stars[0] = after;
  // PostgreSQL 18: RETURNING old.* / new.*, maybe renamed by WITH (OLD AS o, NEW AS n).
  let oldName = 'old';
  let newName = 'new';
  for (const opt of list(isObject(clause) ? clause['options'] : undefined)) {
    const o = unwrap(opt)?.node;
    if (o?.['option'] === 'RETURNING_OPTION_OLD') oldName = str(o['value']) ?? oldName;
    if (o?.['option'] === 'RETURNING_OPTION_NEW') newName = str(o['value']) ?? newName;
  }
  level.items.push({ refname: oldName, schema: undefined, rel: base, relVisible: true, colsVisible: false });
  level.items.push({ refname: newName, schema: undefined, rel: after, relVisible: true, colsVisible: false });
  return targetCols(exprs, [...scope, level], e, ctx);
}

function writtenOf(type: string, node: AstObject, base: Rel, inner: Scope, outer: Scope, env: CteEnv | undefined, ctx: Ctx): Written {
  const written: Written = { byName: new Map(), all: undefined };
  const positional = (targetNames: (string | undefined)[], lins: Lin[]): void => {
    const cols = targetNames.length > 0 ? targetNames : base.columns()?.map((c) => c.name);
    if (cols === undefined) {
      if (lins.length > 0) written.all = derived(lins);
      return;
    }
    lins.forEach((lin, i) => assign(written, cols[i], lin));
  };
  const setList = (targetList: unknown, scope: Scope): void => {
    for (const item of list(targetList)) {
      const rt = unwrap(item)?.node;
      if (rt === undefined) continue;
      const val = unwrap(rt['val']);
      // SET (a, b) = (SELECT …): each column gets the whole source (an over-approximation).
      const lin = val?.type === 'MultiAssignRef' ? derived([exprLin(val.node['source'], scope, env, ctx)]) : exprLin(rt['val'], scope, env, ctx);
      assign(written, str(rt['name']), lin);
    }
  };
  const targetNames = (targetList: unknown): (string | undefined)[] =>
    list(targetList).map((t) => str(unwrap(t)?.node['name']));

  if (type === 'InsertStmt') {
    // The inserted query cannot see the target; it is evaluated in the outer scope.
    if (node['selectStmt'] !== undefined) {
      positional(targetNames(node['cols']), stmtCols(node['selectStmt'], outer, env, ctx).map((c) => c.lin));
    }
    const conflict = node['onConflictClause'];
    if (isObject(conflict) && conflict['action'] === 'ONCONFLICT_UPDATE') {
      const excluded: Level = { items: [{ refname: 'excluded', schema: undefined, rel: writtenRel(base, written), relVisible: true, colsVisible: false }], stars: [] };
      const level = inner[inner.length - 1] as Level;
      setList(conflict['targetList'], [...outer, { items: [...level.items, ...excluded.items], stars: level.stars }]);
    }
  } else if (type === 'UpdateStmt') {
    setList(node['targetList'], inner);
  } else if (type === 'MergeStmt') {
    for (const clause of list(node['mergeWhenClauses'])) {
      const w = unwrap(clause)?.node;
      if (w === undefined) continue;
      if (w['commandType'] === 'CMD_UPDATE') setList(w['targetList'], inner);
      if (w['commandType'] === 'CMD_INSERT') {
        positional(targetNames(w['targetList']), list(w['values']).map((v) => exprLin(v, inner, env, ctx)));
      }
    }
  }
  return written;
}

