// Every error code the control plane answers with, and the HTTP status it maps to.
import { ChaperoneError } from '@chaperone/core/errors';

/** The registry: code → HTTP status. A code not listed here is a bug (answered as 500). */
export const ERROR_STATUS = {
  API_ERR_VALIDATION: 400,
  API_ERR_NOT_FOUND: 404,
  API_ERR_BODY_TOO_LARGE: 413,
  API_ERR_INTERNAL: 500,
  AUTH_ERR_TOKEN_MISSING: 401,
  AUTH_ERR_TOKEN_MALFORMED: 401,
  AUTH_ERR_TOKEN_INVALID: 401,
  AUTH_ERR_TOKEN_EXPIRED: 401,
  AUTH_ERR_TOKEN_AUDIENCE: 401,
  AUTH_ERR_TOKEN_SUBJECT: 401,
  /** Kubernetes says the token was invalidated: the object it was bound to is gone. */
  AUTH_ERR_TOKEN_REVOKED: 401,
  /** The pod a pod-bound token names no longer exists (or is another pod by that name). */
  AUTH_ERR_POD_GONE: 401,
  /** The token's service account does not exist (any more). */
  AUTH_ERR_SERVICE_ACCOUNT_UNKNOWN: 401,
  /** The Kubernetes API (TokenReview, pod lookup, issuer keys) could not answer. */
  AUTH_ERR_KUBERNETES_UNAVAILABLE: 503,
  AUTH_ERR_GRANT_INVALID: 401,
  AUTH_ERR_GRANT_EXPIRED: 401,
  AUTH_ERR_ADMIN_REQUIRED: 401,
  EXCHANGE_ERR_NO_POLICY: 403,
  EXCHANGE_ERR_CREDENTIAL_MISSING: 503,
  RECORDS_ERR_FORBIDDEN: 403,
  SESSIONS_ERR_NOT_FOUND: 404,
  /** The session recorded no terminal (or none on the channel asked for): nothing to replay. */
  REPLAY_ERR_NO_TERMINAL: 404,
  APPROVALS_ERR_NOT_FOUND: 404,
  /** A decision or withdrawal on an approval that is no longer pending. */
  APPROVALS_ERR_NOT_PENDING: 409,
  /** The approver belongs to none of the groups (or users) the rule names. */
  APPROVALS_ERR_NOT_APPROVER: 403,
  /** Nobody approves their own request. */
  APPROVALS_ERR_SELF_APPROVAL: 403,
  /** A sidecar acting on another identity's approval, or a connection its grant does not cover. */
  APPROVALS_ERR_FORBIDDEN: 403,
  /** The request names no approve rule of the requester's current policies. */
  APPROVALS_ERR_RULE_UNKNOWN: 403,
  /** Decisions need an approver: an OIDC ID token, or the local stack's admin token. */
  APPROVALS_ERR_APPROVER_REQUIRED: 401,
  /** The OIDC issuer's discovery document or keys could not be fetched. */
  APPROVALS_ERR_OIDC_UNAVAILABLE: 503,
  /** The session already has as many pending approvals as one session may (a flood of requests). */
  APPROVALS_ERR_TOO_MANY_PENDING: 429,
  STORE_ERR_UNAVAILABLE: 503,
  EMBEDDED_ERR_START: 500,
  EMBEDDED_ERR_DATA_DIR: 500,
  CONFIG_ERR_INVALID: 500,
} as const;

export type ControlPlaneErrorCode = keyof typeof ERROR_STATUS;

export function cpError(code: ControlPlaneErrorCode, message: string, details?: Record<string, unknown>, cause?: unknown): ChaperoneError {
  return new ChaperoneError(code, message, details, cause === undefined ? undefined : { cause });
}

export function statusForCode(code: string): number {
  return (ERROR_STATUS as Record<string, number>)[code] ?? 500;
}
