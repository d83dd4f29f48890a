// The sidecar's configuration: a zod schema with the defaults a pod (or the local stack) needs.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

export const SIDECAR_ERR_CONFIG = 'SIDECAR_ERR_CONFIG';

const port = z.number().int().min(0).max(65_535);

/** Where the sidecar's own identity token comes from. */
export const TokenSourceConfigSchema = z.discriminatedUnion('type', [
  /** The projected service-account token (audience `chaperone`), re-read on every exchange. */
  z.object({ type: z.literal('file'), path: z.string().min(1).default('/var/run/secrets/chaperone/token') }),
  /** The control plane's development issuer (`chaperone dev` only). */
  z.object({
    type: z.literal('dev'),
    namespace: z.string().min(1),
    serviceAccount: z.string().min(1),
    ttlSeconds: z.number().int().positive().optional(),
  }),
]);

export function sidecarConfigSchema(env: NodeJS.ProcessEnv = process.env) {
  return z.object({
    controlPlane: z.object({
      url: z.url({ protocol: /^https?$/ }),
      /** PEM CA bundle that signed the control plane's certificate. */
      caFile: z.string().min(1).optional(),
      requestTimeoutMs: z.number().int().positive().default(10_000),
    }),
    token: TokenSourceConfigSchema,
    /** Only these connections (the pod's chaperone.dev/connections); default all the identity is granted. */
    connections: z.array(z.string().min(1)).min(1).optional(),
    spoolDir: z.string().min(1).default(defaultSpoolDir(env)),
    admin: z.object({ host: z.string().min(1).default('127.0.0.1'), port: port.default(9090) }).prefault({}),
    /** Where the protocol listeners bind: localhost, inside the pod's network namespace. */
    listenHost: z.string().min(1).default('127.0.0.1'),
    /** Listener port per connection name, over the Connection's spec.listen.port (0 = ephemeral). */
    ports: z.record(z.string(), port).default({}),
    /** Where the CA of the local Kubernetes API endpoint is written (`ca.crt`); default the webhook's mount when present. */
    kubeCaDir: z.string().min(1).optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** How long one bundle long-poll waits on the control plane. */
    bundleWaitSeconds: z.number().int().min(1).max(300).default(30),
  });
}

export type SidecarConfigSchema = ReturnType<typeof sidecarConfigSchema>;
/** What callers write (defaults may be left out). */
export type SidecarConfig = z.input<SidecarConfigSchema>;
/** With every default filled in. */
export type ResolvedSidecarConfig = z.output<SidecarConfigSchema>;

/**
 * In a pod (or as root) the emptyDir at /var/run/chaperone/spool; elsewhere the XDG state
 * directory, `${XDG_STATE_HOME:-~/.local/state}/chaperone/spool`, which a user can write.
 */
export function defaultSpoolDir(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.()): string {
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'chaperone', 'spool');
  if (!env.KUBERNETES_SERVICE_HOST && uid !== 0) return join(env.HOME ?? homedir(), '.local', 'state', 'chaperone', 'spool');
  return '/var/run/chaperone/spool';
}

export type ConfigResult = { ok: true; config: ResolvedSidecarConfig } | { ok: false; error: string };

export function parseSidecarConfig(input: unknown, env: NodeJS.ProcessEnv = process.env): ConfigResult {
  const r = sidecarConfigSchema(env).safeParse(input);
  if (r.success) return { ok: true, config: r.data };
  return { ok: false, error: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
}
