// The webhook's servers: HTTPS POST /mutate answering AdmissionReviews (the handler only decodes and
// answers; inject.ts decides), and a plain-HTTP port with /healthz, /readyz and /metrics.
import { fastify, LogController, type FastifyInstance } from 'fastify';
import type { Server as HttpsServer } from 'node:https';
import type { Server as NetServer } from 'node:net';
import { pino, type Logger } from 'pino';
import { decodeAdmissionReview, encodeReviewResponse, isPodCreate } from './admission-review.js';
import type { WebhookConfig } from './config.js';
import { injectPod, type InjectResult } from './inject.js';
import { createInjectionCache, type InjectionCache } from './injection-cache.js';
import { createWebhookMetrics, outcomeOf, type AdmissionOutcome, type WebhookMetrics } from './metrics.js';
import type { CertificateSource } from './tls/source.js';
import { LOG_REDACT } from '@chaperone/core/log-redact';

export interface Listen { host: string; port: number }

export interface WebhookServerOptions {
  listen: Listen;
  metricsListen: Listen;
  certificates: CertificateSource;
  /** Read on every admission, so a reloaded configuration applies without a restart. */
  config: () => WebhookConfig;
  /** Resolved once at start (see resolveNativeSidecars). */
  nativeSidecars: boolean;
  logger?: Logger;
  /** Pods are small; the API server's own limit is 3 MiB per object. */
  bodyLimitBytes?: number;
}

export interface RunningWebhookServer {
  /** https://host:port; POST /mutate. */
  url: string;
  /** http://host:port; /healthz, /readyz, /metrics. */
  metricsUrl: string;
  metrics: WebhookMetrics;
  close(): Promise<void>;
}

function certificateExpiry(source: CertificateSource): Date | undefined {
  try {
    return source.current().notAfter;
  } catch {
    return undefined;
  }
}

function podName(object: unknown): string | undefined {
  const m = (object as { metadata?: { name?: unknown; generateName?: unknown } } | undefined)?.metadata;
  const name = typeof m?.name === 'string' && m.name ? m.name : typeof m?.generateName === 'string' ? `${m.generateName}*` : undefined;
  return name;
}

/** The pipeline under a guard: a throw is answered like a pod that cannot be patched, and counted as an error. */
function admit(object: unknown, o: WebhookServerOptions, cache: InjectionCache, log: Logger): { result: InjectResult; outcome: AdmissionOutcome } {
  const config = o.config();
  try {
    const result = injectPod(object, { config, nativeSidecars: o.nativeSidecars, cache });
    return { result, outcome: outcomeOf(result) };
  } catch (err) {
    log.error({ err }, 'injection pipeline failed');
    const reason = 'internal error in the webhook (see its log)';
    return { result: config.failureMode === 'deny' ? { kind: 'refuse', reason } : { kind: 'allow-unchanged', reason }, outcome: 'error' };
  }
}

export function buildAdmissionApp(o: WebhookServerOptions, metrics: WebhookMetrics, log: Logger): FastifyInstance<HttpsServer> {
  const initial = o.certificates.current();
  const app = fastify({
    https: { cert: initial.cert, key: initial.key },
    http2: false,
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: o.bodyLimitBytes ?? 4 * 1024 * 1024,
  }) as unknown as FastifyInstance<HttpsServer>;
  // New connections get the new certificate; open ones keep theirs until they close.
  o.certificates.onRotate((c) => {
    app.server.setSecureContext({ cert: c.cert, key: c.key });
    log.info({ notAfter: c.notAfter.toISOString() }, 'serving certificate rotated');
  });

  // Owned by this server; a reloaded config (a new object from o.config()) empties it.
  const cache = createInjectionCache();

  // Bodies fastify refuses before the handler (not JSON, too large) are admission errors too.
  app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
    metrics.admissions.inc({ result: 'error' });
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log.error({ err }, 'admission request failed');
    return reply.code(status).send({ error: err.message });
  });

  app.post('/mutate', async (req, reply) => {
    const end = metrics.duration.startTimer();
    const decoded = decodeAdmissionReview(req.body);
    if (!decoded.ok) {
      metrics.admissions.inc({ result: 'error' });
      end();
      return reply.code(400).send({ error: decoded.error });
    }
    const r = decoded.request;
    const { result, outcome } = isPodCreate(r)
      ? admit(r.object, o, cache, log)
      : { result: { kind: 'skip', reason: 'not a pod creation' } as const, outcome: 'skipped' as const };
    const body = encodeReviewResponse(r.uid, result, result.kind === 'patch' ? cache.patchText(result.patch) : undefined);
    metrics.admissions.inc({ result: outcome });
    end();
    const fields = { uid: r.uid, namespace: r.namespace, pod: podName(r.object), result: outcome, reason: 'reason' in result ? result.reason : undefined };
    if (outcome === 'skipped') log.debug(fields, 'admission');
    else log.info(fields, 'admission');
    // A string with its content-type is sent as is: fastify does not serialise it again.
    return reply.header('content-type', 'application/json; charset=utf-8').send(body);
  });
  return app;
}

export function buildMetricsApp(o: WebhookServerOptions, metrics: WebhookMetrics, admission: FastifyInstance<HttpsServer>, log: Logger) {
  const app = fastify({ loggerInstance: log, logController: new LogController({ disableRequestLogging: true }) });
  app.get('/healthz', async () => ({ status: 'ok' }));
  // Ready: serving HTTPS with a certificate that has not expired.
  app.get('/readyz', async (_req, reply) => {
    const notAfter = certificateExpiry(o.certificates);
    const listening = admission.server.listening;
    const ok = listening && notAfter !== undefined && notAfter.getTime() > Date.now();
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', listening, certificateNotAfter: notAfter?.toISOString() });
  });
  app.get('/metrics', async (_req, reply) => {
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return app;
}

export function defaultLogger(level: string = 'info'): Logger {
  return pino({ name: 'chaperone-webhook', level, redact: LOG_REDACT }, pino.destination({ fd: 2, sync: false }));
}

export async function startWebhookServer(o: WebhookServerOptions): Promise<RunningWebhookServer> {
  const log = o.logger ?? defaultLogger();
  const metrics = createWebhookMetrics(() => certificateExpiry(o.certificates));
  const admission = buildAdmissionApp(o, metrics, log);
  const metricsApp = buildMetricsApp(o, metrics, admission, log);
  try {
    await admission.listen({ host: o.listen.host, port: o.listen.port });
    await metricsApp.listen({ host: o.metricsListen.host, port: o.metricsListen.port });
  } catch (err) {
    await Promise.allSettled([admission.close(), metricsApp.close()]);
    throw err;
  }
  const url = (server: NetServer, scheme: string, host: string): string => {
    const a = server.address();
    const port = typeof a === 'object' && a ? a.port : 0;
    return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  };
  return {
    url: url(admission.server, 'https', o.listen.host),
    metricsUrl: url(metricsApp.server, 'http', o.metricsListen.host),
    metrics,
    async close() {
      await admission.close();
      await metricsApp.close();
    },
  };
}
