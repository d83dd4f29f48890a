// The cluster's Kubernetes version, asked once at start (VersionApi, GET /version), to pick native
// sidecars or the fallback in `auto` mode; an unreachable API server means the fallback, with a log line.
import { KubeConfig as KubeConfigClass, VersionApi, type KubeConfig } from '@kubernetes/client-node';
import { parseServerVersion, resolveNativeSidecars, type WebhookConfig } from './config.js';

export interface ClusterVersion { major: number; minor: number; gitVersion: string }

export type VersionResult = { ok: true; version: ClusterVersion } | { ok: false; error: string };

export async function fetchClusterVersion(kc: KubeConfig): Promise<VersionResult> {
  try {
    const v = await kc.makeApiClient(VersionApi).getCode();
    const parsed = parseServerVersion(v);
    if (!parsed) return { ok: false, error: `unreadable server version major=${v.major} minor=${v.minor}` };
    return { ok: true, version: { ...parsed, gitVersion: v.gitVersion } };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** Native sidecars or not: asks the cluster only in `auto` mode. */
export async function decideNativeSidecars(mode: WebhookConfig['nativeSidecars'], kc: KubeConfig | undefined): Promise<{ native: boolean; why: string }> {
  if (mode !== 'auto') return { native: mode === 'always', why: `nativeSidecars: ${mode}` };
  if (!kc) return { native: false, why: 'nativeSidecars: auto, no Kubernetes API configured: fallback' };
  const v = await fetchClusterVersion(kc);
  if (!v.ok) return { native: false, why: `nativeSidecars: auto, cluster version unknown (${v.error}): fallback` };
  const native = resolveNativeSidecars('auto', v.version);
  return { native, why: `nativeSidecars: auto, cluster ${v.version.gitVersion}: ${native ? 'native' : 'fallback'}` };
}

/** In a pod its service account; elsewhere $KUBECONFIG or ~/.kube/config. */
export function loadDefaultKubeConfig(): KubeConfig {
  const kc = new KubeConfigClass();
  kc.loadFromDefault();
  return kc;
}
