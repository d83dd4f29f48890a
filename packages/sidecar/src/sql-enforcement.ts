// Builds a connection's `enforce(text)` for the PostgreSQL proxy: classify (cached by statement
// shape), decide against the connection's compiled policies, and hand back one verdict object
// per classification, so the hot path allocates nothing on a cache hit.
import { compilePolicies, decide } from '@chaperone/core/policy/decide';
import type { AccessPolicyDoc } from '@chaperone/core/policy/types';
import type { Classification } from '@chaperone/core/sql/facts';
import type { SqlVerdict } from './pg/proxy.js';

/** What enforcement needs from the classifier (SqlClassifier fits). */
export interface Classifier {
  classify(text: string): Classification;
}

export function buildEnforcer(policies: readonly AccessPolicyDoc[], connection: string, classifier: Classifier): (text: string) => SqlVerdict {
  const compiled = compilePolicies([...policies], connection);
  // The classifier returns the same Classification object for the same shape, so the verdict
  // (which depends on nothing else) is cached by identity; a new bundle builds a new enforcer.
  const verdicts = new WeakMap<Classification, SqlVerdict>();
  return (text) => {
    const c = classifier.classify(text);
    let verdict = verdicts.get(c);
    if (verdict === undefined) {
      verdict = toVerdict(c, decide(compiled, c));
      verdicts.set(c, verdict);
    }
    return verdict;
  };
}

function toVerdict(c: Classification, d: ReturnType<typeof decide>): SqlVerdict {
  const { redactLiterals, ...decision } = d;
  if (!c.ok) return { decision, kinds: [], tables: [], redactLiterals };
  const kinds = new Set<string>();
  const tables = new Set<string>();
  for (const s of c.statements) {
    for (const k of s.kinds) kinds.add(k);
    for (const t of s.tables) tables.add(t);
  }
  return Object.freeze({ decision, kinds: [...kinds], tables: [...tables], redactLiterals });
}
