// The mask strategies: how one value, or one detected span inside a text, is replaced.
import type { MaskStrategy } from '../policy/types.js';
import type { DetectorHit } from './detectors.js';
import { HmacSha256 } from './hmac.js';

export type { MaskStrategy };

export interface MaskSpec {
  strategy: MaskStrategy;
  /** partial: trailing characters left visible (default 4). */
  keep?: number;
  /** hash: the HMAC-SHA-256 key (the control plane's maskKey, 32 bytes). */
  key: Uint8Array;
}

/** What `redact` puts in place of a whole value or of a span. */
export const REDACTED = '[MASKED]';
export const DEFAULT_KEEP = 4;
/** Prefix of hashed values, so people reading results know they are not data. */
export const HASH_PREFIX = 'h:';
/** base64url characters of the HMAC kept: 16 × 6 = 96 bits, unique enough for joins and GROUP BY. */
const HASH_CHARS = 16;

/** The masked form of one value; null only for strategy `null`. */
export function maskValue(value: string, spec: MaskSpec): string | null {
  switch (spec.strategy) {
    case 'redact': return REDACTED;
    case 'partial': return maskPartial(value, spec.keep ?? DEFAULT_KEEP);
    case 'hash': return maskHash(value, spec.key);
    case 'null': return null;
  }
}

/**
 * Masks the detected spans inside a larger text (logs, free text), keeping the rest. `hits` as
 * findSensitive returns them; out-of-order or overlapping hits are skipped. A span cannot be
 * NULL, so the `null` strategy redacts spans.
 */
export function maskSpans(text: string, hits: readonly DetectorHit[], spec: MaskSpec): string {
  if (hits.length === 0) return text;
  let out = '';
  let at = 0;
  for (const h of hits) {
    if (h.start < at || h.end > text.length || h.end <= h.start) continue;
    out += text.slice(at, h.start) + (maskValue(text.slice(h.start, h.end), spec) ?? REDACTED);
    at = h.end;
  }
  return out + text.slice(at);
}

/**
 * Every character but the last `keep` becomes `*`; separators are not kept, so the length in
 * characters is all that shows of the hidden part. Characters are code points (a surrogate
 * pair is one). At most half of a value stays visible, so a short value is never shown whole.
 */
export function maskPartial(value: string, keep: number): string {
  let points = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length && isLowSurrogate(value.charCodeAt(i + 1))) i++;
    points++;
  }
  const visible = Math.max(0, Math.min(Math.floor(keep), Math.floor(points / 2)));
  let from = value.length;
  for (let k = 0; k < visible; k++) {
    from--;
    if (from > 0 && isLowSurrogate(value.charCodeAt(from)) && isHighSurrogate(value.charCodeAt(from - 1))) from--;
  }
  return '*'.repeat(points - visible) + value.slice(from);
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * Each key's prepared HMAC, a memo of values derived from the key alone (no state that changes
 * results): weakly held, so a replaced key (a new exchange) drops its entry. Keys are not mutated.
 */
const prepared = new WeakMap<Uint8Array, HmacSha256>();

/** `h:` + 16 base64url characters of HMAC-SHA-256(key, UTF-8 value): equal values, equal tokens. */
export function maskHash(value: string, key: Uint8Array): string {
  let hmac = prepared.get(key);
  if (!hmac) prepared.set(key, hmac = new HmacSha256(key));
  return HASH_PREFIX + hmac.memoized(value, HASH_CHARS);
}
