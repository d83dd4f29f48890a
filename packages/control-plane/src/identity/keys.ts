// ES256 signing keys kept in the store, so tokens and grants verify across restarts and replicas.
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { JWK, JWTVerifyGetKey } from 'jose';
import type { webcrypto } from 'node:crypto';
import type { KeyPurpose, Store, StoredKey } from '../store/store.js';

export const ALG = 'ES256';

export interface KeySet {
  /** The key new tokens are signed with: the oldest of the purpose, so replicas agree. */
  signer: { kid: string; key: webcrypto.CryptoKey };
  /** Public keys of every key of the purpose, as served at a JWKS URL. */
  jwks: { keys: JWK[] };
  verifyKey: JWTVerifyGetKey;
}

/** Loads the keys of `purpose`, creating the first one when there is none. */
export async function loadKeySet(store: Store, purpose: KeyPurpose): Promise<KeySet> {
  let stored = await store.signingKeys(purpose);
  if (stored.length === 0) {
    const { privateKey } = await generateKeyPair(ALG, { extractable: true });
    const jwk = await exportJWK(privateKey);
    const kid = await calculateJwkThumbprint(publicPart(jwk));
    await store.addSigningKey(purpose, kid, { ...jwk, kid, alg: ALG, use: 'sig' });
    // Another replica may have added one at the same moment; the oldest wins for both.
    stored = await store.signingKeys(purpose);
  }
  return toKeySet(stored);
}

async function toKeySet(stored: StoredKey[]): Promise<KeySet> {
  const first = stored[0];
  if (!first) throw new Error('no signing key');
  const key = await importJWK(first.privateJwk as JWK, ALG);
  const jwks = { keys: stored.map((s) => ({ ...publicPart(s.privateJwk as JWK), kid: s.kid, alg: ALG, use: 'sig' })) };
  return { signer: { kid: first.kid, key: key as webcrypto.CryptoKey }, jwks, verifyKey: createLocalJWKSet(jwks) };
}

function publicPart(jwk: JWK): JWK {
  const { kty, crv, x, y } = jwk;
  return { kty, crv, x, y } as JWK;
}
