// Reads and writes the shared CA Secret. Create is create-if-absent (409: another replica won) and
// replace carries the resourceVersion it read (409: someone changed it; re-read and re-plan).
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { decodeCaState, encodeCaState } from './ca-state.js';
import type { CaState } from './ca-state.js';
import { apiStatus } from './kube-errors.js';

export const DEFAULT_CA_SECRET = 'chaperone-webhook-ca';

export type CaSecretRead =
  | { kind: 'absent' }
  | { kind: 'found'; state: CaState; resourceVersion: string }
  | { kind: 'malformed'; error: string; resourceVersion: string };

export interface CaSecretRef {
  api: CoreV1Api;
  namespace: string;
  name: string;
}

export async function readCaSecret(ref: CaSecretRef): Promise<CaSecretRead> {
  let secret: V1Secret;
  try {
    secret = await ref.api.readNamespacedSecret({ name: ref.name, namespace: ref.namespace });
  } catch (err) {
    if (apiStatus(err) === 404) return { kind: 'absent' };
    throw err;
  }
  const resourceVersion = secret.metadata?.resourceVersion ?? '';
  const decoded = decodeCaState(secret.data, secret.metadata?.annotations);
  return decoded.ok ? { kind: 'found', state: decoded.state, resourceVersion } : { kind: 'malformed', error: decoded.error, resourceVersion };
}

function body(ref: CaSecretRef, state: CaState, resourceVersion?: string): V1Secret {
  const { data, annotations } = encodeCaState(state);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      labels: { 'app.kubernetes.io/component': 'webhook', 'app.kubernetes.io/managed-by': 'chaperone' },
      annotations,
      ...(resourceVersion === undefined ? {} : { resourceVersion }),
    },
    data,
  };
}

/** 'exists' when another replica created it first. */
export async function createCaSecret(ref: CaSecretRef, state: CaState): Promise<'created' | 'exists'> {
  try {
    await ref.api.createNamespacedSecret({ namespace: ref.namespace, body: body(ref, state) });
    return 'created';
  } catch (err) {
    if (apiStatus(err) === 409) return 'exists';
    throw err;
  }
}

/** Compare-and-swap on resourceVersion; 'conflict' when the Secret changed (or vanished) since it was read. */
export async function replaceCaSecret(ref: CaSecretRef, state: CaState, resourceVersion: string): Promise<'replaced' | 'conflict'> {
  try {
    await ref.api.replaceNamespacedSecret({ name: ref.name, namespace: ref.namespace, body: body(ref, state, resourceVersion) });
    return 'replaced';
  } catch (err) {
    const status = apiStatus(err);
    if (status === 409 || status === 404) return 'conflict';
    throw err;
  }
}
