// Grants: the control plane's own JWTs, given to a sidecar at exchange and presented as its
// bearer token on /v1; signed with a persisted ES256 key published as JWKS.
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { JWK } from 'jose';
import type { Identity } from '@chaperone/core/records/types';
import { cpError } from './errors.js';
import { ALG, loadKeySet, type KeySet } from './identity/keys.js';
import { identityFromSubject, subjectOf, tokenError } from './identity/verifier.js';
import type { Store } from './store/store.js';

export const GRANT_ISSUER = 'chaperone-control-plane';
export const GRANT_AUDIENCE = 'chaperone-sidecar';

export interface GrantClaims {
  identity: Identity;
  /** The connections the sidecar asked for at exchange; undefined means all it is granted. */
  connections: string[] | undefined;
  expiresAt: Date;
}

export class GrantAuthority {
  private constructor(private readonly store: Store, private keys: KeySet, readonly ttlSeconds: number) {}

  static async create(store: Store, ttlSeconds: number): Promise<GrantAuthority> {
    return new GrantAuthority(store, await loadKeySet(store, 'grant'), ttlSeconds);
  }

  async issueGrant(identity: Identity, connections?: readonly string[], now = new Date()): Promise<{ grant: string; expiresAt: Date }> {
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + Math.max(1, Math.floor(this.ttlSeconds));
    // The pod rides along so bundle refreshes can match podSelector subjects without the token.
    const grant = await new SignJWT({ ...(connections ? { connections: [...connections] } : {}), ...(identity.pod ? { pod: identity.pod } : {}) })
      .setProtectedHeader({ alg: ALG, kid: this.keys.signer.kid, typ: 'JWT' })
      .setIssuer(GRANT_ISSUER)
      .setAudience(GRANT_AUDIENCE)
      .setSubject(subjectOf(identity))
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.keys.signer.key);
    return { grant, expiresAt: new Date(exp * 1000) };
  }

  /** Throws AUTH_ERR_GRANT_INVALID / AUTH_ERR_GRANT_EXPIRED. */
  async verifyGrant(token: string): Promise<GrantClaims> {
    let payload;
    try {
      payload = (await this.verifyOnce(token)).payload;
    } catch (err) {
      const e = tokenError(err, 'grant');
      throw cpError(e.code === 'AUTH_ERR_TOKEN_EXPIRED' ? 'AUTH_ERR_GRANT_EXPIRED' : 'AUTH_ERR_GRANT_INVALID', e.message);
    }
    const fromSub = identityFromSubject(payload.sub);
    const pod = payload['pod'] as { name?: unknown; uid?: unknown } | undefined;
    const validPod = pod === undefined || (typeof pod === 'object' && pod !== null && typeof pod.name === 'string' && typeof pod.uid === 'string');
    const identity = fromSub && pod && validPod ? { ...fromSub, pod: { name: pod.name as string, uid: pod.uid as string } } : fromSub;
    const connections = payload['connections'];
    const validConnections = connections === undefined || (Array.isArray(connections) && connections.every((c) => typeof c === 'string'));
    if (!identity || !validConnections || !validPod || typeof payload.exp !== 'number') throw cpError('AUTH_ERR_GRANT_INVALID', 'grant claims are malformed');
    return { identity, connections: connections as string[] | undefined, expiresAt: new Date(payload.exp * 1000) };
  }

  /** The public keys, served at /v1/jwks and /.well-known/jwks.json. */
  jwks(): { keys: JWK[] } {
    return this.keys.jwks;
  }

  private async verifyOnce(token: string) {
    const options = { issuer: GRANT_ISSUER, audience: GRANT_AUDIENCE, algorithms: [ALG] };
    try {
      return await jwtVerify(token, this.keys.verifyKey, options);
    } catch (err) {
      // A replica may have signed with a key created after ours were loaded: reload once.
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw err;
      this.keys = await loadKeySet(this.store, 'grant');
      return jwtVerify(token, this.keys.verifyKey, options);
    }
  }
}
