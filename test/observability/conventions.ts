// Prometheus naming rules every chaperone metric follows, as a pure check over a registry's
// metrics (name, type, label names, label values), so the same check runs on fresh registries
// and on what a real Prometheus scraped.

/** One metric family as prom-client's getMetricsAsJSON() (or a scrape) describes it. */
export interface MetricFamily {
  name: string;
  type: string;
  /** Declared label names (may be empty for metrics that add labels at collect time). */
  labelNames: readonly string[];
  /** Label sets of the series present now. */
  series: readonly Readonly<Record<string, string | number>>[];
}

/**
 * The only label names a chaperone metric may carry, each with a bounded value set: policy names
 * (connection, rule), fixed enums (decision, result, …), route templates, and prom-client's own
 * process labels. Anything else (session ids, statement text, pod UIDs, user names) is refused.
 */
export const ALLOWED_LABELS: Readonly<Record<string, string>> = {
  protocol: 'postgres | ssh | kubernetes',
  connection: 'a Connection name from policy',
  decision: 'allow | deny | approve',
  direction: 'in | out',
  rule: 'a policy rule name or <policy>#<index>',
  detector: 'a DETECTOR_NAMES entry, "" for column rules',
  result: 'a fixed result enum of the component',
  outcome: 'how an approval wait ended',
  reason: 'an AUTH_ERR_* code, shortened',
  state: 'an approval state',
  route: 'a fastify route template (never the raw URL)',
  method: 'an HTTP method',
  verb: 'a Kubernetes API verb (get, list, …), "other" for anything else',
  subresource: 'exec | attach | portforward',
  status: 'an HTTP status code',
  version: 'the policy bundle version, or the Node.js version (process metrics)',
  le: 'histogram bucket bound',
  quantile: 'summary quantile',
  // prom-client's collectDefaultMetrics labels.
  kind: 'GC kind (process metrics)',
  space: 'V8 heap space (process metrics)',
  type: 'libuv handle type (process metrics)',
  major: 'Node.js version part', minor: 'Node.js version part', patch: 'Node.js version part',
};

/** prom-client's default gauges that end in _total; their names are not ours to change. */
const DEFAULT_GAUGES_ENDING_TOTAL = /_(nodejs_active_(handles|requests|resources)_total)$/;

const TIME_WORDS = /(^|_)(duration|latency|lag|wait|waited|age|elapsed|uptime|time|timestamp|delay)(_|$)/;
const SIZE_WORDS = /(^|_)(size|memory|heap|bytes)(_|$)/;

/** A label value that looks like user input or an identity rather than a bounded enum or name. */
export function unboundedValue(value: string, label = ''): string | undefined {
  if (value.length > 100) return 'longer than 100 characters';
  if (/\s/.test(value)) return 'contains whitespace (statement text?)';
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) return 'a UUID (pod UID or session id?)';
  // A policy bundle version is a content hash, one per sidecar at a time (an _info metric).
  if (label !== 'version' && /^[0-9a-f]{24,}$/i.test(value)) return 'a long hex string (an id or hash?)';
  return undefined;
}

/** Every rule a family breaks, as sentences naming it; [] when it follows them all. */
export function conventionViolations(family: MetricFamily): string[] {
  const { name, type } = family;
  const out: string[] = [];
  if (!/^chaperone_[a-z0-9_]+$/.test(name)) out.push(`${name}: name must start with chaperone_ and be lower snake case`);
  if (type === 'counter' && !name.endsWith('_total')) out.push(`${name}: a counter must end in _total`);
  if (type !== 'counter' && name.endsWith('_total') && !DEFAULT_GAUGES_ENDING_TOTAL.test(name)) out.push(`${name}: only counters end in _total (a ${type})`);
  const base = name.replace(/_total$/, '');
  if ((type === 'histogram' || type === 'summary') && !/_(seconds|bytes)$/.test(base) && !/_ratio$/.test(base)) {
    out.push(`${name}: a ${type} measures a time or a size and must end in _seconds or _bytes`);
  }
  if (TIME_WORDS.test(base) && !base.endsWith('_seconds')) out.push(`${name}: a time must be in seconds (_seconds)`);
  if (SIZE_WORDS.test(base) && !base.endsWith('_bytes') && !/_bytes_/.test(base)) out.push(`${name}: a size must be in bytes (_bytes)`);
  const labels = new Set(family.labelNames);
  for (const s of family.series) for (const l of Object.keys(s)) labels.add(l);
  for (const l of labels) if (!(l in ALLOWED_LABELS)) out.push(`${name}: label "${l}" is not in the bounded allow-list`);
  for (const s of family.series) {
    for (const [l, v] of Object.entries(s)) {
      const why = unboundedValue(String(v), l);
      if (why) out.push(`${name}: label ${l}="${String(v).slice(0, 40)}" ${why}`);
    }
  }
  return out;
}
