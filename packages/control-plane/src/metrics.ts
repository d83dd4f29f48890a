// The control plane's Prometheus metrics, on a registry owned by one app (never the global one).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const METRIC_PREFIX = 'chaperone_controlplane_';

export interface ControlPlaneMetrics {
  registry: Registry;
  /** result: ok | invalid_token | no_policy | credential_missing | error */
  exchanges: Counter<'result'>;
  /** reason: the AUTH_ERR_* code without its prefix, lowercased (expired, audience, …) */
  tokenFailures: Counter<'reason'>;
  /** result: accepted | duplicate */
  recordsIngested: Counter<'result'>;
  chainBreaks: Counter;
  httpDuration: Histogram<'route' | 'method' | 'status'>;
  /** Approvals waiting for a decision (named by the design brief, without the controlplane prefix). */
  approvalsPending: Gauge;
  /** state: every state an approval enters, pending included */
  approvalsTotal: Counter<'state'>;
  /** From request to final state, by that state. */
  approvalWait: Histogram<'state'>;
  /** result: ok | error (approver webhook deliveries) */
  approvalNotifications: Counter<'result'>;
}

export function createMetrics(): ControlPlaneMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return {
    registry,
    exchanges: new Counter({ name: `${METRIC_PREFIX}exchanges_total`, help: 'Token exchanges by result.', labelNames: ['result'], registers: [registry] }),
    tokenFailures: new Counter({ name: `${METRIC_PREFIX}token_failures_total`, help: 'Rejected tokens and grants by reason.', labelNames: ['reason'], registers: [registry] }),
    recordsIngested: new Counter({ name: `${METRIC_PREFIX}records_ingested_total`, help: 'Session records received, by result.', labelNames: ['result'], registers: [registry] }),
    chainBreaks: new Counter({ name: `${METRIC_PREFIX}chain_breaks_total`, help: 'Session record chains found broken (gap, hash mismatch, conflicting duplicate).', registers: [registry] }),
    httpDuration: new Histogram({
      name: `${METRIC_PREFIX}http_request_duration_seconds`,
      help: 'HTTP request duration by route template, method and status.',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    approvalsPending: new Gauge({ name: 'chaperone_approvals_pending', help: 'Approvals waiting for a decision.', registers: [registry] }),
    approvalsTotal: new Counter({ name: 'chaperone_approvals_total', help: 'Approvals entering each state.', labelNames: ['state'], registers: [registry] }),
    approvalWait: new Histogram({
      name: 'chaperone_approval_wait_seconds',
      help: 'Time from an approval request to its final state, by that state.',
      labelNames: ['state'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [registry],
    }),
    approvalNotifications: new Counter({ name: 'chaperone_approvals_notifications_total', help: 'Approver webhook deliveries by result.', labelNames: ['result'], registers: [registry] }),
  };
}

/** `AUTH_ERR_TOKEN_EXPIRED` → `expired`, `AUTH_ERR_GRANT_INVALID` → `grant_invalid`. */
export function failureReason(code: string): string {
  return code.replace(/^AUTH_ERR_(TOKEN_)?/, '').toLowerCase();
}
