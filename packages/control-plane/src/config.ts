// The control plane's configuration: one zod schema, with the defaults a local stack needs.
import { defaultDataDir as coreDefaultDataDir } from '@chaperone/core/paths';
import { z } from 'zod';

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
  }).default({ static: {}, files: [] }),
  /** Enables POST /v1/dev/tokens, the development stand-in for projected SA tokens. */
  devIssuer: z.boolean().default(false),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Lifetime of grants, in seconds (accepts `15m`, `1h`, …). */
  grantTtl: duration.default(900),
  /** When set, operator routes (sessions) require `Authorization: Bearer <adminToken>`. */
  adminToken: z.string().min(16).optional(),
  /** Largest request body; record batches are the big ones. */
  bodyLimitBytes: z.number().int().positive().default(8 * 1024 * 1024),
});

export type ControlPlaneConfig = z.output<typeof controlPlaneConfigSchema>;
export type ControlPlaneConfigInput = z.input<typeof controlPlaneConfigSchema>;

export type ConfigResult = { ok: true; config: ControlPlaneConfig } | { ok: false; error: string };

/** Validates raw configuration (from flags, env or a file); malformed input is a value. */
export function parseControlPlaneConfig(input: unknown): ConfigResult {
  const r = controlPlaneConfigSchema.safeParse(input ?? {});
  if (r.success) return { ok: true, config: r.data };
  return { ok: false, error: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
}
