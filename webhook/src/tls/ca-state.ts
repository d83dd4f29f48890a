// The shared CA as stored in the `chaperone-webhook-ca` Secret, and the pure plan of its rotation:
// stage a new CA into the trusted bundle first (old+new), switch signing to it later, and drop a CA
// from the bundle only once it has expired. Every replica runs the same plan; writes are
// compare-and-swap on the Secret's resourceVersion, so the first writer wins and the rest re-read.
import type { CertificateAuthority } from './generate.js';
import { joinPemBundle, parseServingPair, splitPemBundle, parseCertificate } from './pem.js';

/** Secret data keys (type Opaque). */
export const CA_CERT = 'ca.crt';
export const CA_KEY = 'ca.key';
export const NEXT_CERT = 'next.crt';
export const NEXT_KEY = 'next.key';
/** Every CA the webhook configuration's caBundle must trust, PEM concatenated. */
export const CA_BUNDLE = 'ca-bundle.crt';
/** Annotation on the Secret: when the staged CA entered the bundle (RFC 3339). */
export const NEXT_STAGED_AT = 'chaperone.dev/next-ca-staged-at';

export interface CaState {
  /** Signs serving certificates now. */
  active: CertificateAuthority;
  /** Already trusted (in `bundle`), signs nothing yet; promoted once the bundle had time to reach the API server. */
  next?: { ca: CertificateAuthority; stagedAt: Date };
  /** The trusted CAs (PEM each); always contains `active` and `next`. */
  bundle: string[];
}

export interface RotationPolicy {
  /** Stage a new CA once the active one has less than this left. */
  renewBeforeMs: number;
  /** How long a staged CA is only trusted before it starts signing. */
  propagationMs: number;
}

export type CaStep =
  | { kind: 'none' }
  /** The active CA has expired: nothing trusts it any more, so replace it outright. */
  | { kind: 'replace-expired' }
  | { kind: 'stage' }
  | { kind: 'promote' }
  | { kind: 'prune' };

export function freshState(ca: CertificateAuthority): CaState {
  return { active: ca, bundle: [ca.cert] };
}

function same(a: string, b: string): boolean {
  return a.trim() === b.trim();
}

function expired(pem: string, now: number): boolean {
  const p = parseCertificate(pem);
  return !p.ok || p.notAfter.getTime() <= now;
}

export function planCaStep(state: CaState, now: number, policy: RotationPolicy): CaStep {
  if (state.active.notAfter.getTime() <= now) return { kind: 'replace-expired' };
  if (state.next) {
    return state.next.stagedAt.getTime() + policy.propagationMs <= now ? { kind: 'promote' } : { kind: 'none' };
  }
  if (state.active.notAfter.getTime() - now < policy.renewBeforeMs) return { kind: 'stage' };
  if (state.bundle.some((c) => expired(c, now))) return { kind: 'prune' };
  return { kind: 'none' };
}

/** The bundle without expired CAs, with the ones that must be there added. */
function bundleOf(certs: readonly string[], must: readonly string[], now: number): string[] {
  const out: string[] = [];
  for (const c of [...certs.filter((x) => !expired(x, now)), ...must]) if (!out.some((o) => same(o, c))) out.push(c);
  return out;
}

export function stageNext(state: CaState, ca: CertificateAuthority, now: number): CaState {
  return { active: state.active, next: { ca, stagedAt: new Date(now) }, bundle: bundleOf(state.bundle, [state.active.cert, ca.cert], now) };
}

/** The old active CA stays in the bundle until it expires: other replicas may still serve its certificates. */
export function promoteNext(state: CaState, now: number): CaState {
  if (!state.next) return state;
  return { active: state.next.ca, bundle: bundleOf(state.bundle, [state.next.ca.cert], now) };
}

export function pruneBundle(state: CaState, now: number): CaState {
  const must = state.next ? [state.active.cert, state.next.ca.cert] : [state.active.cert];
  return { ...state, bundle: bundleOf(state.bundle, must, now) };
}

/** When the plan next has something to do, barring an expiry in the bundle (the periodic sync covers that). */
export function nextCaDue(state: CaState, policy: RotationPolicy): number {
  if (state.next) return state.next.stagedAt.getTime() + policy.propagationMs;
  return state.active.notAfter.getTime() - policy.renewBeforeMs;
}

export interface EncodedCaSecret {
  data: Record<string, string>;
  annotations: Record<string, string>;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string | undefined => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));

export function encodeCaState(state: CaState): EncodedCaSecret {
  const data: Record<string, string> = {
    [CA_CERT]: b64(state.active.cert),
    [CA_KEY]: b64(state.active.key),
    [CA_BUNDLE]: b64(joinPemBundle(state.bundle)),
  };
  const annotations: Record<string, string> = {};
  if (state.next) {
    data[NEXT_CERT] = b64(state.next.ca.cert);
    data[NEXT_KEY] = b64(state.next.ca.key);
    annotations[NEXT_STAGED_AT] = state.next.stagedAt.toISOString();
  }
  return { data, annotations };
}

function decodeCa(cert: string | undefined, key: string | undefined, what: string): { ok: true; ca: CertificateAuthority } | { ok: false; error: string } {
  if (cert === undefined || key === undefined) return { ok: false, error: `${what}: certificate or key missing` };
  const pair = parseServingPair(cert, key);
  if (!pair.ok) return { ok: false, error: `${what}: ${pair.error}` };
  if (!pair.x509.ca) return { ok: false, error: `${what}: not a CA certificate` };
  return { ok: true, ca: { cert, key, notAfter: pair.notAfter } };
}

/** Reads the Secret's base64 `data`; anything inconsistent is a value, and the caller starts over with a fresh CA. */
export function decodeCaState(data: Record<string, string> | undefined, annotations: Record<string, string> | undefined): { ok: true; state: CaState } | { ok: false; error: string } {
  const active = decodeCa(unb64(data?.[CA_CERT]), unb64(data?.[CA_KEY]), CA_CERT);
  if (!active.ok) return active;
  let next: CaState['next'];
  if (data?.[NEXT_CERT] !== undefined || data?.[NEXT_KEY] !== undefined) {
    const n = decodeCa(unb64(data[NEXT_CERT]), unb64(data[NEXT_KEY]), NEXT_CERT);
    if (!n.ok) return n;
    const stagedAt = new Date(annotations?.[NEXT_STAGED_AT] ?? '');
    if (Number.isNaN(stagedAt.getTime())) return { ok: false, error: `annotation ${NEXT_STAGED_AT} missing or not a time` };
    next = { ca: n.ca, stagedAt };
  }
  const bundle = splitPemBundle(unb64(data?.[CA_BUNDLE]) ?? '');
  for (const must of [active.ca.cert, ...(next ? [next.ca.cert] : [])]) {
    if (!bundle.some((c) => same(c, must))) return { ok: false, error: `${CA_BUNDLE} does not contain every CA that signs or is staged` };
  }
  return { ok: true, state: next ? { active: active.ca, next, bundle } : { active: active.ca, bundle } };
}
