// Verifies a projected service-account token by asking the cluster (TokenReview, authentication.k8s.io/v1):
// the default inside a cluster, because the API server also refuses tokens of deleted pods.
import { AuthenticationV1Api, type KubeConfig, type V1TokenReviewStatus, type V1UserInfo } from '@kubernetes/client-node';
import { decodeJwt } from 'jose';
import type { ChaperoneError } from '@chaperone/core/errors';
import type { Identity } from '@chaperone/core/records/types';
import { cpError } from '../errors.js';
import { apiStatus } from './kube-config.js';
import { identityFromSubject, TOKEN_AUDIENCE, type TokenVerifier } from './verifier.js';

/** UserInfo.extra keys the API server sets for pod-bound tokens (KEP-1205, KEP-4193). */
export const EXTRA_POD_NAME = 'authentication.kubernetes.io/pod-name';
export const EXTRA_POD_UID = 'authentication.kubernetes.io/pod-uid';

/** The part of AuthenticationV1Api this verifier uses, so a test can hand in a real one only. */
export type TokenReviewApi = Pick<AuthenticationV1Api, 'createTokenReview'>;

export interface TokenReviewOptions {
  /** The audience the token must carry; `chaperone` (design brief). */
  audience?: string;
}

/**
 * Note on freshness: the API server caches successful authentications for about 10 s, so a
 * token of a just-deleted pod may still be accepted for that long.
 */
export class TokenReviewVerifier implements TokenVerifier {
  private readonly audience: string;

  constructor(private readonly api: TokenReviewApi, options: TokenReviewOptions = {}) {
    this.audience = options.audience ?? TOKEN_AUDIENCE;
  }

  static fromKubeConfig(kc: KubeConfig, options: TokenReviewOptions = {}): TokenReviewVerifier {
    return new TokenReviewVerifier(kc.makeApiClient(AuthenticationV1Api), options);
  }

  async verify(token: string): Promise<Identity> {
    let status: V1TokenReviewStatus | undefined;
    try {
      const review = await this.api.createTokenReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [this.audience] } },
      });
      status = review.status;
    } catch (err) {
      const code = apiStatus(err);
      throw cpError('AUTH_ERR_KUBERNETES_UNAVAILABLE',
        `TokenReview failed${code === undefined ? '' : ` (HTTP ${code}${code === 403 ? ': the control plane may not create tokenreviews' : ''})`}: ${(err as Error).message}`,
        undefined, err);
    }
    if (status?.authenticated !== true) throw reviewFailure(status?.error, token);
    // The review was asked for our audience only; the server lists the ones the token matched.
    if (!status.audiences?.includes(this.audience)) {
      throw cpError('AUTH_ERR_TOKEN_AUDIENCE', `token is not meant for audience "${this.audience}"`);
    }
    return identityFromUserInfo(status.user);
  }
}

/** Namespace and service account from the username, pod name and UID from `extra`. */
export function identityFromUserInfo(user: V1UserInfo | undefined): Identity {
  const identity = identityFromSubject(user?.username);
  if (!identity) throw cpError('AUTH_ERR_TOKEN_SUBJECT', `token is not a service account's (user ${JSON.stringify(user?.username ?? '')})`);
  const name = user?.extra?.[EXTRA_POD_NAME]?.[0];
  const uid = user?.extra?.[EXTRA_POD_UID]?.[0];
  return name && uid ? { ...identity, pod: { name, uid } } : identity;
}

/**
 * The precise failure behind a refused review. The API server only gives text (the union of its
 * authenticators' errors, e.g. `[invalid bearer token, service account token has expired]`), so
 * this is the one place that reads it; the phrases are those of k8s.io/kubernetes
 * pkg/serviceaccount (claims.go, jwt.go) and client-go's lister errors.
 */
export function reviewFailure(error: string | undefined, token: string): ChaperoneError {
  const text = error ?? '';
  if (/token audiences .* is invalid for the target audiences/.test(text)) {
    return cpError('AUTH_ERR_TOKEN_AUDIENCE', `token is not meant for this audience (${text})`);
  }
  if (/service account token has expired/.test(text)) return cpError('AUTH_ERR_TOKEN_EXPIRED', 'token has expired');
  if (/serviceaccounts? "[^"]*" not found/.test(text)) return cpError('AUTH_ERR_SERVICE_ACCOUNT_UNKNOWN', `token's service account does not exist (${text})`);
  if (/pods? "[^"]*" not found|pod UID .* does not match (service account pod ref )?claim/.test(text)) return cpError('AUTH_ERR_POD_GONE', `token's pod no longer exists (${text})`);
  if (/service account token has been invalidated/.test(text)) {
    // The server says only that the bound object is gone; the token's own claims say which kind.
    return boundPod(token)
      ? cpError('AUTH_ERR_POD_GONE', 'token\'s pod no longer exists (the API server invalidated the pod-bound token)')
      : cpError('AUTH_ERR_TOKEN_REVOKED', 'token has been invalidated (the object it was bound to was deleted)');
  }
  if (!looksLikeJwt(token)) return cpError('AUTH_ERR_TOKEN_MALFORMED', 'token is not a valid JWT');
  return cpError('AUTH_ERR_TOKEN_INVALID', `token was not accepted by the Kubernetes API${text ? ` (${text})` : ''}`);
}

/** Whether the (unverified) token names a pod; only used to word a refusal, never to accept. */
function boundPod(token: string): boolean {
  try {
    const k8s = decodeJwt(token)['kubernetes.io'] as { pod?: { name?: unknown } } | undefined;
    return typeof k8s?.pod?.name === 'string';
  } catch {
    return false;
  }
}

function looksLikeJwt(token: string): boolean {
  try {
    decodeJwt(token);
    return true;
  } catch {
    return false;
  }
}
