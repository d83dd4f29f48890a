// A connection's masking options from its policy bundle: the compiled mask rules (with the
// control plane's hash key), or undefined when no mask rule covers the connection.
import { randomBytes } from 'node:crypto';
import { compileMasks } from '@chaperone/core/mask/rules';
import type { AccessPolicyDoc } from '@chaperone/core/policy/types';
import type { LineageSource } from './mask-lineage.js';
import { maskPolicyOf } from './mask-rules.js';
import type { MaskCounters } from './mask-session.js';
import type { MaskingOptions } from './types.js';

export function maskingOptions(
  policies: readonly AccessPolicyDoc[], connection: string, maskKey: string, lineage: LineageSource, counters?: MaskCounters,
): MaskingOptions | undefined {
  const given = Buffer.from(typeof maskKey === 'string' ? maskKey : '', 'base64');
  // No usable key from the control plane: a random one still hides values (hashes then differ
  // between sidecars); a weak or empty key would let anyone hash guesses and compare.
  const key = given.length >= 16 ? given : randomBytes(32);
  const compiled = compileMasks(policies, connection, key);
  if (compiled.columnRules.length + compiled.detectorRules.length === 0) return undefined;
  return { policy: maskPolicyOf(compiled), lineage, ...(counters ? { counters } : {}) };
}
