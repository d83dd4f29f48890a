// Policy documents for the shell tests, parsed and validated by the real policy loader.
import { parsePolicyText } from '../policy/load.js';
import type { AccessPolicyDoc } from '../policy/types.js';
import { compileShellPolicy } from './policy.js';
import type { CompiledShellPolicy } from './policy.js';

export const CONNECTION = 'web-1';

/** One AccessPolicy on connection web-1 with the given `rules:`/`default:` YAML lines. */
export function shellPolicy(body: string, name = 'ops'): CompiledShellPolicy {
  return compileShellPolicy(shellDocs(body, name), CONNECTION);
}

export function shellDocs(body: string, name = 'ops'): AccessPolicyDoc[] {
  const yaml = `apiVersion: chaperone.dev/v1alpha1
kind: AccessPolicy
metadata: { name: ${name} }
spec:
  subjects: [{ serviceAccount: { namespace: agents, name: ops-bot } }]
  connections: [${CONNECTION}]
${body}
`;
  return parsePolicyText(yaml, 'test.yaml').filter((d): d is AccessPolicyDoc => d.kind === 'AccessPolicy');
}
