// The webhook's configuration (chart values → a YAML/JSON file): one zod schema with the defaults.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const port = z.number().int().min(1).max(65_535);

/**
 * The webhook cannot learn the Connections' listen ports from the pod (the pod only names them),
 * so the chart renders this map from the same policy values the control plane reads, into the
 * webhook's ConfigMap; the CLI re-reads the file when the kubelet updates the mounted ConfigMap.
 * The webhook passes these ports to the sidecar (`--port name=port`), so the agent's environment
 * and the sidecar's listeners agree even if a Connection document says otherwise.
 */
const connectionSchema = z.object({
  type: z.enum(['postgres', 'ssh', 'kubernetes']),
  port,
});

/** Connection names are Kubernetes object names (RFC 1123 labels). */
export const CONNECTION_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const quantity = z.string().regex(/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/, 'not a Kubernetes quantity');

export const webhookConfigSchema = z.object({
  sidecar: z.object({
    image: z.string().min(1).default('ghcr.io/chaperone-dev/chaperone:latest'),
    imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
    /** The image's user (the chart runs the same image as 10001); runAsNonRoot needs a numeric user to check. */
    runAsUser: z.number().int().min(1).default(10001),
    /** Where the sidecar serves /healthz, /readyz and /metrics; bound on the pod IP so the kubelet's probes reach it. */
    adminPort: port.default(9090),
    /**
     * prometheus.io/scrape|port|path on injected pods (the admin port's /metrics) for a Prometheus
     * that discovers pods by annotation. The chart turns it off when its PodMonitor scrapes the
     * sidecars (one scrape per sidecar, not two). A pod with its own prometheus.io/* keeps them.
     */
    scrapeAnnotations: z.boolean().default(true),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    resources: z.object({
      requests: z.object({ cpu: quantity.default('50m'), memory: quantity.default('64Mi') }).prefault({}),
      limits: z.object({ cpu: quantity.default('500m'), memory: quantity.default('192Mi') }).prefault({}),
    }).prefault({}),
  }).prefault({}),
  controlPlane: z.object({
    url: z.url({ protocol: /^https?$/ }).default('https://chaperone-control-plane.chaperone.svc:7443'),
    /** A ConfigMap or Secret in the pod's namespace holding the control plane's CA, mounted into the sidecar. */
    ca: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('configMap'), name: z.string().min(1), key: z.string().min(1).default('ca.crt') }),
      z.object({ kind: z.literal('secret'), name: z.string().min(1), key: z.string().min(1).default('ca.crt') }),
    ]).optional(),
  }).prefault({}),
  /** Lifetime of the projected token; Kubernetes refuses less than 600 s. */
  tokenExpirationSeconds: z.number().int().min(600).max(86_400).default(600),
  /** What happens to an opted-in pod the webhook cannot patch safely: admitted unchanged, or refused. */
  failureMode: z.enum(['allow', 'deny']).default('deny'),
  /** auto: native sidecars (init container with restartPolicy Always) on Kubernetes ≥ 1.29. */
  nativeSidecars: z.enum(['auto', 'always', 'never']).default('auto'),
  connections: z.record(z.string().regex(CONNECTION_NAME, 'not a connection name'), connectionSchema).default({}),
});

/** What the file holds (defaults may be left out). */
export type WebhookConfigInput = z.input<typeof webhookConfigSchema>;
/** With every default filled in. */
export type WebhookConfig = z.output<typeof webhookConfigSchema>;

export type ConfigResult = { ok: true; config: WebhookConfig } | { ok: false; error: string };

export function parseWebhookConfig(input: unknown): ConfigResult {
  const r = webhookConfigSchema.safeParse(input ?? {});
  if (r.success) return { ok: true, config: r.data };
  return { ok: false, error: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
}

/** Reads a YAML (or JSON) file; a missing, unreadable or invalid file is an error value. */
export function loadWebhookConfigFile(path: string): ConfigResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { ok: false, error: `${path}: ${(err as Error).message}` };
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return { ok: false, error: `${path}: ${(err as Error).message}` };
  }
  const r = parseWebhookConfig(doc);
  return r.ok ? r : { ok: false, error: `${path}: ${r.error}` };
}

/** Native sidecars are beta and on by default from 1.29 (GA in 1.33); before that, the fallback. */
export const NATIVE_SIDECAR_MIN = { major: 1, minor: 29 } as const;

/** The config's mode and the cluster's version → whether to inject a native sidecar. */
export function resolveNativeSidecars(mode: WebhookConfig['nativeSidecars'], version: { major: number; minor: number } | undefined): boolean {
  switch (mode) {
    case 'always': return true;
    case 'never': return false;
    case 'auto':
      // An unknown version gets the fallback: it runs everywhere, a native sidecar only on ≥ 1.29.
      if (!version) return false;
      return version.major > NATIVE_SIDECAR_MIN.major || (version.major === NATIVE_SIDECAR_MIN.major && version.minor >= NATIVE_SIDECAR_MIN.minor);
  }
}

/** `{major: "1", minor: "37+"}` (VersionApi) → numbers; undefined when unreadable. */
export function parseServerVersion(v: { major?: string; minor?: string }): { major: number; minor: number } | undefined {
  const major = Number.parseInt(v.major ?? '', 10);
  const minor = Number.parseInt(v.minor ?? '', 10);
  return Number.isInteger(major) && Number.isInteger(minor) ? { major, minor } : undefined;
}
