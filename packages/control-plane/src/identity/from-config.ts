// Builds the token verifier, the pod-label source and the Kubernetes client that identity.* and
// credentials.kubernetes in the configuration ask for.
import type { KubeConfig } from '@kubernetes/client-node';
import type { ControlPlaneConfig } from '../config.js';
import type { DevIssuer } from './dev-issuer.js';
import { JwksVerifier } from './jwks.js';
import { loadKubeConfig } from './kube-config.js';
import { KubernetesPodLabels, type PodLabelSource } from './pod-labels.js';
import { TokenReviewVerifier } from './token-review.js';
import { noVerifier, type TokenVerifier } from './verifier.js';

export interface IdentitySetup {
  verifier: TokenVerifier;
  /** Present whenever the Kubernetes API is reachable (tokenreview, jwks by the API server, a kubeconfig). */
  podLabels?: PodLabelSource;
  /** The client the Kubernetes parts share; undefined when nothing needs the API. */
  kube?: KubeConfig;
}

export async function identityFromConfig(config: ControlPlaneConfig, devIssuer: DevIssuer | undefined): Promise<IdentitySetup> {
  const id = config.identity;
  const keysFromFileOrUrl = id.jwksUrl !== undefined || id.jwksFile !== undefined;
  // jwks from a URL or file needs no API server, unless a kubeconfig is given or Secrets are wanted.
  const wantsKube = id.mode === 'tokenreview' || (id.mode === 'jwks' && !keysFromFileOrUrl) ||
    id.kubeconfig !== undefined || config.credentials.kubernetes !== undefined;
  const kube = wantsKube ? loadKubeConfig(id.kubeconfig) : undefined;
  const podLabels = kube ? KubernetesPodLabels.fromKubeConfig(kube, { ttlMs: id.podLabelTtl * 1000 }) : undefined;
  const options = { audience: id.audience };
  let verifier: TokenVerifier;
  switch (id.mode) {
    case 'dev':
      verifier = devIssuer ?? noVerifier;
      break;
    case 'tokenreview':
      verifier = TokenReviewVerifier.fromKubeConfig(kube!, options);
      break;
    case 'jwks':
      if (id.jwksFile !== undefined) verifier = await JwksVerifier.fromFile(id.jwksFile, { ...options, issuer: id.issuer! });
      else if (id.jwksUrl !== undefined) verifier = JwksVerifier.fromUrl(id.jwksUrl, { ...options, issuer: id.issuer! });
      else verifier = await JwksVerifier.fromKubernetes(kube!, { ...options, ...(id.issuer ? { issuer: id.issuer } : {}) });
      break;
  }
  return { verifier, ...(podLabels ? { podLabels } : {}), ...(kube ? { kube } : {}) };
}
