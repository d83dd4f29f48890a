// Which AccessPolicies apply to an identity: the control plane picks a bundle with these.
import type { Identity } from '../records/types.js';
import type { AccessPolicyDoc, Subject } from './types.js';

/** A pod's labels, as read from the Kubernetes API for the pod an identity names. */
export type PodLabels = Readonly<Record<string, string>>;

/**
 * A service-account subject matches its namespace exactly and its name exactly or by `*`; a
 * namespace subject matches every service account of the namespace. A podSelector further needs
 * `podLabels` (the labels of the identity's pod) to hold every label it lists: without them it
 * never matches, so a policy meant for some pods never reaches a caller whose pod is unknown.
 * Group subjects never match a service-account identity (groups come with OIDC identities).
 */
export function subjectMatches(subject: Subject, identity: Identity, podLabels?: PodLabels): boolean {
  const sa = subject.serviceAccount;
  let named: boolean;
  if (sa !== undefined) named = sa.namespace === identity.namespace && (sa.name === '*' || sa.name === identity.serviceAccount);
  else if (subject.namespace !== undefined) named = subject.namespace === identity.namespace;
  else return false;
  if (!named) return false;
  const selector = subject.podSelector;
  if (selector === undefined) return true;
  if (podLabels === undefined) return false;
  return Object.entries(selector.matchLabels).every(([k, v]) => Object.hasOwn(podLabels, k) && podLabels[k] === v);
}

/** The policies any of whose subjects match the identity, in their given order. */
export function policiesForIdentity(policies: readonly AccessPolicyDoc[], identity: Identity, podLabels?: PodLabels): AccessPolicyDoc[] {
  return policies.filter((p) => p.spec.subjects.some((s) => subjectMatches(s, identity, podLabels)));
}

/**
 * Whether matching `identity` against these policies depends on its pod's labels: some subject
 * with a podSelector names the identity's namespace. The control plane reads the pod only then.
 */
export function needsPodLabels(policies: readonly AccessPolicyDoc[], identity: Identity): boolean {
  return policies.some((p) => p.spec.subjects.some((s) => s.podSelector !== undefined &&
    (s.serviceAccount?.namespace ?? s.namespace) === identity.namespace));
}
