// The shipped dashboard and alerts against a real Prometheus scraping a real local stack:
// `chaperone dev` (control plane, sidecar, demo PostgreSQL) and the webhook on loopback, with
// allowed, denied, masked and approved statements, a refused token and admissions flowing. Every
// dashboard query must return data, every alert expression must be valid and evaluate cleanly,
// `promtool check rules` / `promtool test rules` pass on the rules the chart renders, and every
// scraped chaperone series follows the metric conventions.
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { stringify } from 'yaml';
import { parseWebhookConfig } from '@chaperone/webhook/config';
import { startWebhookServer, type RunningWebhookServer } from '@chaperone/webhook/server';
import { loopbackCertificate } from '@chaperone/webhook/static-certificates';
import { pino } from 'pino';
import { run } from '../harness/postgres.js';
import { CliProcess, DEMO_POLICY, eventually, tempDir } from '../e2e/support.js';
import { conventionViolations } from './conventions.js';
import { prometheusBinary, scrapedFamilies, startPrometheus, type RunningPrometheus } from './prometheus-server.js';
import { dashboardQueries, labelValuesQuery, needsProtocolStack, RELEASE, resolveVariables, shippedDashboard, shippedRules, type Dashboard, type RuleFile } from './shipped.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** The promtool unit tests live in the source tree (test/observability), also when this runs from test/dist. */
const ALERT_TESTS = join(HERE.replace(/\/test\/dist\//, '/test/'), 'alerts.test.yaml');

/** An opted-in pod, as the API server would send it. */
function admissionReview(uid: string, name: string) {
  return {
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: {
      uid, kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'agents', operation: 'CREATE', userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: {
        apiVersion: 'v1', kind: 'Pod',
        metadata: { name, namespace: 'agents', annotations: { 'chaperone.dev/inject': 'true' }, labels: { 'chaperone.dev/inject': 'true' } },
        spec: { serviceAccountName: 'agent', containers: [{ name: 'agent', image: 'agent:1' }] },
      },
    },
  };
}

function postAdmission(url: string, ca: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/mutate`, { method: 'POST', ca, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('observability on a real Prometheus', () => {
  const dir = tempDir('observability');
  const env = { XDG_STATE_HOME: join(dir.path, 'state'), XDG_DATA_HOME: join(dir.path, 'xdg-data') };
  let dev: CliProcess;
  let webhook: RunningWebhookServer;
  let prom: RunningPrometheus;
  let rules: RuleFile;
  let dashboard: Dashboard;
  let dashboardLabels: Record<string, string>;
  const rulesPath = join(dir.path, 'rules.yaml');

  before(async () => {
    prometheusBinary('prometheus');
    rules = await shippedRules();
    writeFileSync(rulesPath, stringify(rules));
    ({ dashboard, labels: dashboardLabels } = await shippedDashboard());

    dev = CliProcess.start(['dev', '--policy', DEMO_POLICY, '--data-dir', join(dir.path, 'data')], env);
    const ready = JSON.parse(await dev.line((l) => l.startsWith('{'), 'the ready line of `chaperone dev`')) as { postgres: string; controlPlane: string };
    const printed = /chaperone dev: metrics: sidecar (\S+), control plane (\S+)\n/.exec(dev.stderr);
    assert.ok(printed, `chaperone dev prints where its metrics are:\n${dev.stderr}`);
    const [, sidecarMetrics, controlPlaneMetrics] = printed as unknown as [string, string, string];
    assert.equal(controlPlaneMetrics, `${ready.controlPlane}/metrics`);

    const cert = await loopbackCertificate();
    const parsed = parseWebhookConfig({ sidecar: { image: 'chaperone:observability' }, failureMode: 'allow', connections: { demo: { type: 'postgres', port: 5432 } } });
    if (!parsed.ok) throw new Error(parsed.error);
    const webhookConfig = parsed.config;
    const { staticCertificates } = await import('@chaperone/webhook/static-certificates');
    webhook = await startWebhookServer({
      listen: { host: '127.0.0.1', port: 0 }, metricsListen: { host: '127.0.0.1', port: 0 }, certificates: staticCertificates(cert),
      config: () => webhookConfig, nativeSidecars: true, logger: pino({ level: 'silent' }),
    });

    prom = await startPrometheus(join(dir.path, 'prometheus'), [
      // The job names the chart's ServiceMonitors and PodMonitor give, which the alert rules match.
      { job: `${RELEASE}-sidecar`, url: sidecarMetrics },
      { job: `${RELEASE}-control-plane`, url: controlPlaneMetrics },
      { job: `${RELEASE}-webhook`, url: `${webhook.metricsUrl}/metrics` },
    ], [rulesPath]);

    // Traffic: allowed, masked and denied statements, a held DELETE approved by the admin.
    const stateFile = JSON.parse(readFileSync(join(env.XDG_STATE_HOME, 'chaperone', 'dev.json'), 'utf8')) as { adminToken: string };
    const sql = postgres(ready.postgres, { max: 1, onnotice: () => undefined, connect_timeout: 10 });
    try {
      for (let i = 0; i < 5; i++) await sql`select id, name from customers where id = ${i + 1}`;
      await sql.unsafe('select email from customers limit 3');
      await assert.rejects(sql.unsafe('DROP TABLE customers'), { code: '42501' });
      // postgres.js sends a query when it is awaited: then() starts it while the test approves.
      const held = sql.unsafe('DELETE FROM orders WHERE id = -1').then((rows) => rows);
      const admin = { authorization: `Bearer ${stateFile.adminToken}`, 'content-type': 'application/json' };
      const pending = await eventually('the held DELETE pending at the control plane', async () => {
        const list = (await (await fetch(`${ready.controlPlane}/v1/approvals?state=pending`, { headers: admin })).json()) as { id: string }[];
        return list[0];
      }, 60_000);
      const decided = await fetch(`${ready.controlPlane}/v1/approvals/${pending.id}/decision`, { method: 'POST', headers: admin, body: JSON.stringify({ decision: 'approve', reason: 'observability test' }) });
      assert.equal(decided.status, 200, await decided.text());
      await held;
    } finally {
      await sql.end();
    }
    const refused = await fetch(`${ready.controlPlane}/v1/exchange`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'not-a-token' }) });
    assert.ok(refused.status >= 400, 'a malformed token is refused');
    for (let i = 0; i < 3; i++) assert.equal(await postAdmission(webhook.url, cert.ca, admissionReview(`uid-${i}`, `agent-${i}`)), 200);
  });

  after(async () => {
    await prom?.stop();
    await webhook?.close();
    if (dev?.running) await dev.stop('SIGTERM').catch(() => dev.stop('SIGKILL'));
    dir.remove();
  });

  it('Prometheus scrapes the sidecar, the control plane and the webhook', async () => {
    await eventually('every target up', async () => {
      const t = await prom.get<{ data: { activeTargets: { labels: { job: string }; health: string; lastError: string }[] } }>('/api/v1/targets');
      const targets = t.data.activeTargets;
      return targets.length === 3 && targets.every((x) => x.health === 'up') ? targets : false;
    }, 60_000);
  });

  it('every dashboard query returns data', async () => {
    // SSH, Kubernetes and approver-notification queries are proven by protocols.test.ts.
    const exprs = dashboardQueries(dashboard).filter((q) => !needsProtocolStack(q.expr));
    assert.ok(exprs.length >= 25, `the dashboard has its panels (${exprs.length} queries)`);
    const empty = new Map<string, string>();
    // rate() needs two scrapes after the traffic; increase() over 5m sees it from the first.
    await eventually('every dashboard query answering with data', async () => {
      empty.clear();
      for (const { panel, expr } of exprs) {
        const a = await prom.query(resolveVariables(expr));
        if (!a.ok) throw new Error(`${panel}: ${expr}: ${a.error}`);
        if (a.result.length === 0) empty.set(panel, expr);
      }
      return empty.size === 0;
    }, 90_000).catch((err: Error) => {
      throw new Error(`${err.message}\nqueries without data:\n${[...empty].map(([p, e]) => `  ${p}: ${e}`).join('\n')}`);
    });
  });

  it('the template variables find the protocol and the connection', async () => {
    const vars = dashboard.templating.list.filter((v) => v.type === 'query');
    assert.deepEqual(vars.map((v) => v.name), ['protocol', 'connection']);
    const found: Record<string, string[]> = {};
    for (const v of vars) {
      const q = typeof v.query === 'string' ? v.query : (v.query as { query: string }).query;
      const parsed = labelValuesQuery(q);
      assert.ok(parsed, `${v.name}: ${q} is label_values(selector, label)`);
      const a = await prom.query(resolveVariables(parsed[0]));
      assert.ok(a.ok, `${v.name}: ${parsed[0]}`);
      found[v.name] = [...new Set(a.result.map((s) => s.metric[parsed[1]]).filter((x): x is string => x !== undefined))];
    }
    assert.deepEqual(found, { protocol: ['postgres'], connection: ['demo'] });
  });

  it('the dashboard ConfigMap carries the Grafana sidecar label', () => {
    assert.equal(dashboardLabels.grafana_dashboard, '1');
  });

  it('every alert expression is valid PromQL and evaluates without error in Prometheus', async () => {
    const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert);
    assert.deepEqual(alerts.map((r) => r.alert).sort(), [
      'ChaperoneApprovalBacklog', 'ChaperoneControlPlaneDown', 'ChaperoneControlPlaneUnreachable', 'ChaperoneInjectionFailures',
      'ChaperoneRecordDeliveryLag', 'ChaperoneRecordsSpooling', 'ChaperoneWebhookCertificateExpiring', 'ChaperoneWebhookDown', 'ChaperoneWebhookFailing',
    ]);
    for (const r of alerts) {
      const a = await prom.query(r.expr);
      assert.ok(a.ok, `${r.alert}: ${r.expr}: ${a.ok ? '' : a.error}`);
    }
    // Prometheus loaded the same file and evaluated each rule; with everything healthy none fires.
    const loaded = await eventually('the rules evaluated', async () => {
      const body = await prom.get<{ data: { groups: { rules: { name: string; health: string; lastError?: string; state: string; lastEvaluation: string }[] }[] } }>('/api/v1/rules');
      const all = body.data.groups.flatMap((g) => g.rules);
      return all.length === alerts.length && all.every((x) => !x.lastEvaluation.startsWith('0001')) ? all : false;
    }, 30_000);
    for (const r of loaded) assert.equal(r.health, 'ok', `${r.name}: ${r.lastError ?? ''}`);
    assert.deepEqual(loaded.filter((r) => r.state !== 'inactive').map((r) => r.name), [], 'no alert is pending or firing on a healthy stack');
  });

  it('promtool check rules and promtool test rules pass on the rendered rules', async () => {
    const promtool = prometheusBinary('promtool');
    const check = await run(promtool, ['check', 'rules', rulesPath]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /SUCCESS: 9 rules found/);
    copyFileSync(ALERT_TESTS, join(dir.path, 'alerts.test.yaml'));
    const t = await run(promtool, ['test', 'rules', join(dir.path, 'alerts.test.yaml')]);
    assert.equal(t.code, 0, t.stdout + t.stderr);
    // Every alert has at least one firing case among the unit tests.
    const tests = readFileSync(ALERT_TESTS, 'utf8');
    for (const r of rules.groups.flatMap((g) => g.rules)) {
      assert.match(tests, new RegExp(`alertname: ${r.alert}\\n\\s+eval_time: \\S+\\n\\s+exp_alerts:\\n\\s+- exp_labels`), `${r.alert} has a firing test`);
    }
  });

  it('every scraped chaperone series follows the conventions (names, units, bounded labels and values)', async () => {
    const families = await scrapedFamilies(prom);
    assert.ok(families.length > 40, `scraped ${families.length} chaperone metric families`);
    assert.deepEqual(families.flatMap(conventionViolations), []);
  });
});
