// Verifies a projected service-account token offline, by the cluster issuer's public keys (JWKS):
// for a control plane outside the cluster. It cannot see deleted pods or service accounts — a
// token stays valid until it expires — so prefer TokenReview (token-review.ts) where it can run.
import { readFile } from 'node:fs/promises';
import { OpenidApi, WellKnownApi, type KubeConfig } from '@kubernetes/client-node';
import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import type { JSONWebKeySet, JWTPayload, JWTVerifyGetKey } from 'jose';
import type { Identity } from '@chaperone/core/records/types';
import { cpError } from '../errors.js';
import { identityFromSubject, TOKEN_AUDIENCE, tokenError, type TokenVerifier } from './verifier.js';

export interface JwksVerifierOptions {
  /** The cluster's `--service-account-issuer`, compared with `iss` exactly. */
  issuer: string;
  audience?: string;
  /** For tests: the time tokens are checked at. */
  clock?: () => Date;
}

/** The private claim Kubernetes puts into service-account tokens. */
interface KubernetesClaim {
  namespace?: unknown;
  serviceaccount?: { name?: unknown };
  pod?: { name?: unknown; uid?: unknown };
}

export class JwksVerifier implements TokenVerifier {
  constructor(private readonly keys: JWTVerifyGetKey, private readonly options: JwksVerifierOptions) {}

  /** Keys from a JWKS URL (an issuer's public discovery endpoint), fetched and cached by jose. */
  static fromUrl(url: string, options: JwksVerifierOptions): JwksVerifier {
    return new JwksVerifier(createRemoteJWKSet(new URL(url)), options);
  }

  /** Keys from a JWKS file (e.g. saved from `kubectl get --raw /openid/v1/jwks`), read once. */
  static async fromFile(path: string, options: JwksVerifierOptions): Promise<JwksVerifier> {
    let jwks: JSONWebKeySet;
    try {
      jwks = JSON.parse(await readFile(path, 'utf8')) as JSONWebKeySet;
    } catch (err) {
      throw cpError('CONFIG_ERR_INVALID', `cannot read JWKS file ${path}: ${(err as Error).message}`, undefined, err);
    }
    return new JwksVerifier(createLocalJWKSet(jwks), options);
  }

  /**
   * Keys from the API server's `/openid/v1/jwks` through the kubeconfig's credentials (the
   * endpoint needs an authenticated caller); the issuer is discovered when not given.
   */
  static async fromKubernetes(kc: KubeConfig, options: Omit<JwksVerifierOptions, 'issuer'> & { issuer?: string }): Promise<JwksVerifier> {
    let issuer = options.issuer;
    if (issuer === undefined) {
      try {
        const discovery = parsedJson(await kc.makeApiClient(WellKnownApi).getServiceAccountIssuerOpenIDConfiguration()) as { issuer?: unknown } | null;
        if (typeof discovery?.issuer !== 'string') throw new Error('no issuer in /.well-known/openid-configuration');
        issuer = discovery.issuer;
      } catch (err) {
        throw cpError('AUTH_ERR_KUBERNETES_UNAVAILABLE', `cannot discover the service-account issuer: ${(err as Error).message}`, undefined, err);
      }
    }
    return new JwksVerifier(new KubernetesKeySet(kc.makeApiClient(OpenidApi)).getKey, { ...options, issuer });
  }

  async verify(token: string): Promise<Identity> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.options.issuer,
        audience: this.options.audience ?? TOKEN_AUDIENCE,
        ...(this.options.clock ? { currentDate: this.options.clock() } : {}),
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid || isFetchFailure(err)) {
        throw cpError('AUTH_ERR_KUBERNETES_UNAVAILABLE', `cannot get the issuer's keys: ${(err as Error).message}`, undefined, err);
      }
      throw tokenError(err, 'token');
    }
    return identityFromClaims(payload);
  }
}

/** Namespace, service account and pod from the `kubernetes.io` claim, which must agree with `sub`. */
export function identityFromClaims(payload: JWTPayload): Identity {
  const fromSub = identityFromSubject(payload.sub);
  const k8s = payload['kubernetes.io'] as KubernetesClaim | undefined;
  const namespace = k8s?.namespace;
  const serviceAccount = k8s?.serviceaccount?.name;
  if (!fromSub || typeof namespace !== 'string' || typeof serviceAccount !== 'string' ||
    fromSub.namespace !== namespace || fromSub.serviceAccount !== serviceAccount) {
    throw cpError('AUTH_ERR_TOKEN_SUBJECT', 'token is not a Kubernetes service-account token (sub and kubernetes.io claims)');
  }
  const { name, uid } = k8s?.pod ?? {};
  return typeof name === 'string' && typeof uid === 'string' ? { namespace, serviceAccount, pod: { name, uid } } : { namespace, serviceAccount };
}

/** client-node declares these documents as strings but hands over parsed JSON; accept both. */
function parsedJson(body: unknown): unknown {
  return typeof body === 'string' ? JSON.parse(body) : body;
}

function isFetchFailure(err: unknown): boolean {
  return err instanceof TypeError && err.message === 'fetch failed';
}

/** The API server's keys, fetched when first needed and again (at most every 30 s) for an unknown kid. */
class KubernetesKeySet {
  private local: JWTVerifyGetKey | undefined;
  private fetchedAt = 0;
  private fetching: Promise<void> | undefined;

  constructor(private readonly api: OpenidApi, private readonly cooldownMs = 30_000) {}

  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (!this.local) await this.refresh();
    try {
      return await this.local!(header, token);
    } catch (err) {
      // The issuer rotated its key: fetch again, but not on every unknown token.
      if (!(err instanceof joseErrors.JWKSNoMatchingKey) || Date.now() - this.fetchedAt < this.cooldownMs) throw err;
      await this.refresh();
      return this.local!(header, token);
    }
  };

  private refresh(): Promise<void> {
    this.fetching ??= (async () => {
      try {
        const jwks = parsedJson(await this.api.getServiceAccountIssuerOpenIDKeyset()) as JSONWebKeySet;
        this.local = createLocalJWKSet(jwks);
        this.fetchedAt = Date.now();
      } catch (err) {
        throw new joseErrors.JWKSInvalid(`GET /openid/v1/jwks failed: ${(err as Error).message}`);
      } finally {
        this.fetching = undefined;
      }
    })();
    return this.fetching;
  }
}
