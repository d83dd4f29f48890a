// The mask rules of one kubernetes connection, as the proxy applies them: which rule masks
// Secret values (`resources` matching `secrets`) and which detectors run on pod logs.
import { createHmac } from 'node:crypto';
import { compileResources } from '@chaperone/core/kube/decide';
import type { AccessPolicyDoc, MaskStrategy, Rule } from '@chaperone/core/policy/types';
import type { ValueMask } from './secret-mask.js';

export interface KubeMasks {
  /** The first mask rule whose resources cover core `secrets`; Secret values pass unmasked without one. */
  secrets: ValueMask | undefined;
  /** Masks detected spans in a log line; undefined when no detector rule applies. */
  logs: { rule: string; mask(line: string): { text: string; count: number } } | undefined;
}

export function buildKubeMasks(policies: readonly AccessPolicyDoc[], connection: string, key: Uint8Array): KubeMasks {
  let secrets: ValueMask | undefined;
  for (const p of policies) {
    if (!p.spec.connections.includes(connection)) continue;
    p.spec.rules.forEach((r, i) => {
      if (secrets || r.action !== 'mask' || r.match.resources === undefined) return;
      if (!compileResources(r.match.resources, true)('', 'secrets', undefined)) return;
      secrets = { rule: r.name ?? `${p.metadata.name}#${i}`, mask: valueMasker(r, key) };
    });
  }
  return { secrets, logs: undefined };
}

// TODO(C1): core/mask's maskValue replaces this once it lands; same strategies, same meaning.
function valueMasker(r: Rule, key: Uint8Array): (value: string) => string | null {
  const strategy: MaskStrategy = r.strategy ?? 'redact';
  const keep = r.keep ?? 4;
  switch (strategy) {
    case 'redact': return () => '[MASKED]';
    case 'null': return () => null;
    case 'partial': return (v) => {
      const chars = [...v];
      const shown = Math.min(keep, Math.floor(chars.length / 2));
      return '*'.repeat(chars.length - shown) + chars.slice(chars.length - shown).join('');
    };
    case 'hash': return (v) => `h:${createHmac('sha256', key).update(v).digest('base64url').slice(0, 16)}`;
  }
}
