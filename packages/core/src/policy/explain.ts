// Explains policy to people (`chaperone policy check`): what an identity may do on a connection,
// and why one SQL text gets the decision it gets.
import type { Decision } from '../decision.js';
import type { Identity } from '../records/types.js';
import { classifySql, loadSqlParser } from '../sql/classify.js';
import type { Classification, StatementFacts } from '../sql/facts.js';
import { compilePolicies, decide, decideStatement, matchRule } from './decide.js';
import type { CompiledPolicy, CompiledRule, RuleHit, SqlDecision } from './decide.js';
import { compileShellPolicy } from '../shell/policy.js';
import { policiesForIdentity } from './subjects.js';
import type { AccessPolicyDoc, PolicyDoc, Rule } from './types.js';

export interface ExplainedRule {
  policy: string;
  rule: string;
  action: Rule['action'];
  /** The rule's criteria in words, e.g. `statements drop, truncate; tables orders`. */
  match: string;
  message?: string;
  approvers?: string[];
  timeout?: string;
  /** mask rules: the strategy, e.g. `hash` or `partial, keep 4`. */
  strategy?: string;
}

export interface AccessExplanation {
  identity: Identity;
  connection: string;
  /** false when the documents define Connections but none of this name. */
  connectionDefined: boolean;
  /** Policies covering this identity on this connection, in document order. */
  policies: string[];
  /** Deciding rules in precedence order (deny, approve, allow), then mask rules. */
  rules: ExplainedRule[];
  /** What no rule matches gets; `no-policy` when no policy applies (everything denied). */
  default: { action: 'allow' | 'deny'; policy: string } | 'no-policy';
  text: string;
}

export interface ExplainedStatement {
  facts: StatementFacts;
  /** Every rule that matches this statement, in precedence order; the first decides. */
  matches: { policy: string; rule: string; action: CompiledRule['action']; hit: RuleHit }[];
  decision: Decision;
}

export interface StatementExplanation {
  sql: string;
  classification: Classification;
  /** The decision for the whole text, exactly as the sidecar would take it. */
  decision: SqlDecision;
  statements: ExplainedStatement[];
  text: string;
}

export function explainAccess(docs: readonly PolicyDoc[], identity: Identity, connection: string): AccessExplanation {
  const { compiled, applicable, connectionDefined, type } = prepare(docs, identity, connection);
  // An SSH connection is decided by the shell rules (commands, operations), others by SQL rules.
  const decidingRules = type === 'ssh' ? compileShellPolicy(applicable, connection).rules : compiled.rules;
  const deciding: ExplainedRule[] = decidingRules.map((r) => explainRule(r.policy, r.rule, r.source));
  const masks: ExplainedRule[] = applicable.flatMap((p) => p.spec.rules.flatMap((r, i) =>
    r.action === 'mask' ? [explainRule(p.metadata.name, r.name ?? `${p.metadata.name}#${i}`, r)] : []));
  const dflt: AccessExplanation['default'] = applicable.length === 0
    ? 'no-policy'
    : compiled.defaultDenyPolicy !== undefined
      ? { action: 'deny', policy: compiled.defaultDenyPolicy }
      : { action: 'allow', policy: applicable[0]!.metadata.name };
  const result: Omit<AccessExplanation, 'text'> = {
    identity, connection, connectionDefined, policies: compiled.policies.slice(), rules: [...deciding, ...masks], default: dflt,
  };
  const text = formatAccess(result, deciding.length);
  return { ...result, text: type === 'ssh' && dflt !== 'no-policy' ? `${text}\nport and agent forwarding: denied unless a rule allows the operation` : text };
}

/** Classifies `sql` with the real parser and decides it as the sidecar would, with the reasons. */
export async function explainStatement(docs: readonly PolicyDoc[], identity: Identity, connection: string, sql: string): Promise<StatementExplanation> {
  await loadSqlParser();
  const { compiled } = prepare(docs, identity, connection);
  const classification = classifySql(sql);
  const decision = decide(compiled, classification);
  const statements: ExplainedStatement[] = classification.ok
    ? classification.statements.map((facts) => ({
      facts,
      matches: compiled.rules.flatMap((r) => {
        const hit = matchRule(r, facts);
        return hit === undefined ? [] : [{ policy: r.policy, rule: r.rule, action: r.action, hit }];
      }),
      decision: decideStatement(compiled, facts),
    }))
    : [];
  return { sql, classification, decision, statements, text: formatStatement(identity, connection, classification, decision, statements) };
}

function prepare(docs: readonly PolicyDoc[], identity: Identity, connection: string) {
  const policies = docs.filter((d): d is AccessPolicyDoc => d.kind === 'AccessPolicy');
  const connections = docs.filter((d) => d.kind === 'Connection');
  const applicable = policiesForIdentity(policies, identity).filter((p) => p.spec.connections.includes(connection));
  const compiled: CompiledPolicy = compilePolicies(applicable, connection);
  const connectionDefined = connections.length === 0 || connections.some((c) => c.metadata.name === connection);
  const type = connections.find((c) => c.metadata.name === connection)?.spec.type;
  return { compiled, applicable, connectionDefined, type };
}

function explainRule(policy: string, rule: string, r: Rule): ExplainedRule {
  const criteria = (['statements', 'tables', 'functions', 'commands', 'operations', 'verbs', 'resources', 'namespaces', 'names', 'columns', 'detectors'] as const)
    .flatMap((k) => (r.match[k] === undefined ? [] : [`${k} ${r.match[k].join(', ')}`]));
  return {
    policy, rule, action: r.action, match: criteria.join('; '),
    ...(r.message === undefined ? {} : { message: r.message }),
    ...(r.approvers === undefined ? {} : { approvers: r.approvers }),
    ...(r.timeout === undefined ? {} : { timeout: r.timeout }),
    ...(r.action === 'mask' ? { strategy: r.strategy === 'partial' ? `partial, keep ${r.keep ?? 4}` : (r.strategy ?? 'redact') } : {}),
  };
}

const who = (i: Identity) => `${i.namespace}/${i.serviceAccount}`;

function formatAccess(a: Omit<AccessExplanation, 'text'>, decidingCount: number): string {
  const lines = [`identity ${who(a.identity)} on connection ${a.connection}`];
  if (!a.connectionDefined) lines.push(`  warning: no Connection named ${a.connection} is defined`);
  if (a.default === 'no-policy') {
    lines.push('no access policy applies: every statement is denied (no-policy)');
    return lines.join('\n');
  }
  lines.push(`policies: ${a.policies.join(', ')}`);
  const deciding = a.rules.slice(0, decidingCount);
  const masks = a.rules.slice(decidingCount);
  if (deciding.length > 0) {
    lines.push('rules, the first match decides (deny before approve before allow):');
    deciding.forEach((r, i) => {
      let line = `  ${i + 1}. ${r.action.padEnd(7)} ${r.rule}: ${r.match}`;
      if (r.approvers !== undefined) line += ` (approvers ${r.approvers.join(', ')}, timeout ${r.timeout ?? '10m'})`;
      if (r.message !== undefined) line += ` "${r.message}"`;
      lines.push(line);
    });
  }
  if (masks.length > 0) {
    lines.push('masking (matching values in results are replaced; literals of statements touching these columns are kept out of records):');
    for (const r of masks) lines.push(`  - ${r.rule}: ${r.match} → ${r.strategy ?? 'redact'}`);
  }
  const why = a.default.action === 'deny' ? 'deny from any policy wins' : 'every policy defaults to allow';
  lines.push(`default for anything else: ${a.default.action} (policy ${a.default.policy}; ${why})`);
  return lines.join('\n');
}

function formatStatement(identity: Identity, connection: string, c: Classification, d: SqlDecision, statements: ExplainedStatement[]): string {
  const lines = [`identity ${who(identity)} on connection ${connection}`];
  const source = d.policy === '' ? `rule ${d.rule}` : `rule ${d.rule} of policy ${d.policy}`;
  lines.push(`decision: ${d.action} by ${source}${d.action === 'allow' ? '' : `: ${d.message}`}`);
  if (d.action === 'approve') lines.push(`  approvers ${d.approvers.join(', ')}, timeout ${d.timeoutSeconds}s`);
  if (!c.ok) lines.push(`the parser could not classify the text: ${c.error}`);
  statements.forEach((s, i) => {
    const facts = [`kinds ${s.facts.kinds.join(', ')}`];
    if (s.facts.tables.length > 0) facts.push(`tables ${s.facts.tables.join(', ')}`);
    if (s.facts.functions.length > 0) facts.push(`functions ${s.facts.functions.join(', ')}`);
    lines.push(`statement ${i + 1}: ${facts.join('; ')}`);
    if (s.matches.length === 0) lines.push('  no rule matches');
    for (const m of s.matches) lines.push(`  matches ${m.action} ${m.rule}`);
    lines.push(`  → ${s.decision.action} (${s.decision.rule})`);
  });
  lines.push(`literals redacted in the session record: ${d.redactLiterals ? 'yes' : 'no'}`);
  return lines.join('\n');
}
