// The JWKS verifier with a locally made issuer key: claims, audience, issuer, expiry. The API
// server's own keys and tokens are tested in test/e2e/identity.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { JWTPayload } from 'jose';
import { identityFromClaims, JwksVerifier } from './jwks.js';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const k8s = { namespace: 'agents', serviceaccount: { name: 'bot', uid: 's' }, pod: { name: 'p', uid: 'u' } };

test('tokens are checked for issuer, audience and time, and name their pod', async () => {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k', alg: 'RS256' }] });
  const now = Math.floor(Date.now() / 1000);
  const sign = (claims: JWTPayload, o: { aud?: string; iss?: string; exp?: number } = {}) => new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'k' }).setIssuer(o.iss ?? ISSUER).setAudience(o.aud ?? 'chaperone')
    .setSubject('system:serviceaccount:agents:bot').setIssuedAt(now).setExpirationTime(o.exp ?? now + 600).sign(privateKey);
  const v = new JwksVerifier(jwks, { issuer: ISSUER });
  assert.deepEqual(await v.verify(await sign({ 'kubernetes.io': k8s })), { namespace: 'agents', serviceAccount: 'bot', pod: { name: 'p', uid: 'u' } });
  const cases: [Promise<string>, string][] = [
    [sign({ 'kubernetes.io': k8s }, { aud: 'vault' }), 'AUTH_ERR_TOKEN_AUDIENCE'],
    [sign({ 'kubernetes.io': k8s }, { iss: 'https://other' }), 'AUTH_ERR_TOKEN_INVALID'],
    [sign({ 'kubernetes.io': k8s }, { exp: now - 120 }), 'AUTH_ERR_TOKEN_EXPIRED'],
    [sign({}), 'AUTH_ERR_TOKEN_SUBJECT'],
    [Promise.resolve('not.a.jwt'), 'AUTH_ERR_TOKEN_MALFORMED'],
  ];
  for (const [token, code] of cases) await assert.rejects(v.verify(await token), { code }, code);
  const later = new JwksVerifier(jwks, { issuer: ISSUER, clock: () => new Date((now + 3600) * 1000) });
  await assert.rejects(later.verify(await sign({ 'kubernetes.io': k8s })), { code: 'AUTH_ERR_TOKEN_EXPIRED' });
});

test('identityFromClaims: sub and the kubernetes.io claim must agree', () => {
  const sub = 'system:serviceaccount:agents:bot';
  assert.deepEqual(identityFromClaims({ sub, 'kubernetes.io': { namespace: 'agents', serviceaccount: { name: 'bot' } } }), { namespace: 'agents', serviceAccount: 'bot' });
  for (const payload of [
    { sub, 'kubernetes.io': { namespace: 'ops', serviceaccount: { name: 'bot' } } },
    { sub: 'system:serviceaccount:agents:other', 'kubernetes.io': k8s },
    { sub, 'kubernetes.io': { namespace: 'agents' } },
    { sub },
  ]) assert.throws(() => identityFromClaims(payload), { code: 'AUTH_ERR_TOKEN_SUBJECT' }, JSON.stringify(payload));
});
