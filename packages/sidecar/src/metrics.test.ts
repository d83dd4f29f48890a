// Metric names follow Prometheus conventions, and pre-bound children count where they should.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SidecarMetrics } from './metrics.js';

test('every metric is prefixed, counters end in _total, no other type does, seconds are a suffix', async () => {
  const m = new SidecarMetrics();
  const all = await m.registry.getMetricsAsJSON();
  const names = all.map((x) => x.name);
  for (const required of [
    'chaperone_sidecar_statements_total', 'chaperone_sidecar_statement_duration_seconds',
    'chaperone_sidecar_connections_active', 'chaperone_sidecar_connections_total',
    'chaperone_sidecar_records_queued', 'chaperone_sidecar_records_spooled',
    'chaperone_sidecar_records_sent_total', 'chaperone_sidecar_records_rejected_total',
    'chaperone_sidecar_record_delivery_lag_seconds', 'chaperone_sidecar_bundle_version_info',
    'chaperone_sidecar_exchanges_total', 'chaperone_sidecar_process_resident_memory_bytes',
  ]) assert.ok(names.includes(required), `missing ${required}`);
  for (const metric of all) {
    assert.match(metric.name, /^chaperone_sidecar_[a-z0-9_]+$/, metric.name);
    const type = String(metric.type);
    if (type === 'counter') assert.ok(metric.name.endsWith('_total'), `counter ${metric.name} must end in _total`);
    // prom-client's own nodejs_active_*_total gauges predate the convention; ours follow it.
    else if (!metric.name.startsWith('chaperone_sidecar_nodejs_')) assert.ok(!metric.name.endsWith('_total'), `${type} ${metric.name} must not end in _total`);
    // A unit, when there is one, is the last word before _total (base units only).
    assert.doesNotMatch(metric.name, /_(milliseconds|ms|microseconds|kilobytes|megabytes)(_total)?$/, metric.name);
    if (type === 'histogram') assert.match(metric.name, /_(seconds|bytes)$/, `histogram ${metric.name} needs a base unit`);
    assert.ok(metric.help.length > 0, `${metric.name} needs help text`);
  }
});

test('pre-bound children are reused and count under their labels', async () => {
  const m = new SidecarMetrics({ processMetrics: false });
  const a = m.statementCounter('orders-db', 'deny');
  assert.equal(m.statementCounter('orders-db', 'deny'), a);
  a.inc(); a.inc();
  m.statementCounter('orders-db', 'allow').inc();
  m.statementDurationHistogram('orders-db').observe(0.0001);
  const text = await m.text();
  assert.match(text, /chaperone_sidecar_statements_total\{protocol="postgres",connection="orders-db",decision="deny"\} 2/);
  assert.match(text, /chaperone_sidecar_statements_total\{protocol="postgres",connection="orders-db",decision="allow"\} 1/);
  assert.match(text, /chaperone_sidecar_statement_duration_seconds_bucket\{le="0.0001",protocol="postgres",connection="orders-db"\} 1/);
  assert.match(text, /chaperone_sidecar_statement_duration_seconds_bucket\{le="0.00005",protocol="postgres",connection="orders-db"\} 0/);
  // Counts tallied between scrapes are added once, not again at the next scrape.
  a.inc();
  const again = await m.text();
  assert.match(again, /chaperone_sidecar_statements_total\{protocol="postgres",connection="orders-db",decision="deny"\} 3/);
  assert.match(await m.text(), /chaperone_sidecar_statements_total\{protocol="postgres",connection="orders-db",decision="deny"\} 3/);
});

test('the bundle info gauge shows only the version in force; recorder gauges are read at scrape time', async () => {
  const m = new SidecarMetrics({ processMetrics: false });
  m.setBundleVersion('v1');
  m.setBundleVersion('v2');
  let queued = 3;
  m.bindRecorder({ queued: () => queued, spooled: () => 7, oldestUndeliveredMs: () => Date.now() - 2000 });
  let text = await m.text();
  assert.doesNotMatch(text, /version="v1"/);
  assert.match(text, /chaperone_sidecar_bundle_version_info\{version="v2"\} 1/);
  assert.match(text, /chaperone_sidecar_records_queued 3/);
  assert.match(text, /chaperone_sidecar_records_spooled 7/);
  const lag = Number(/^chaperone_sidecar_record_delivery_lag_seconds (\S+)$/m.exec(text)?.[1]);
  assert.ok(lag >= 2, `lag ${lag}`);
  queued = 0;
  text = await m.text();
  assert.match(text, /chaperone_sidecar_records_queued 0/);
});
