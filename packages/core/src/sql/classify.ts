// Classifies SQL text with PostgreSQL's own parser (libpg-query): statement kinds, tables, functions.
import { setFlagsFromString } from 'node:v8';
import { loadModule, parseSync } from 'libpg-query';
import type { Classification, StatementFacts } from './facts.js';
import type { StatementKind } from './kinds.js';
import { NON_STATEMENT_NODES, kindsOfNode, type AstObject } from './node-kinds.js';
import { INLINE_FIELDS, NODE_TYPES } from './node-types.js';

/**
 * Loads libpg-query's WASM module. Call (and await) once before classifySql; repeated calls are
 * cheap, since libpg-query keeps its own single loading promise.
 *
 * The module is compiled by Liftoff only (a process-wide V8 setting, taken when the module is
 * compiled): a statement shape is parsed once, so TurboFan's faster code buys little, while
 * tiering the 1.7 MB module up costs some 45 MB of RSS that glibc never gives back.
 */
export async function loadSqlParser(): Promise<void> {
  setFlagsFromString('--liftoff-only');
  await loadModule();
}

/**
 * Parses `text` and reports, per top-level statement, every statement kind, relation and function
 * call found anywhere in its tree. Never throws: text the parser refuses, or a tree holding a node
 * this module does not know, gives `{ ok: false }` so that policy fails closed.
 */
export function classifySql(text: string): Classification {
  if (text.length === 0) return { ok: true, statements: [] };
  // The parser reads a C string, and PostgreSQL's wire protocol ends the query at NUL: refuse
  // rather than reason about which part each side sees.
  if (text.includes('\0')) return { ok: false, error: 'statement text contains a NUL character' };
  let tree: unknown;
  try {
    tree = parseSync(text);
  } catch (err) {
    return { ok: false, error: describeParseError(err) };
  }
  return classifyTree(tree);
}

/** Facts of an already parsed tree (libpg-query's JSON); exported so tests can feed odd trees. */
export function classifyTree(tree: unknown): Classification {
  const stmts = isObject(tree) ? tree['stmts'] : undefined;
  if (stmts === undefined) return { ok: true, statements: [] };
  if (!Array.isArray(stmts)) return { ok: false, error: 'parse tree without a statement list' };
  const statements: StatementFacts[] = [];
  for (const raw of stmts) {
    const facts = factsOfStatement(isObject(raw) ? raw['stmt'] : undefined);
    if (typeof facts === 'string') return { ok: false, error: facts };
    statements.push(facts);
  }
  return { ok: true, statements };
}

/**
 * The parser's message without the quoted text it points at (`… at or near "…"`): that fragment
 * may be a literal (a password), and a cached classification is shared by every text of a shape.
 */
function describeParseError(err: unknown): string {
  const message = err instanceof Error ? err.message : 'unparseable statement';
  const cut = message.indexOf(' at or near ');
  return cut === -1 ? message : message.slice(0, cut);
}

function isValuesList(node: AstObject): boolean {
  return node['valuesLists'] !== undefined && node['intoClause'] === undefined && node['fromClause'] === undefined;
}

/** Facts of one top-level statement, or an error message (fail closed). */
function factsOfStatement(stmt: unknown): StatementFacts | string {
  const top = unwrap(stmt);
  if (top === undefined) return 'statement is not a parse-tree node';
  if (typeof top === 'string') return top;
  const topKinds = kindsOfNode(top.type, top.node);
  if (topKinds === undefined || NON_STATEMENT_NODES.has(top.type)) return `unknown statement node ${top.type}`;

  const kinds = new Set<StatementKind>(topKinds);
  const tables = new Set<string>();
  const functions = new Set<string>();
  // Explicit stack instead of recursion: expression trees can nest deeper than the JS stack.
  // Every object of the tree is visited, not a hand-picked list of fields.
  const stack: { value: unknown; type: string | undefined }[] = [{ value: top.node, type: top.type }];
  let first = true;
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value } = item;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], type: item.type });
      continue;
    }
    if (!isObject(value)) continue;
    let type = item.type;
    let node = value;
    if (type === undefined) {
      const wrapped = unwrap(value);
      if (typeof wrapped === 'string') return wrapped;
      if (wrapped !== undefined) ({ type, node } = wrapped);
    }
    if (type !== undefined) {
      // A nested bare VALUES list (`INSERT … VALUES (…)`) reads nothing, so it adds no `select`:
      // `allow [insert]` then covers plain inserts. Sub-queries inside it are their own nodes.
      if (!first && !(type === 'SelectStmt' && isValuesList(node))) kindsOfNode(type, node)?.forEach((k) => kinds.add(k));
      first = false;
      if (type === 'RangeVar') addName(tables, [node['catalogname'], node['schemaname'], node['relname']]);
      else if (type === 'FuncCall') addName(functions, stringList(node['funcname']));
      else if (type === 'DropStmt' && DROPPED_RELATIONS.has(String(node['removeType']))) addDropped(tables, node['objects']);
    }
    const fields = type !== undefined && Object.hasOwn(INLINE_FIELDS, type) ? INLINE_FIELDS[type] : undefined;
    const keys = Object.keys(node);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string;
      const child = node[key];
      if (typeof child !== 'object' || child === null) continue;
      const childType = fields !== undefined && Object.hasOwn(fields, key) ? fields[key] : undefined;
      stack.push({ value: child, type: childType });
    }
  }
  return { kinds: [...kinds], tables: [...tables], functions: [...functions] };
}

/** DROP of these object types names relations, as `List`s of `String` rather than RangeVars. */
const DROPPED_RELATIONS: ReadonlySet<string> = new Set([
  'OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE', 'OBJECT_SEQUENCE', 'OBJECT_INDEX',
]);

function addDropped(tables: Set<string>, objects: unknown): void {
  if (!Array.isArray(objects)) return;
  for (const object of objects) {
    const list = isObject(object) ? object['List'] : undefined;
    if (isObject(list)) addName(tables, stringList(list['items']));
  }
}

/**
 * A wrapped `Node` is an object with one key, a node type name (capitalised, unlike field names).
 * Returns undefined for a plain struct, an error message for a type this build does not know.
 */
function unwrap(value: unknown): { type: string; node: AstObject } | string | undefined {
  if (!isObject(value)) return undefined;
  const keys = Object.keys(value);
  const key = keys[0];
  if (keys.length !== 1 || key === undefined || !/^[A-Z]/.test(key)) return undefined;
  const node = value[key];
  if (!NODE_TYPES.has(key) || !isObject(node)) return `unknown parse-tree node ${key}`;
  return { type: key, node };
}

function isObject(value: unknown): value is AstObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `[{String:{sval:'pg_catalog'}}, {String:{sval:'set_config'}}]` → ['pg_catalog', 'set_config']. */
function stringList(value: unknown): unknown[] {
  if (!Array.isArray(value)) return [];
  return value.map((item) => {
    const s = isObject(item) ? item['String'] : undefined;
    return isObject(s) ? s['sval'] : undefined;
  });
}

function addName(into: Set<string>, parts: unknown[]): void {
  const named = parts.filter((p): p is string => typeof p === 'string' && p.length > 0);
  if (named.length > 0) into.add(named.join('.'));
}
