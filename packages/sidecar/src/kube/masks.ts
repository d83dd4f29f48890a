// The mask rules of one kubernetes connection, as the proxy applies them (core/mask): which
// rule masks Secret values (`resources` covering core `secrets`, whole values or, with
// detectors, the detected spans) and which detector rules run on pod logs.
import { compileResources } from '@chaperone/core/kube/decide';
import { findSensitive, mayContainSensitive } from '@chaperone/core/mask/detectors';
import { compileMasks } from '@chaperone/core/mask/rules';
import type { MaskRule } from '@chaperone/core/mask/rules';
import { maskSpans, maskValue } from '@chaperone/core/mask/strategy';
import type { AccessPolicyDoc } from '@chaperone/core/policy/types';
import type { MaskCounts, ValueMask } from './secret-mask.js';

export interface KubeMasks {
  /** The first mask rule whose resources cover core `secrets`; Secret values pass unmasked without one. */
  secrets: ValueMask | undefined;
  /** Masks detected spans in one log line, counting per rule; undefined when no detector rule applies. */
  logs: ((line: string, counts: MaskCounts) => string) | undefined;
}

export function buildKubeMasks(policies: readonly AccessPolicyDoc[], connection: string, key: Uint8Array): KubeMasks {
  const compiled = compileMasks(policies, connection, key);
  const secretRule = compiled.resourceRules.find((r) => compileResources(r.resources ?? [], true)('', 'secrets', undefined));
  const logRules = compiled.detectorRules;
  return {
    secrets: secretRule === undefined ? undefined : { rule: secretRule.rule, mask: valueMasker(secretRule) },
    logs: logRules.length === 0 ? undefined : (line, counts) => {
      let text = line;
      for (const r of logRules) {
        const detectors = r.detectors;
        if (detectors === undefined || !mayContainSensitive(text, detectors)) continue;
        const hits = findSensitive(text, detectors);
        if (hits.length === 0) continue;
        text = maskSpans(text, hits, r.spec);
        counts[r.rule] = (counts[r.rule] ?? 0) + hits.length;
      }
      return text;
    },
  };
}

/** Whole values, or with detectors only the detected spans inside each value. */
function valueMasker(r: MaskRule): (value: string) => string | null {
  const detectors = r.detectors;
  if (detectors === undefined) return (v) => maskValue(v, r.spec);
  return (v) => {
    if (!mayContainSensitive(v, detectors)) return v;
    const hits = findSensitive(v, detectors);
    return hits.length === 0 ? v : maskSpans(v, hits, r.spec);
  };
}
