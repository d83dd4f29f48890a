// Approvers' OIDC ID tokens: verified with jose against the issuer's JWKS (found through its
// discovery document), issuer and audience checked, groups and name taken from configurable claims.
import { createRemoteJWKSet, jwtVerify, errors as joseErrors } from 'jose';
import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import { cpError } from '../errors.js';
import { tokenError } from '../identity/verifier.js';
import type { Approver } from './approvers.js';

export interface OidcApproverOptions {
  /** Compared with the discovery document's and the token's `iss` exactly. */
  issuer: string;
  /** The OIDC client id the ID tokens are issued to. */
  audience: string;
  /** Claim holding the approver's groups (a dotted path such as `realm_access.roles` works too). */
  groupsClaim?: string;
  /** Claim naming the approver; `sub` when absent from a token. */
  usernameClaim?: string;
  /** For tests: the time tokens are checked at. */
  clock?: () => Date;
}

export class OidcApproverVerifier {
  private keys: Promise<JWTVerifyGetKey> | undefined;

  constructor(private readonly options: OidcApproverOptions) {}

  /** The approver an ID token names; throws AUTH_ERR_TOKEN_* or APPROVALS_ERR_OIDC_UNAVAILABLE. */
  async verify(token: string): Promise<Approver> {
    const keys = await this.jwks();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        ...(this.options.clock ? { currentDate: this.options.clock() } : {}),
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWKSTimeout) throw cpError('APPROVALS_ERR_OIDC_UNAVAILABLE', `the OIDC issuer's keys did not arrive in time`);
      throw tokenError(err, 'approver ID token');
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw cpError('AUTH_ERR_TOKEN_INVALID', 'approver ID token has no subject');
    const usernameClaim = this.options.usernameClaim ?? 'email';
    // An address the IdP has not verified is whatever the user typed: it must not match `user:<email>`.
    const unverified = usernameClaim === 'email' && (payload['email_verified'] === false || payload['email_verified'] === 'false');
    const named = unverified ? undefined : claim(payload, usernameClaim);
    const rawGroups = claim(payload, this.options.groupsClaim ?? 'groups');
    const groups = Array.isArray(rawGroups) ? rawGroups.filter((g): g is string => typeof g === 'string') : typeof rawGroups === 'string' ? [rawGroups] : [];
    return {
      kind: 'oidc',
      subject: `oidc:${this.options.issuer}#${payload.sub}`,
      sub: payload.sub,
      name: typeof named === 'string' && named !== '' ? named : payload.sub,
      groups,
    };
  }

  /** The key set from the discovery document's jwks_uri, looked up once (again after a failure). */
  private jwks(): Promise<JWTVerifyGetKey> {
    this.keys ??= discover(this.options.issuer).catch((err: unknown) => {
      this.keys = undefined;
      throw err;
    });
    return this.keys;
  }
}

async function discover(issuer: string): Promise<JWTVerifyGetKey> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let doc: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    doc = (await res.json()) as typeof doc;
  } catch (err) {
    throw cpError('APPROVALS_ERR_OIDC_UNAVAILABLE', `cannot read the OIDC discovery document ${url}: ${(err as Error).message}`, undefined, err);
  }
  // OpenID Connect Discovery 1.0 §4.3: the issuer in the document must equal the one configured.
  if (doc.issuer !== issuer) throw cpError('APPROVALS_ERR_OIDC_UNAVAILABLE', `discovery document at ${url} names issuer ${String(doc.issuer)}, not ${issuer}`);
  if (typeof doc.jwks_uri !== 'string' || !URL.canParse(doc.jwks_uri)) throw cpError('APPROVALS_ERR_OIDC_UNAVAILABLE', `discovery document at ${url} has no jwks_uri`);
  return createRemoteJWKSet(new URL(doc.jwks_uri));
}

function claim(payload: JWTPayload, path: string): unknown {
  let v: unknown = payload;
  for (const part of path.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}
