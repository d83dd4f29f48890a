// The parts of the policy language that deciding code needs beside validation: durations and
// which family a rule belongs to. Kept apart from schema.ts so that code which only decides (the
// sidecar) does not load zod and build the document schemas.
import type { RuleMatch } from './types.js';

const DURATION = /^([1-9][0-9]*)(s|m|h)$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600 } as const;
/** Longest approval wait a rule may ask for: a held statement keeps a database session open. */
export const MAX_APPROVAL_SECONDS = 24 * 3600;
export const DEFAULT_APPROVAL_TIMEOUT = '10m';

/** `30s`, `10m`, `1h` → seconds; anything else → undefined. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS];
}

/** Which connections a rule speaks for, by the match fields it uses (RuleMatch). */
export type RuleFamily = 'sql' | 'shell' | 'kubernetes';
const FAMILY_FIELDS: Record<RuleFamily, readonly (keyof RuleMatch)[]> = {
  sql: ['statements', 'tables', 'functions'],
  shell: ['commands', 'operations'],
  kubernetes: ['verbs', 'resources', 'namespaces', 'names'],
};

/** The families whose fields a deciding (non-mask) rule uses; exactly one in a valid rule. */
export function ruleFamilies(match: RuleMatch): RuleFamily[] {
  return (Object.keys(FAMILY_FIELDS) as RuleFamily[]).filter((f) => FAMILY_FIELDS[f].some((k) => match[k] !== undefined));
}
