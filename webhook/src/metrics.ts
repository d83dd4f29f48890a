// The webhook's Prometheus metrics, on a registry owned by one server (never the global one).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { InjectResult } from './inject.js';

export const METRIC_PREFIX = 'chaperone_webhook_';

export type AdmissionOutcome = 'injected' | 'skipped' | 'refused' | 'allowed_unchanged' | 'error';
const OUTCOMES: readonly AdmissionOutcome[] = ['injected', 'skipped', 'refused', 'allowed_unchanged', 'error'];

export interface WebhookMetrics {
  registry: Registry;
  admissions: Counter<'result'>;
  duration: Histogram;
}

export function outcomeOf(result: InjectResult): AdmissionOutcome {
  switch (result.kind) {
    case 'patch': return 'injected';
    case 'skip': return 'skipped';
    case 'refuse': return 'refused';
    case 'allow-unchanged': return 'allowed_unchanged';
  }
}

/** `certificateNotAfter` is read at scrape time, so a rotation shows without bookkeeping. */
export function createWebhookMetrics(certificateNotAfter: () => Date | undefined): WebhookMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const admissions = new Counter({
    name: `${METRIC_PREFIX}admissions_total`, help: 'AdmissionReviews answered, by result.', labelNames: ['result'], registers: [registry],
  });
  // Every result from the start, so rate() and alerts see zeros rather than absent series.
  for (const result of OUTCOMES) admissions.inc({ result }, 0);
  const duration = new Histogram({
    name: `${METRIC_PREFIX}admission_duration_seconds`,
    help: 'Time from an AdmissionReview received to its answer (decode, pipeline, encode).',
    // The goal is p99 ≤ 20 ms; the buckets are dense around it.
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  new Gauge({
    name: `${METRIC_PREFIX}certificate_expiry_timestamp_seconds`,
    help: 'notAfter of the serving certificate, in seconds since the epoch.',
    registers: [registry],
    collect() {
      const notAfter = certificateNotAfter();
      if (notAfter) this.set(notAfter.getTime() / 1000);
    },
  });
  return { registry, admissions, duration };
}
