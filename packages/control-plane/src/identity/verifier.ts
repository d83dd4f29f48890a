// Who a token says the caller is: the pluggable verifier interface and the shared claim rules.
import { errors as joseErrors } from 'jose';
import type { ChaperoneError } from '@chaperone/core/errors';
import type { Identity } from '@chaperone/core/records/types';
import { cpError } from '../errors.js';

/**
 * Turns a bearer token into an identity or throws a ChaperoneError with an AUTH_ERR_TOKEN_* code.
 * Implementations: DevIssuer (development), Kubernetes TokenReview (later), OIDC/JWKS (later).
 */
export interface TokenVerifier {
  verify(token: string): Promise<Identity>;
}

/** The audience projected service-account tokens are requested with (design brief). */
export const TOKEN_AUDIENCE = 'chaperone';

const SA_PREFIX = 'system:serviceaccount:';

/** Kubernetes' subject for a service account: `system:serviceaccount:<namespace>:<name>`. */
export function subjectOf(identity: Identity): string {
  return `${SA_PREFIX}${identity.namespace}:${identity.serviceAccount}`;
}

/** The identity a `system:serviceaccount:<ns>:<name>` subject names; undefined for anything else. */
export function identityFromSubject(sub: unknown): Identity | undefined {
  if (typeof sub !== 'string' || !sub.startsWith(SA_PREFIX)) return undefined;
  const parts = sub.slice(SA_PREFIX.length).split(':');
  const [namespace, serviceAccount] = parts;
  if (parts.length !== 2 || !namespace || !serviceAccount) return undefined;
  return { namespace, serviceAccount };
}

export function sameIdentity(a: Identity, b: Identity): boolean {
  return a.namespace === b.namespace && a.serviceAccount === b.serviceAccount;
}

/** Maps jose's verification failures to stable codes; `what` prefixes the message. */
export function tokenError(err: unknown, what: string): ChaperoneError {
  if (err instanceof joseErrors.JWTExpired) return cpError('AUTH_ERR_TOKEN_EXPIRED', `${what} has expired`);
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return cpError('AUTH_ERR_TOKEN_AUDIENCE', `${what} is not meant for this audience`);
    return cpError('AUTH_ERR_TOKEN_INVALID', `${what} has an invalid "${err.claim}" claim: ${err.reason}`);
  }
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JOSENotSupported) {
    return cpError('AUTH_ERR_TOKEN_MALFORMED', `${what} is not a valid JWT`);
  }
  if (err instanceof joseErrors.JOSEError) return cpError('AUTH_ERR_TOKEN_INVALID', `${what} does not verify (${err.code})`);
  return cpError('AUTH_ERR_TOKEN_INVALID', `${what} does not verify`);
}

/** Used when no verifier is configured (no dev issuer, no TokenReview yet): every token fails. */
export const noVerifier: TokenVerifier = {
  async verify(): Promise<Identity> {
    throw cpError('AUTH_ERR_TOKEN_INVALID', 'this control plane has no token verifier configured (enable devIssuer for development)');
  },
};
