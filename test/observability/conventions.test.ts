// Every metric of the sidecar, control plane and webhook registries follows the naming rules
// (conventions.ts): each registry is exercised so labelled series exist, then collected whole.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Registry } from 'prom-client';
import { SidecarMetrics } from '@chaperone/sidecar/metrics';
import { createMetrics, failureReason } from '@chaperone/control-plane/metrics';
import { createWebhookMetrics } from '@chaperone/webhook/metrics';
import { ALLOWED_LABELS, conventionViolations, unboundedValue, type MetricFamily } from './conventions.js';

async function families(registry: Registry): Promise<MetricFamily[]> {
  const declared = new Map<string, readonly string[]>();
  for (const m of registry.getMetricsAsArray() as unknown as { name: string; labelNames?: readonly string[] }[]) {
    declared.set(m.name, m.labelNames ?? []);
  }
  return (await registry.getMetricsAsJSON()).map((m) => ({
    name: m.name, type: String(m.type), labelNames: declared.get(m.name) ?? [],
    series: m.values.map((v) => v.labels as Record<string, string | number>),
  }));
}

function sidecarRegistry(): Registry {
  const m = new SidecarMetrics();
  for (const protocol of ['postgres', 'ssh', 'kubernetes'] as const) {
    for (const decision of ['allow', 'deny', 'approve'] as const) m.statementCounter('orders-db', decision, protocol).inc();
    m.ruleDecision('orders-db', 'deny', 'support#0', protocol);
    m.ruleDecision('orders-db', 'approve', 'writes-need-a-dba', protocol);
    m.statementDurationHistogram('orders-db', protocol).observe(0.002);
    const c = m.connectionMetrics('orders-db', protocol);
    c.total.inc();
    c.active.inc();
    m.bytesCounter('orders-db', 'in', protocol).inc(10);
    m.maskedValues('orders-db', protocol).add('pii', 'email', 2);
    m.approvalWaited('orders-db', 'approved', 12, protocol);
  }
  m.kubernetesRequest('cluster', 'allow', 'get');
  m.kubernetesRequest('cluster', 'deny', 'delete');
  m.kubernetesRequest('cluster', 'deny', 'select * from users');
  m.kubernetesStream('cluster', 'allow', 'exec');
  m.kubernetesStream('cluster', 'deny', 'portforward');
  m.exchange('ok');
  m.exchange('unreachable');
  m.setBundleVersion('9672edec137fe383a9a058405c6b67eb9c91d86f186d941494b1c6245a5fa017');
  m.recordsSent.inc();
  m.recordsRejected.inc(0);
  m.bindRecorder({ queued: () => 1, spooled: () => 2, oldestUndeliveredMs: () => Date.now() - 1000 });
  return m.registry;
}

function controlPlaneRegistry(): Registry {
  const m = createMetrics();
  m.exchanges.inc({ result: 'ok' });
  m.tokenFailures.inc({ reason: failureReason('AUTH_ERR_TOKEN_EXPIRED') });
  m.recordsIngested.inc({ result: 'accepted' });
  m.chainBreaks.inc(0);
  m.httpDuration.observe({ route: '/v1/exchange', method: 'POST', status: '200' }, 0.01);
  m.approvalsPending.set(1);
  m.approvalsTotal.inc({ state: 'pending' });
  m.approvalWait.observe({ state: 'approved' }, 30);
  m.approvalNotifications.inc({ result: 'ok' });
  return m.registry;
}

function webhookRegistry(): Registry {
  const m = createWebhookMetrics(() => new Date(Date.now() + 86_400_000));
  m.admissions.inc({ result: 'injected' });
  m.duration.observe(0.004);
  return m.registry;
}

const COMPONENTS: Record<string, () => Registry> = { sidecar: sidecarRegistry, 'control plane': controlPlaneRegistry, webhook: webhookRegistry };

describe('metric conventions', () => {
  for (const [component, make] of Object.entries(COMPONENTS)) {
    it(`${component}: every metric is chaperone_*, counters _total, units _seconds/_bytes, labels bounded`, async () => {
      const all = await families(make());
      assert.ok(all.length > 10, `${component} registers its metrics and the process metrics`);
      assert.deepEqual(all.flatMap(conventionViolations), []);
    });
  }

  it('process metrics are collected with the component prefix', async () => {
    for (const [component, prefix] of [['sidecar', 'chaperone_sidecar_'], ['control plane', 'chaperone_controlplane_'], ['webhook', 'chaperone_webhook_']] as const) {
      const names = (await families(COMPONENTS[component]!())).map((f) => f.name);
      for (const p of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'process_start_time_seconds']) {
        assert.ok(names.includes(`${prefix}${p}`), `${component} exposes ${prefix}${p}`);
      }
    }
  });

  // The check itself must catch each kind of mistake, or a green run proves nothing.
  it('the check refuses each broken convention', () => {
    const bad: [MetricFamily, RegExp][] = [
      [{ name: 'sidecar_statements_total', type: 'counter', labelNames: [], series: [] }, /must start with chaperone_/],
      [{ name: 'chaperone_sidecar_statements', type: 'counter', labelNames: [], series: [] }, /counter must end in _total/],
      [{ name: 'chaperone_sidecar_connections_total', type: 'gauge', labelNames: [], series: [] }, /only counters end in _total/],
      [{ name: 'chaperone_sidecar_statement_duration_ms', type: 'histogram', labelNames: [], series: [] }, /must end in _seconds or _bytes/],
      [{ name: 'chaperone_sidecar_record_delivery_lag', type: 'gauge', labelNames: [], series: [] }, /a time must be in seconds/],
      [{ name: 'chaperone_sidecar_spool_size', type: 'gauge', labelNames: [], series: [] }, /a size must be in bytes/],
      [{ name: 'chaperone_sidecar_statements_total', type: 'counter', labelNames: ['statement'], series: [] }, /label "statement" is not in the bounded allow-list/],
      [{ name: 'chaperone_sidecar_statements_total', type: 'counter', labelNames: [], series: [{ pod_uid: 'x' }] }, /label "pod_uid"/],
      [{ name: 'chaperone_sidecar_statements_total', type: 'counter', labelNames: ['rule'], series: [{ rule: 'select * from users' }] }, /contains whitespace/],
      [{ name: 'chaperone_sidecar_statements_total', type: 'counter', labelNames: ['connection'], series: [{ connection: '0b6f3f0e-4a4c-4d1e-9a55-1f2d3c4b5a69' }] }, /a UUID/],
    ];
    for (const [family, expected] of bad) {
      const v = conventionViolations(family);
      assert.ok(v.some((s) => expected.test(s)), `${family.name} ${JSON.stringify(family.series)} → ${JSON.stringify(v)}`);
    }
    assert.deepEqual(conventionViolations({ name: 'chaperone_sidecar_statements_total', type: 'counter', labelNames: ['protocol', 'connection', 'decision'], series: [{ protocol: 'postgres', connection: 'orders-db', decision: 'deny' }] }), []);
  });

  it('the allow-list holds no per-request or per-pod label', () => {
    for (const l of ['session', 'session_id', 'statement', 'text', 'pod', 'pod_uid', 'uid', 'user', 'identity', 'namespace', 'service_account', 'url', 'path', 'command']) {
      assert.ok(!(l in ALLOWED_LABELS), l);
    }
    assert.equal(unboundedValue('orders-db'), undefined);
    assert.equal(unboundedValue('support#0'), undefined);
  });
});
