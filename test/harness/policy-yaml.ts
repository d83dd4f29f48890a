// AccessPolicy documents for tests: one service account on one connection, the given rules, and
// `default: allow`, written out as the YAML a user would keep in a policy file.
export interface TestPolicy {
  name: string;
  serviceAccount: { namespace: string; name: string };
  connection: string;
  /** Each rule as a YAML flow mapping, e.g. `{ action: deny, match: { statements: [drop] } }`. */
  rules: readonly string[];
}

export function accessPolicyYaml(p: TestPolicy): string {
  return `apiVersion: chaperone.dev/v1alpha1
kind: AccessPolicy
metadata: { name: ${p.name} }
spec:
  subjects:
    - serviceAccount: { namespace: ${p.serviceAccount.namespace}, name: ${p.serviceAccount.name} }
  connections: [${p.connection}]
  rules:
${p.rules.map((r) => `    - ${r}\n`).join('')}  default: allow
`;
}
