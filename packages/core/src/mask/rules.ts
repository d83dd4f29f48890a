// Compiles the mask rules of the policies covering one connection: column matchers, detector
// sets and Kubernetes resources, each with its strategy and the control plane's key.
//
// What a rule's match fields mean together:
// - columns: the whole value of every matching result column is masked;
// - columns + detectors: only the detected spans inside matching columns are masked;
// - detectors alone: the detected spans of every value (and of logs, SSH output) are masked;
// - resources (+ detectors): the data of matching Kubernetes Secrets, whole or detected spans.
// A rule with columns and resources is in both lists.
import type { AccessPolicyDoc, DetectorName } from '../policy/types.js';
import type { MaskSpec } from './strategy.js';

/** Tests a result column by its source: schema, table and column names as in the catalog. */
export type ColumnMatcher = (schema: string, table: string, column: string) => boolean;

export interface MaskRule {
  policy: string;
  /** rule.name, or `<policy>#<index>` with the index in the policy's rules (as policy/decide.ts). */
  rule: string;
  spec: MaskSpec;
  columns?: ColumnMatcher;
  detectors?: ReadonlySet<DetectorName>;
  resources?: string[];
}

export interface CompiledMasks {
  /** Rules with columns, in document order (policies in bundle order, then rules). */
  columnRules: MaskRule[];
  /** Rules with detectors and no columns: they apply to every value. */
  detectorRules: MaskRule[];
  /** Rules with Kubernetes resources. */
  resourceRules: MaskRule[];
  /** Whether any mask rule applies to this connection. */
  any: boolean;
}

export function compileMasks(policies: readonly AccessPolicyDoc[], connection: string, key: Uint8Array): CompiledMasks {
  const m: CompiledMasks = { columnRules: [], detectorRules: [], resourceRules: [], any: false };
  for (const p of policies) {
    if (!p.spec.connections.includes(connection)) continue;
    p.spec.rules.forEach((r, i) => {
      if (r.action !== 'mask') return;
      const spec: MaskSpec = { strategy: r.strategy ?? 'redact', key, ...(r.keep !== undefined ? { keep: r.keep } : {}) };
      const rule: MaskRule = { policy: p.metadata.name, rule: r.name ?? `${p.metadata.name}#${i}`, spec };
      const { columns, detectors, resources } = r.match;
      if (detectors !== undefined && detectors.length > 0) rule.detectors = new Set(detectors);
      if (resources !== undefined && resources.length > 0) rule.resources = [...resources];
      if (columns !== undefined && columns.length > 0) {
        rule.columns = compileColumns(columns);
        m.columnRules.push(rule);
      } else if (rule.detectors) {
        m.detectorRules.push(rule);
      }
      if (rule.resources) m.resourceRules.push(rule);
    });
  }
  m.any = m.columnRules.length + m.detectorRules.length + m.resourceRules.length > 0;
  return m;
}

/** The first column rule for this column (rule order = document order), or undefined. */
export function columnRule(m: CompiledMasks, schema: string, table: string, column: string): MaskRule | undefined {
  for (const r of m.columnRules) {
    if (r.columns?.(schema, table, column)) return r;
  }
  return undefined;
}

/**
 * `table.column` or `schema.table.column`, `*` wildcards, case-insensitive; an unqualified
 * pattern matches the table in any schema. A malformed pattern (one part, or more than three)
 * matches nothing: policy/schema.ts refuses those before they get here.
 */
export function compileColumns(patterns: readonly string[]): ColumnMatcher {
  const compiled = patterns.map((p) => {
    const parts = p.toLowerCase().split('.');
    if (parts.length < 2 || parts.length > 3) return undefined;
    const [column, table, schema] = parts.reverse();
    return { column: column ?? '', table: table ?? '', schema };
  }).filter((c) => c !== undefined);
  return (schema, table, column) => {
    const s = schema.toLowerCase();
    const t = table.toLowerCase();
    const c = column.toLowerCase();
    for (const p of compiled) {
      if (globMatch(p.column, c) && globMatch(p.table, t) && (p.schema === undefined || globMatch(p.schema, s))) return true;
    }
    return false;
  };
}

/** `*` matches any run of characters. Greedy with one backtrack point: O(pattern × text). */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
