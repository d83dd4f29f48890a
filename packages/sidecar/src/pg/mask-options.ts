// A connection's masking options from its policy bundle: the compiled mask rules (with the
// control plane's hash key), or undefined when no mask rule covers the connection.
import { compileMasks } from '@chaperone/core/mask/rules';
import type { AccessPolicyDoc } from '@chaperone/core/policy/types';
import type { LineageSource } from './mask-lineage.js';
import { maskPolicyOf } from './mask-rules.js';
import type { MaskCounters } from './mask-session.js';
import type { MaskingOptions } from './types.js';

export function maskingOptions(
  policies: readonly AccessPolicyDoc[], connection: string, maskKey: string, lineage: LineageSource, counters?: MaskCounters,
): MaskingOptions | undefined {
  const compiled = compileMasks(policies, connection, Buffer.from(maskKey, 'base64'));
  if (compiled.columnRules.length + compiled.detectorRules.length === 0) return undefined;
  return { policy: maskPolicyOf(compiled), lineage, ...(counters ? { counters } : {}) };
}
