// The compiled-rule skeleton the SQL, shell and Kubernetes deciders share: the policies covering
// a connection, rule names, the fields of every allow/deny/approve rule, precedence, and the
// decisions every decider gives alike (a matching rule's, no policy, the policies' default).
import type { Decision } from '../decision.js';
import { DEFAULT_APPROVAL_TIMEOUT, parseDuration, ruleFamilies } from './rule-terms.js';
import type { RuleFamily } from './rule-terms.js';
import type { AccessPolicyDoc, Rule, RuleMatch } from './types.js';

/** The actions that decide an operation; mask rules only change what comes back. */
export type DecidingAction = 'allow' | 'deny' | 'approve';

/** Precedence: deny before approve before allow. */
export const ACTION_RANK = { deny: 0, approve: 1, allow: 2 } as const;

/** What every compiled deciding rule carries, whatever family it matches in. */
export interface CompiledRuleBase {
  readonly policy: string;
  /** rule.name, or `<policy>#<index>` with the index in the policy's rules. */
  readonly rule: string;
  readonly action: DecidingAction;
  readonly message: string | undefined;
  readonly approvers: readonly string[];
  readonly timeoutSeconds: number;
  readonly source: Rule;
}

export interface CompiledRuleSet<R extends CompiledRuleBase> {
  readonly connection: string;
  /** Names of the policies that cover the connection, in their given order. */
  readonly policies: readonly string[];
  /** Deny rules, then approve, then allow; each group in document order. First match decides. */
  readonly rules: readonly R[];
  /** The first covering policy whose default is deny: it decides what no rule matches. */
  readonly defaultDenyPolicy: string | undefined;
}

export interface CompileRuleSetOptions<R extends CompiledRuleBase> {
  /** Only deciding rules of this family are compiled; the others speak for other connection types. */
  family: RuleFamily;
  /** Adds the family's matchers (from the rule's match) to the common fields of one rule. */
  compileRule: (match: RuleMatch, base: CompiledRuleBase) => R;
  /** Called for each mask rule of the covering policies, in document order, whatever its family. */
  onMask?: (rule: Rule, name: string) => void;
}

export function compileRuleSet<R extends CompiledRuleBase>(
  policies: readonly AccessPolicyDoc[],
  connection: string,
  options: CompileRuleSetOptions<R>,
): CompiledRuleSet<R> {
  const covering = policies.filter((p) => p.spec.connections.includes(connection));
  const rules: R[] = [];
  for (const p of covering) {
    p.spec.rules.forEach((r, i) => {
      const name = r.name ?? `${p.metadata.name}#${i}`;
      if (r.action === 'mask') {
        options.onMask?.(r, name);
        return;
      }
      if (!ruleFamilies(r.match).includes(options.family)) return;
      rules.push(options.compileRule(r.match, {
        policy: p.metadata.name,
        rule: name,
        action: r.action,
        message: r.message,
        approvers: Object.freeze([...(r.approvers ?? [])]),
        timeoutSeconds: parseDuration(r.timeout ?? DEFAULT_APPROVAL_TIMEOUT) ?? 600,
        source: r,
      }));
    });
  }
  rules.sort((a, b) => ACTION_RANK[a.action] - ACTION_RANK[b.action]); // stable: document order within an action
  return {
    connection,
    policies: covering.map((p) => p.metadata.name),
    rules,
    defaultDenyPolicy: covering.find((p) => p.spec.default === 'deny')?.metadata.name,
  };
}

/** A matching rule's decision; `subject` names what is decided in messages (`command "rm"`). */
export function ruleDecision(r: CompiledRuleBase, subject: () => string, naming: 'policy' | 'rule-and-policy' = 'policy'): Decision {
  const ref = { policy: r.policy, rule: r.rule };
  const by = () => (naming === 'policy' ? `policy ${r.policy}` : `rule ${r.rule} of policy ${r.policy}`);
  switch (r.action) {
    case 'deny': return { action: 'deny', ...ref, message: r.message ?? `${subject()} denied by ${by()}` };
    case 'approve': return {
      action: 'approve', ...ref, approvers: [...r.approvers], timeoutSeconds: r.timeoutSeconds,
      message: r.message ?? `${subject()} needs approval under ${by()}`,
    };
    case 'allow': return { action: 'allow', ...ref };
  }
}

/** No policy covers the connection for this identity: everything is denied. */
export function noPolicyDecision(connection: string): Extract<Decision, { action: 'deny' }> {
  return { action: 'deny', policy: '', rule: 'no-policy', message: `no access policy covers connection "${connection}" for this identity` };
}

/** What no rule matches gets: the first default-deny policy denies it, else the first policy allows it. */
export function defaultDecision(set: CompiledRuleSet<CompiledRuleBase>, subject: () => string): Decision {
  if (set.defaultDenyPolicy !== undefined) {
    const policy = set.defaultDenyPolicy;
    return { action: 'deny', policy, rule: 'default', message: `${subject()} is not allowed by any rule of policy ${policy} (default deny)` };
  }
  return { action: 'allow', policy: set.policies[0] ?? '', rule: 'default' };
}
