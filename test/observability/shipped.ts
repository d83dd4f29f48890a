// What the chart ships for observability, read the way a user gets it: the PrometheusRule from
// `helm template` (as a Prometheus rule file) and the dashboard JSON from the rendered ConfigMap.
import { parseAllDocuments } from 'yaml';
import { run } from '../harness/postgres.js';
import { repoRoot, toolPath, toolVersion } from '../harness/tools.js';

export const RELEASE = 'chaperone';

export interface RuleFile { groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[] }
export interface DashboardPanel { title: string; type: string; targets?: { expr: string; refId: string }[] }
export interface Dashboard { panels: DashboardPanel[]; templating: { list: { name: string; type: string; query: unknown }[] } }

interface Rendered { kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: RuleFile; data?: Record<string, string> }

export async function renderChart(values: string[]): Promise<Rendered[]> {
  const helm = toolPath('helm');
  const r = await run(helm, ['template', RELEASE, `${repoRoot()}/charts/chaperone`, '-n', 'chaperone-system', '--kube-version', toolVersion('kube-apiserver'), ...values.flatMap((v) => ['--set', v])]);
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Rendered).filter((o) => o !== null);
}

/** The alert rules as the chart renders them with prometheusRule.enabled, as a rule file. */
export async function shippedRules(): Promise<RuleFile> {
  const rule = (await renderChart(['prometheusRule.enabled=true'])).find((o) => o.kind === 'PrometheusRule');
  if (!rule?.spec) throw new Error('helm template rendered no PrometheusRule with prometheusRule.enabled=true');
  return { groups: rule.spec.groups };
}

/** The dashboard as the rendered ConfigMap carries it, and the ConfigMap's labels. */
export async function shippedDashboard(): Promise<{ dashboard: Dashboard; labels: Record<string, string> }> {
  const cm = (await renderChart([])).find((o) => o.kind === 'ConfigMap' && o.data?.['chaperone.json'] !== undefined);
  if (!cm?.data) throw new Error('helm template rendered no dashboard ConfigMap');
  return { dashboard: JSON.parse(cm.data['chaperone.json']!) as Dashboard, labels: cm.metadata.labels ?? {} };
}

/**
 * Grafana's variables replaced the way an "All" selection and a 1 s scrape interval resolve them:
 * $protocol/$connection → `.*` (the variables' allValue), $__rate_interval → 1m, $__range → 5m.
 */
export function resolveVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m').replaceAll('$__range', '5m').replaceAll('$__interval', '15s')
    .replace(/\$\{?(protocol|connection)\}?/g, '.*');
}

/**
 * Dashboard queries whose data needs an SSH or Kubernetes connection or an approver webhook:
 * protocols.test.ts proves them against sshd and a Kubernetes stand-in; prometheus.test.ts
 * (the PostgreSQL `chaperone dev` stack) proves every other query.
 */
export function needsProtocolStack(expr: string): boolean {
  return /protocol="(ssh|kubernetes)"|chaperone_sidecar_kubernetes_|chaperone_approvals_notifications_total/.test(expr);
}

/** Every query of the dashboard, with its panel's title. */
export function dashboardQueries(dashboard: Dashboard): { panel: string; expr: string }[] {
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
}

/** `label_values(metric{…}, label)` → [selector, label]. */
export function labelValuesQuery(query: string): [string, string] | undefined {
  const m = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(query.trim());
  return m ? [m[1]!, m[2]!] : undefined;
}
