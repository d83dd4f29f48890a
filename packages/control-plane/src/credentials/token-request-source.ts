// Bearer credentials for `credentials.serviceAccount`: a TokenRequest (the `token` subresource of
// the ServiceAccount) made with the control plane's own Kubernetes identity, which needs
// `create` on `serviceaccounts/token` for the named accounts. Tokens are cached per account and
// lifetime until half their life is gone, so every sidecar gets at least half a lifetime.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Credential } from '@chaperone/core/api';
import { ChaperoneError } from '@chaperone/core/errors';
import { apiStatus } from '../identity/kube-config.js';
import type { CredentialSource, SecretRef, ServiceAccountRef } from './source.js';

export const CREDENTIALS_ERR_TOKEN_REQUEST = 'CREDENTIALS_ERR_TOKEN_REQUEST';

/** The API server's default when a ref names none; TokenRequest's minimum is 600 s. */
export const DEFAULT_TOKEN_SECONDS = 3600;

type Bearer = Extract<Credential, { type: 'bearer' }>;

interface Cached { credential: Bearer; renewAt: number }

export class TokenRequestSource implements CredentialSource {
  private readonly core: CoreV1Api;
  private readonly cache = new Map<string, Cached>();
  private readonly inflight = new Map<string, Promise<Bearer>>();

  constructor(kc: KubeConfig, private readonly now: () => number = Date.now) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** Holds no Secrets: only service-account tokens. */
  async get(_ref: SecretRef): Promise<Credential | undefined> {
    return undefined;
  }

  async serviceAccountToken(ref: ServiceAccountRef): Promise<Bearer> {
    const seconds = Math.max(600, ref.expirationSeconds ?? DEFAULT_TOKEN_SECONDS);
    const key = `${ref.namespace}/${ref.name}/${seconds}`;
    const hit = this.cache.get(key);
    if (hit && this.now() < hit.renewAt) return hit.credential;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.request(ref, seconds, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private async request(ref: ServiceAccountRef, seconds: number, key: string): Promise<Bearer> {
    const issuedAt = this.now();
    let token: string | undefined;
    let expires: Date | undefined;
    try {
      const tr = await this.core.createNamespacedServiceAccountToken({
        name: ref.name, namespace: ref.namespace,
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: seconds } },
      });
      token = tr.status?.token;
      expires = tr.status?.expirationTimestamp === undefined ? undefined : new Date(tr.status.expirationTimestamp);
    } catch (err) {
      throw new ChaperoneError(CREDENTIALS_ERR_TOKEN_REQUEST, `cannot create a token for service account ${ref.namespace}/${ref.name}: ${describe(err)}`, undefined, { cause: err });
    }
    if (!token) throw new ChaperoneError(CREDENTIALS_ERR_TOKEN_REQUEST, `the API server returned no token for service account ${ref.namespace}/${ref.name}`);
    const expiresAt = expires && Number.isFinite(expires.getTime()) ? expires.getTime() : issuedAt + seconds * 1000;
    const credential: Bearer = { type: 'bearer', token, expiresAt: new Date(expiresAt).toISOString() };
    this.cache.set(key, { credential, renewAt: issuedAt + (expiresAt - issuedAt) / 2 });
    return credential;
  }
}

function describe(err: unknown): string {
  const status = apiStatus(err);
  if (status === 403) return 'forbidden (HTTP 403): the control plane needs create on serviceaccounts/token for this account';
  if (status === 404) return 'no such service account (HTTP 404)';
  if (status !== undefined) return `HTTP ${status}`;
  return err instanceof Error ? err.message : String(err);
}
