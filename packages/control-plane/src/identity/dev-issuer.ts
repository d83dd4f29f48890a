// The development issuer: signs short-lived service-account-like JWTs standing in for the pod's
// projected token, and verifies them. Only enabled with `devIssuer: true`.
import { jwtVerify, SignJWT } from 'jose';
import type { Identity } from '@chaperone/core/records/types';
import { cpError } from '../errors.js';
import type { Store } from '../store/store.js';
import { ALG, loadKeySet, type KeySet } from './keys.js';
import { identityFromSubject, subjectOf, TOKEN_AUDIENCE, tokenError, type TokenVerifier } from './verifier.js';

export const DEV_ISSUER = 'chaperone-dev';
export const DEV_TOKEN_DEFAULT_TTL_SECONDS = 600;
export const DEV_TOKEN_MAX_TTL_SECONDS = 24 * 3600;

export class DevIssuer implements TokenVerifier {
  private constructor(private readonly keys: KeySet) {}

  static async create(store: Store): Promise<DevIssuer> {
    return new DevIssuer(await loadKeySet(store, 'dev-issuer'));
  }

  /** `audience` defaults to `chaperone`; like a real issuer it can mint tokens for other audiences. */
  async issue(identity: Identity, options: { ttlSeconds?: number; now?: Date; audience?: string } = {}): Promise<{ token: string; expiresAt: Date }> {
    const { ttlSeconds = DEV_TOKEN_DEFAULT_TTL_SECONDS, now = new Date(), audience = TOKEN_AUDIENCE } = options;
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + Math.max(1, Math.min(Math.floor(ttlSeconds), DEV_TOKEN_MAX_TTL_SECONDS));
    const token = await new SignJWT({
      // The shape of a projected token's private claims, so consumers see the same thing.
      'kubernetes.io': { namespace: identity.namespace, serviceaccount: { name: identity.serviceAccount } },
    })
      .setProtectedHeader({ alg: ALG, kid: this.keys.signer.kid, typ: 'JWT' })
      .setIssuer(DEV_ISSUER)
      .setAudience(audience)
      .setSubject(subjectOf(identity))
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(exp)
      .sign(this.keys.signer.key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  async verify(token: string): Promise<Identity> {
    let sub: unknown;
    try {
      const { payload } = await jwtVerify(token, this.keys.verifyKey, { issuer: DEV_ISSUER, audience: TOKEN_AUDIENCE, algorithms: [ALG] });
      sub = payload.sub;
    } catch (err) {
      throw tokenError(err, 'token');
    }
    const identity = identityFromSubject(sub);
    if (!identity) throw cpError('AUTH_ERR_TOKEN_SUBJECT', 'token subject is not a service account (system:serviceaccount:<namespace>:<name>)');
    return identity;
  }
}
