// The approve rule an approval request names, looked up in the requester's own policies: who may
// approve comes from the policy, never from what the sidecar says.
import type { RuleRef } from '@chaperone/core/decision';
import type { PolicyBundle, Rule } from '@chaperone/core/policy/types';

export type RuleLookup =
  | { ok: true; rule: Rule }
  | { ok: false; message: string };

/** Finds `ref` (rule name, else `<policy>#<index>`, as core/policy/decide.ts names rules) among the bundle's approve rules. */
export function approveRule(bundle: PolicyBundle | undefined, ref: RuleRef, connection: string): RuleLookup {
  const policy = bundle?.policies.find((p) => p.metadata.name === ref.policy);
  if (!policy) return { ok: false, message: `no access policy ${ref.policy} applies to this identity` };
  if (!policy.spec.connections.includes(connection)) return { ok: false, message: `access policy ${ref.policy} does not cover connection ${connection}` };
  const rule = policy.spec.rules.find((r, i) => (r.name ?? `${policy.metadata.name}#${i}`) === ref.rule);
  if (!rule) return { ok: false, message: `access policy ${ref.policy} has no rule ${ref.rule}` };
  if (rule.action !== 'approve') return { ok: false, message: `rule ${ref.rule} of ${ref.policy} is a ${rule.action} rule, not approve` };
  return { ok: true, rule };
}
