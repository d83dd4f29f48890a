// The control plane's configuration: one zod schema, with the defaults a local stack needs.
import { defaultDataDir as coreDefaultDataDir } from '@chaperone/core/paths';
import { z } from 'zod';
import { decodeMaskKey } from './mask-key.js';

/** See @chaperone/core/paths: XDG data home, or /var/lib/chaperone for root. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return coreDefaultDataDir('control-plane', env);
}

const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** `15m`, `30s`, `1h`, `500ms` or a bare number of seconds → seconds; undefined when malformed. */
export function parseDurationSeconds(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) return undefined;
  const seconds = Number(m[1]) * (DURATION_UNITS[m[2] ?? 's'] ?? 1);
  return seconds > 0 ? seconds : undefined;
}

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const seconds = parseDurationSeconds(v);
  if (seconds === undefined) {
    ctx.addIssue({ code: 'custom', message: `not a duration: ${String(v)} (use e.g. 15m, 30s, 1h)` });
    return z.NEVER;
  }
  return seconds;
});

const credentialSchema = z.object({ username: z.string().min(1), password: z.string() });

const httpUrl = z.string().refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), 'must be an http(s) URL');

/**
 * How exchange tokens are verified. `dev`: the development issuer (with devIssuer: true).
 * `tokenreview`: the Kubernetes TokenReview API (in a cluster; sees deleted pods). `jwks`: the
 * cluster issuer's keys, from jwksUrl, jwksFile or else the API server's /openid/v1/jwks.
 * The Kubernetes API is reached through `kubeconfig`, by default the in-cluster service account.
 */
const identitySchema = z.object({
  mode: z.enum(['dev', 'tokenreview', 'jwks']).default('dev'),
  kubeconfig: z.string().min(1).optional(),
  jwksUrl: httpUrl.optional(),
  jwksFile: z.string().min(1).optional(),
  /** The cluster's service-account issuer; discovered from the API server when keys come from it. */
  issuer: z.string().min(1).optional(),
  audience: z.string().min(1).default('chaperone'),
  /** How long a pod's labels are reused for podSelector subjects (accepts `10s`, `1m`, …). */
  podLabelTtl: duration.default(10),
}).superRefine((v, ctx) => {
  if (v.mode !== 'jwks') {
    for (const field of ['jwksUrl', 'jwksFile', 'issuer'] as const) {
      if (v[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `${field} is only for mode jwks` });
    }
  }
  if (v.jwksUrl !== undefined && v.jwksFile !== undefined) ctx.addIssue({ code: 'custom', path: ['jwksFile'], message: 'give jwksUrl or jwksFile, not both' });
  if ((v.jwksUrl !== undefined || v.jwksFile !== undefined) && v.issuer === undefined) {
    ctx.addIssue({ code: 'custom', path: ['issuer'], message: 'jwksUrl and jwksFile need the issuer (the cluster\'s --service-account-issuer)' });
  }
});

export const controlPlaneConfigSchema = z.object({
  listen: z.object({
    host: z.string().default('127.0.0.1'),
    // 7443 plain HTTP for the local stack; HTTPS when tls is given.
    port: z.number().int().min(0).max(65535).default(7443),
  }).default({ host: '127.0.0.1', port: 7443 }),
  tls: z.object({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
  /** PostgreSQL URL of the store; without it an embedded PostgreSQL runs in `<dataDir>/pg`. */
  databaseUrl: z.string().min(1).optional(),
  dataDir: z.string().min(1).default(() => defaultDataDir()),
  /** Policy YAML files or directories (see @chaperone/core/policy/load). */
  policyPaths: z.array(z.string().min(1)).default([]),
  credentials: z.object({
    /** secret name → credential, for development and tests. */
    static: z.record(z.string(), credentialSchema).default({}),
    /** YAML or JSON files mapping secret name → {username, password}, read on every exchange. */
    files: z.array(z.string().min(1)).default([]),
    /**
     * Kubernetes Secrets (keys `username`, `password`), watched once asked for; reached like
     * identity's Kubernetes API. `namespace` is for secretRefs without one (default: the
     * control plane's own namespace in a cluster, else `default`).
     */
    kubernetes: z.object({ namespace: z.string().min(1).optional() }).optional(),
  }).default({ static: {}, files: [] }),
  identity: identitySchema.default({ mode: 'dev', audience: 'chaperone', podLabelTtl: 10 }),
  /** Enables POST /v1/dev/tokens, the development stand-in for projected SA tokens. */
  devIssuer: z.boolean().default(false),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Lifetime of grants, in seconds (accepts `15m`, `1h`, …). */
  grantTtl: duration.default(900),
  /** When set, operator routes (sessions) require `Authorization: Bearer <adminToken>`. */
  adminToken: z.string().min(16).optional(),
  /**
   * Key of the `hash` mask strategy, base64 of 32 bytes (or a file holding it). Without either
   * the key is created once in the store, shared by replicas on that store.
   */
  maskKey: z.string().refine((v) => decodeMaskKey(v) !== undefined, 'must be the base64 of 32 bytes (openssl rand -base64 32)').optional(),
  maskKeyFile: z.string().min(1).optional(),
  /**
   * Just-in-time approvals. `oidc`: approvers' ID tokens (issuer, audience = client id, the
   * claims holding groups and the approver's name). `notify.webhookUrl`: a Slack-compatible
   * incoming webhook told of each request. `publicUrl`: this control plane's address for people,
   * for links. Without oidc only the admin token (local stack) decides.
   */
  approvals: z.object({
    oidc: z.object({
      issuer: httpUrl,
      audience: z.string().min(1),
      groupsClaim: z.string().min(1).default('groups'),
      usernameClaim: z.string().min(1).default('email'),
    }).optional(),
    notify: z.object({ webhookUrl: httpUrl }).optional(),
    publicUrl: httpUrl.optional(),
  }).default({}),
  /** Largest request body; record batches are the big ones. */
  bodyLimitBytes: z.number().int().positive().default(8 * 1024 * 1024),
}).superRefine((c, ctx) => {
  // Tokens of the development issuer would be refused by any other verifier.
  if (c.maskKey !== undefined && c.maskKeyFile !== undefined) ctx.addIssue({ code: 'custom', path: ['maskKeyFile'], message: 'give maskKey or maskKeyFile, not both' });
  if (c.devIssuer && c.identity.mode !== 'dev') ctx.addIssue({ code: 'custom', path: ['devIssuer'], message: 'devIssuer needs identity.mode dev' });
});

export type ControlPlaneConfig = z.output<typeof controlPlaneConfigSchema>;
export type IdentityConfig = ControlPlaneConfig['identity'];
export type ControlPlaneConfigInput = z.input<typeof controlPlaneConfigSchema>;

export type ConfigResult = { ok: true; config: ControlPlaneConfig } | { ok: false; error: string };

/** Validates raw configuration (from flags, env or a file); malformed input is a value. */
export function parseControlPlaneConfig(input: unknown): ConfigResult {
  const r = controlPlaneConfigSchema.safeParse(input ?? {});
  if (r.success) return { ok: true, config: r.data };
  return { ok: false, error: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
}
