// Which AccessPolicies apply to an identity: the control plane picks a bundle with these.
import type { Identity } from '../records/types.js';
import type { AccessPolicyDoc, Subject } from './types.js';

/**
 * A service-account subject matches its namespace exactly and its name exactly or by `*`.
 * Group subjects never match a service-account identity (groups come with OIDC identities).
 */
export function subjectMatches(subject: Subject, identity: Identity): boolean {
  const sa = subject.serviceAccount;
  if (sa === undefined) return false;
  return sa.namespace === identity.namespace && (sa.name === '*' || sa.name === identity.serviceAccount);
}

/** The policies any of whose subjects match the identity, in their given order. */
export function policiesForIdentity(policies: readonly AccessPolicyDoc[], identity: Identity): AccessPolicyDoc[] {
  return policies.filter((p) => p.spec.subjects.some((s) => subjectMatches(s, identity)));
}
