// Builds the approval service for an app: its store, metrics, notification, and its lifetime
// tied to the app's (timers armed when ready, cleared on close).
import type { FastifyInstance } from 'fastify';
import type { ControlPlaneMetrics } from '../metrics.js';
import type { ApprovalStore } from './approval-store.js';
import { ApprovalNotifier } from './notify.js';
import type { OidcApproverVerifier } from './oidc.js';
import { ApprovalService } from './service.js';

export interface ApprovalsDeps {
  oidc?: OidcApproverVerifier;
  /** The control plane's address for people, for links in approvals and notifications. */
  publicUrl?: string;
  /** Slack-compatible incoming webhook told of every new request. */
  webhookUrl?: string;
}

export function createApprovalService(app: FastifyInstance, store: ApprovalStore, metrics: ControlPlaneMetrics, deps: ApprovalsDeps = {}): ApprovalService {
  const notifier = deps.webhookUrl === undefined ? undefined : new ApprovalNotifier({
    webhookUrl: deps.webhookUrl,
    count: (result) => metrics.approvalNotifications.inc({ result }),
    onFailure: (err, approval) => app.log.warn({ err, approval: approval.id }, 'approver notification failed'),
  });
  const service = new ApprovalService({
    store,
    metrics,
    ...(deps.publicUrl ? { publicUrl: deps.publicUrl } : {}),
    ...(notifier ? { onCreated: (a) => notifier.notify(a) } : {}),
    onError: (err, what) => app.log.warn({ err }, what),
  });
  app.addHook('onReady', async () => service.start());
  app.addHook('onClose', async () => {
    service.close();
    await notifier?.settle();
  });
  return service;
}
