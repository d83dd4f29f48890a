// Keeps `webhooks[*].clientConfig.caBundle` of the webhook's MutatingWebhookConfiguration equal to
// the trusted CA bundle: a JSON patch with only the entries that differ, each guarded by a `test`
// of the webhook's name so a concurrent edit that reorders the list makes the patch fail, not misfire.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { AdmissionregistrationV1Api, V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { joinPemBundle } from './pem.js';
import { apiStatus } from './kube-errors.js';

export type JsonPatchOp =
  | { op: 'test'; path: string; value: unknown }
  | { op: 'add'; path: string; value: unknown };

/** caBundle is base64 of the PEM bundle (the API's `format: byte`). */
export function encodeCaBundle(certs: readonly string[]): string {
  return Buffer.from(joinPemBundle(certs), 'utf8').toString('base64');
}

/** The patch that sets every webhook's caBundle to `caBundle`; empty when all already have it. */
export function caBundlePatch(config: V1MutatingWebhookConfiguration, caBundle: string): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  (config.webhooks ?? []).forEach((w, i) => {
    if (w.clientConfig?.caBundle === caBundle) return;
    ops.push({ op: 'test', path: `/webhooks/${i}/name`, value: w.name });
    // `add` on an existing member replaces it (RFC 6902 4.1), so one op covers set and unset.
    ops.push({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle });
  });
  return ops;
}

export type CaBundleResult =
  | { kind: 'unchanged' }
  | { kind: 'patched'; webhooks: number }
  /** Not created yet (the chart creates it; a test may create it later): retried on the next sync. */
  | { kind: 'missing' };

export async function ensureCaBundle(api: AdmissionregistrationV1Api, name: string, certs: readonly string[]): Promise<CaBundleResult> {
  let config: V1MutatingWebhookConfiguration;
  try {
    config = await api.readMutatingWebhookConfiguration({ name });
  } catch (err) {
    if (apiStatus(err) === 404) return { kind: 'missing' };
    throw err;
  }
  const ops = caBundlePatch(config, encodeCaBundle(certs));
  if (ops.length === 0) return { kind: 'unchanged' };
  await api.patchMutatingWebhookConfiguration({ name, body: ops }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
  return { kind: 'patched', webhooks: ops.length / 2 };
}
