// Decides each classified SQL query string against the compiled policies of one connection.
// Runs on every statement: compiled once per bundle, then a WeakMap hit per statement shape.
import type { Decision } from '../decision.js';
import type { Classification, StatementFacts } from '../sql/facts.js';
import { expandKinds } from '../sql/kinds.js';
import type { StatementKind } from '../sql/kinds.js';
import { ACTION_RANK, compileRuleSet, defaultDecision, noPolicyDecision, ruleDecision } from './compile-common.js';
import type { CompiledRuleBase, CompiledRuleSet } from './compile-common.js';
import type { AccessPolicyDoc } from './types.js';

/** The decision plus whether literals must be redacted from the recorded statement text. */
export type SqlDecision = Decision & { redactLiterals: boolean };

/** Tests a relation or function name as the classifier reports it (`name` or `schema.name`). */
export type NameMatcher = (name: string) => string | undefined;

export interface CompiledRule extends CompiledRuleBase {
  readonly kinds: ReadonlySet<StatementKind> | undefined;
  readonly tables: NameMatcher | undefined;
  readonly functions: NameMatcher | undefined;
}

export interface CompiledPolicy extends CompiledRuleSet<CompiledRule> {
  /** Table parts of mask column patterns. */
  readonly maskTables: readonly NameMatcher[];
  /** A detector mask rule applies: every statement may carry sensitive literals. */
  readonly maskAlways: boolean;
  readonly cache: WeakMap<Classification, SqlDecision>;
}

/** What a rule matched on, for messages and explanations. */
export interface RuleHit {
  kind: StatementKind;
  /** The touched name and the rule pattern that matched it. */
  table?: { name: string; pattern: string };
  function?: { name: string; pattern: string };
}

export function compilePolicies(policies: readonly AccessPolicyDoc[], connection: string): CompiledPolicy {
  const maskTables: NameMatcher[] = [];
  let maskAlways = false;
  const set = compileRuleSet<CompiledRule>(policies, connection, {
    family: 'sql',
    onMask: (r) => {
      if (r.match.detectors !== undefined && r.match.detectors.length > 0) maskAlways = true;
      for (const column of r.match.columns ?? []) maskTables.push(compileNames([column.slice(0, column.lastIndexOf('.'))], true));
    },
    compileRule: (match, base) => {
      const restrictive = base.action !== 'allow';
      return {
        ...base,
        kinds: match.statements === undefined ? undefined : expandKinds(match.statements).kinds,
        tables: match.tables === undefined ? undefined : compileNames(match.tables, restrictive),
        functions: match.functions === undefined ? undefined : compileNames(match.functions, restrictive),
      };
    },
  });
  return { ...set, maskTables, maskAlways, cache: new WeakMap() };
}

/** Deny wins over approve, approve over allow, over every statement of the query string. */
export function decide(compiled: CompiledPolicy, c: Classification): SqlDecision {
  const hit = compiled.cache.get(c);
  if (hit !== undefined) return hit;
  const decision = Object.freeze(decideUncached(compiled, c));
  compiled.cache.set(c, decision);
  return decision;
}

function decideUncached(compiled: CompiledPolicy, c: Classification): SqlDecision {
  if (compiled.policies.length === 0) {
    return { ...noPolicyDecision(compiled.connection), redactLiterals: false };
  }
  if (!c.ok) {
    // Unparsed text may carry anything a mask rule protects.
    const redactLiterals = compiled.maskAlways || compiled.maskTables.length > 0;
    return { action: 'deny', policy: '', rule: 'unclassified', message: `statement could not be classified and is denied: ${c.error}`, redactLiterals };
  }
  const redactLiterals = compiled.maskAlways || c.statements.some((s) => touchesMasked(compiled, s));
  let strongest: Decision | undefined;
  for (const s of c.statements) {
    const d = decideStatement(compiled, s);
    if (d.action === 'deny') return { ...d, redactLiterals };
    if (strongest === undefined || ACTION_RANK[d.action] < ACTION_RANK[strongest.action]) strongest = d;
  }
  // A query string with no statement (only comments or `;`) runs nothing.
  return { ...(strongest ?? { action: 'allow', policy: '', rule: 'empty' }), redactLiterals };
}

/** One statement: the first matching rule in precedence order, else the policies' default. */
export function decideStatement(compiled: CompiledPolicy, s: StatementFacts): Decision {
  for (const r of compiled.rules) {
    const hit = matchRule(r, s);
    if (hit !== undefined) return ruleDecision(r, () => describe(hit));
  }
  return defaultDecision(compiled, () => `statement kind "${s.kinds[0] ?? 'other'}"`);
}

/**
 * A rule matches when every criterion it gives matches the statement. Restrictive rules (deny,
 * approve) catch a statement when ANY of its kinds (nested ones too), tables or functions
 * matches. An allow rule must cover ALL of them: otherwise `allow select` under `default: deny`
 * would let `WITH d AS (DELETE ...) SELECT ...` through, and `allow tables [stats]` would let
 * `SELECT ... FROM stats, secrets` through.
 */
export function matchRule(r: CompiledRule, s: StatementFacts): RuleHit | undefined {
  return r.action === 'allow' ? matchAll(r, s) : matchAny(r, s);
}

function matchAny(r: CompiledRule, s: StatementFacts): RuleHit | undefined {
  let kind: StatementKind | undefined = s.kinds[0];
  if (r.kinds !== undefined) {
    const kinds = r.kinds;
    kind = s.kinds.find((k) => kinds.has(k));
    if (kind === undefined) return undefined;
  }
  const hit: RuleHit = { kind: kind ?? 'other' };
  if (r.tables !== undefined) {
    const table = firstMatch(r.tables, s.tables);
    if (table === undefined) return undefined;
    hit.table = table;
  }
  if (r.functions !== undefined) {
    const fn = firstMatch(r.functions, s.functions);
    if (fn === undefined) return undefined;
    hit.function = fn;
  }
  return hit;
}

function matchAll(r: CompiledRule, s: StatementFacts): RuleHit | undefined {
  const kinds = r.kinds;
  if (kinds !== undefined && (s.kinds.length === 0 || !s.kinds.every((k) => kinds.has(k)))) return undefined;
  const hit: RuleHit = { kind: s.kinds[0] ?? 'other' };
  if (r.tables !== undefined) {
    const table = everyMatch(r.tables, s.tables);
    if (table === undefined) return undefined;
    hit.table = table;
  }
  if (r.functions !== undefined) {
    const fn = everyMatch(r.functions, s.functions);
    if (fn === undefined) return undefined;
    hit.function = fn;
  }
  return hit;
}

function describe(hit: RuleHit): string {
  let out = `statement kind "${hit.kind}"`;
  if (hit.table !== undefined) out += ` on table ${describeName(hit.table)}`;
  if (hit.function !== undefined) out += ` calling function ${describeName(hit.function)}`;
  return out;
}

// A bare name caught by a qualified pattern surprises people unless the message says why.
function describeName(m: { name: string; pattern: string }): string {
  const why = !m.name.includes('.') && m.pattern.includes('.') ? ` (unqualified, may resolve to "${m.pattern}")` : '';
  return `"${m.name}"${why}`;
}

function firstMatch(matcher: NameMatcher, names: readonly string[]): { name: string; pattern: string } | undefined {
  for (const name of names) {
    const pattern = matcher(name);
    if (pattern !== undefined) return { name, pattern };
  }
  return undefined;
}

// At least one name, and every name matched; the first one is reported.
function everyMatch(matcher: NameMatcher, names: readonly string[]): { name: string; pattern: string } | undefined {
  let first: { name: string; pattern: string } | undefined;
  for (const name of names) {
    const pattern = matcher(name);
    if (pattern === undefined) return undefined;
    first ??= { name, pattern };
  }
  return first;
}

function touchesMasked(compiled: CompiledPolicy, s: StatementFacts): boolean {
  return compiled.maskTables.some((m) => firstMatch(m, s.tables) !== undefined);
}

/**
 * Name patterns, `*` matching any run of characters within one part, case-insensitively.
 * `orders` matches `orders` in any schema; `public.orders` matches `public.orders`. An
 * unqualified name in SQL resolves through the session's search_path, which policy cannot see:
 * so for deny, approve and mask (`restrictive`) a qualified pattern also matches the bare
 * name (`pg_read_file` is `pg_catalog.pg_read_file`); for allow it does not.
 */
export function compileNames(patterns: readonly string[], restrictive: boolean): NameMatcher {
  const compiled = patterns.map((p) => {
    const parts = p.split('.');
    const name = compilePart(parts[parts.length - 1] ?? '');
    const schema = parts.length > 1 ? compilePart(parts[parts.length - 2] ?? '') : undefined;
    return { pattern: p, name, schema };
  });
  return (qualified: string) => {
    const dot = qualified.lastIndexOf('.');
    const name = qualified.slice(dot + 1);
    // `db.schema.table`: the schema is the part before the table.
    const schema = dot < 0 ? undefined : qualified.slice(qualified.lastIndexOf('.', dot - 1) + 1, dot);
    for (const c of compiled) {
      if (!c.name(name)) continue;
      if (c.schema === undefined) return c.pattern;
      if (schema === undefined ? restrictive : c.schema(schema)) return c.pattern;
    }
    return undefined;
  };
}

function compilePart(part: string): (text: string) => boolean {
  const lower = part.toLowerCase();
  if (lower === '*') return () => true;
  if (!lower.includes('*')) return (text) => text.toLowerCase() === lower;
  const re = new RegExp(`^${lower.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'is');
  return (text) => re.test(text);
}
