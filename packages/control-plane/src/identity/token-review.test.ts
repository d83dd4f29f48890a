// TokenReview refusals → codes, from the API server's own texts (captured from kube-apiserver
// v1.37 in test/e2e/identity.test.ts), and identities from UserInfo. The live API is tested there.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UnsecuredJWT } from 'jose';
import { identityFromUserInfo, reviewFailure } from './token-review.js';

const jwt = (claims: Record<string, unknown>): string => new UnsecuredJWT(claims).encode();
const podBound = jwt({ 'kubernetes.io': { namespace: 'agents', pod: { name: 'p', uid: 'u' }, serviceaccount: { name: 'bot', uid: 's' } } });
const secretBound = jwt({ 'kubernetes.io': { namespace: 'agents', secret: { name: 's', uid: 'u' }, serviceaccount: { name: 'bot', uid: 's' } } });

test('reviewFailure: the API server\'s texts map to precise codes', () => {
  const table: [string | undefined, string, string][] = [
    ['[invalid bearer token, token audiences ["vault"] is invalid for the target audiences ["chaperone"]]', podBound, 'AUTH_ERR_TOKEN_AUDIENCE'],
    ['[invalid bearer token, service account token has expired]', podBound, 'AUTH_ERR_TOKEN_EXPIRED'],
    ['[invalid bearer token, serviceaccounts "doomed" not found]', podBound, 'AUTH_ERR_SERVICE_ACCOUNT_UNKNOWN'],
    ['[invalid bearer token, service account token has been invalidated]', podBound, 'AUTH_ERR_POD_GONE'],
    ['[invalid bearer token, service account token has been invalidated]', secretBound, 'AUTH_ERR_TOKEN_REVOKED'],
    ['[invalid bearer token, pod UID (a) does not match service account pod ref claim (b)]', podBound, 'AUTH_ERR_POD_GONE'],
    ['[invalid bearer token, pods "p" not found]', podBound, 'AUTH_ERR_POD_GONE'],
    ['invalid bearer token', 'garbage', 'AUTH_ERR_TOKEN_MALFORMED'],
    ['invalid bearer token', podBound, 'AUTH_ERR_TOKEN_INVALID'],
    [undefined, podBound, 'AUTH_ERR_TOKEN_INVALID'],
  ];
  for (const [text, token, code] of table) assert.equal(reviewFailure(text, token).code, code, String(text));
});

test('identityFromUserInfo: username gives namespace and service account, extra gives the pod', () => {
  const user = {
    username: 'system:serviceaccount:agents:bot',
    extra: { 'authentication.kubernetes.io/pod-name': ['p'], 'authentication.kubernetes.io/pod-uid': ['u'] },
  };
  assert.deepEqual(identityFromUserInfo(user), { namespace: 'agents', serviceAccount: 'bot', pod: { name: 'p', uid: 'u' } });
  assert.deepEqual(identityFromUserInfo({ username: 'system:serviceaccount:agents:bot' }), { namespace: 'agents', serviceAccount: 'bot' });
  assert.deepEqual(identityFromUserInfo({ ...user, extra: { 'authentication.kubernetes.io/pod-name': ['p'] } }), { namespace: 'agents', serviceAccount: 'bot' });
  for (const username of ['admin', 'system:serviceaccount:agents', undefined]) {
    assert.throws(() => identityFromUserInfo(username === undefined ? undefined : { username }), { code: 'AUTH_ERR_TOKEN_SUBJECT' });
  }
});
