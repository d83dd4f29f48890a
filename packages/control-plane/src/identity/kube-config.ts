// How the control plane reaches the Kubernetes API: a kubeconfig file, else the in-cluster
// service account (the Deployment's own token and CA).
import { existsSync, readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { cpError } from '../errors.js';

/** Where the kubelet mounts a pod's service-account files (token, ca.crt, namespace). */
export const IN_CLUSTER_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** `path` when given, else the in-cluster configuration; CONFIG_ERR_INVALID when neither exists. */
export function loadKubeConfig(path?: string, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  if (path !== undefined) {
    try {
      kc.loadFromFile(path);
    } catch (err) {
      throw cpError('CONFIG_ERR_INVALID', `cannot read kubeconfig ${path}: ${(err as Error).message}`, undefined, err);
    }
    return kc;
  }
  if (!env.KUBERNETES_SERVICE_HOST || !existsSync(`${IN_CLUSTER_DIR}/token`)) {
    throw cpError('CONFIG_ERR_INVALID', 'not running in a Kubernetes pod (no KUBERNETES_SERVICE_HOST or service-account token): give identity.kubeconfig');
  }
  kc.loadFromCluster();
  return kc;
}

/** The namespace this process runs in (in-cluster), else undefined. */
export function inClusterNamespace(): string | undefined {
  try {
    return readFileSync(`${IN_CLUSTER_DIR}/namespace`, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The HTTP status of a client-node ApiException, or undefined for transport errors. */
export function apiStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}
