// The labels of the pod an identity names, for AccessPolicy podSelector subjects: read from the
// Kubernetes API (the pod's UID must match the token's), cached briefly.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { PodLabels } from '@chaperone/core/policy/subjects';
import type { Identity } from '@chaperone/core/records/types';
import { cpError } from '../errors.js';
import { apiStatus } from './kube-config.js';

export interface PodLabelSource {
  /** undefined when the identity names no pod; throws AUTH_ERR_POD_GONE when its pod is gone. */
  labelsFor(identity: Identity): Promise<PodLabels | undefined>;
}

export type PodReader = Pick<CoreV1Api, 'readNamespacedPod'>;

export interface PodLabelOptions {
  /** How long a pod's labels are reused; a relabelled pod is seen after at most this long. */
  ttlMs?: number;
}

export const DEFAULT_POD_LABEL_TTL_MS = 10_000;

export class KubernetesPodLabels implements PodLabelSource {
  private readonly cache = new Map<string, { labels: PodLabels; until: number }>();
  private readonly ttlMs: number;

  constructor(private readonly api: PodReader, options: PodLabelOptions = {}) {
    this.ttlMs = options.ttlMs ?? DEFAULT_POD_LABEL_TTL_MS;
  }

  static fromKubeConfig(kc: KubeConfig, options: PodLabelOptions = {}): KubernetesPodLabels {
    return new KubernetesPodLabels(kc.makeApiClient(CoreV1Api), options);
  }

  async labelsFor(identity: Identity): Promise<PodLabels | undefined> {
    const pod = identity.pod;
    if (!pod) return undefined;
    // The UID is part of the key: a new pod by the same name is another pod.
    const key = `${identity.namespace}/${pod.name}/${pod.uid}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.labels;
    let found;
    try {
      found = await this.api.readNamespacedPod({ name: pod.name, namespace: identity.namespace });
    } catch (err) {
      if (apiStatus(err) === 404) throw podGone(identity);
      throw cpError('AUTH_ERR_KUBERNETES_UNAVAILABLE', `cannot read pod ${identity.namespace}/${pod.name}: ${(err as Error).message}`, undefined, err);
    }
    // A terminating pod (deletionTimestamp set) still counts: its sidecar is delivering its last records.
    if (found.metadata?.uid !== pod.uid) throw podGone(identity);
    const labels: PodLabels = { ...found.metadata.labels };
    for (const [k, v] of this.cache) if (v.until <= now) this.cache.delete(k);
    this.cache.set(key, { labels, until: now + this.ttlMs });
    return labels;
  }
}

function podGone(identity: Identity) {
  return cpError('AUTH_ERR_POD_GONE', `pod ${identity.namespace}/${identity.pod?.name} of this token no longer exists`);
}
