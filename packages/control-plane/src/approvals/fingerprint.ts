// What an approval is bound to: sha256 (hex) of the canonical JSON of {session, operation}.
import { createHash } from 'node:crypto';
import type { HeldOperation } from '@chaperone/core/api';
import { canonicalJson } from '@chaperone/core/records/canonical';

export function approvalFingerprint(session: string, operation: HeldOperation): string {
  return createHash('sha256').update(canonicalJson({ session, operation })).digest('hex');
}
