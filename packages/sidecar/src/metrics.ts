// The sidecar's Prometheus metrics: one Registry per sidecar, pre-bound children for the hot path.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Metric } from 'prom-client';
import type { DecisionAction } from '@chaperone/core/decision';
import type { Protocol } from '@chaperone/core/records/types';

const PREFIX = 'chaperone_sidecar_';

/** 50 µs to 10 s: the proxy adds tens of µs, real statements take ms to seconds. */
export const STATEMENT_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** What the recorder reports; read at scrape time so recording costs no metric update per record. */
export interface RecorderGauges {
  queued(): number;
  spooled(): number;
  /** Epoch ms of the oldest record not yet acknowledged by the control plane, if any. */
  oldestUndeliveredMs(): number | undefined;
}

/** Seconds to hours: a person decides. */
export const APPROVAL_WAIT_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];

/** The API server's verbs (request-info.ts); a label value outside them would be agent input. */
const KUBE_VERBS: ReadonlySet<string> = new Set(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection', 'proxy']);

export type ExchangeResult = 'ok' | 'unreachable' | 'unauthorized' | 'rejected' | 'error';

/** A pre-bound counter child: one increment per statement, no label lookup. */
export interface BoundCounter { inc(n?: number): void }
/** A pre-bound histogram child. */
export interface BoundHistogram { observe(seconds: number): void }
/** A pre-bound gauge child. */
export interface BoundGauge { inc(n?: number): void; dec(n?: number): void }

export class SidecarMetrics {
  readonly registry = new Registry();
  private recorderGauges: RecorderGauges | undefined;
  private bundleVersion: string | undefined;
  private readonly statementChildren = new Map<string, TallyCounter>();
  private readonly durationChildren = new Map<string, BoundHistogram>();

  private readonly statements = new Counter({
    name: `${PREFIX}statements_total`, help: 'Statements seen, by policy decision.',
    labelNames: ['protocol', 'connection', 'decision'] as const, registers: [this.registry],
    // Statements are tallied in plain numbers (TallyCounter) and handed over when scraped.
    collect: () => { for (const t of this.statementChildren.values()) t.flush(); },
  });
  private readonly statementDuration = new BucketHistogram(
    `${PREFIX}statement_duration_seconds`, 'Time from receiving a statement to its completion.', STATEMENT_BUCKETS, this.registry,
  );
  private readonly connectionsActive = new Gauge({
    name: `${PREFIX}connections_active`, help: 'Agent connections open now.',
    labelNames: ['protocol', 'connection'] as const, registers: [this.registry],
  });
  private readonly connections = new Counter({
    name: `${PREFIX}connections_total`, help: 'Agent connections accepted.',
    labelNames: ['protocol', 'connection'] as const, registers: [this.registry],
  });
  readonly recordsSent = new Counter({
    name: `${PREFIX}records_sent_total`, help: 'Session records acknowledged by the control plane.', registers: [this.registry],
  });
  readonly recordsRejected = new Counter({
    name: `${PREFIX}records_rejected_total`, help: 'Session records the control plane refused (kept in the spool rejected/ folder).', registers: [this.registry],
  });
  private readonly ruleDecisions = new Counter({
    name: `${PREFIX}rule_decisions_total`, help: 'Operations a policy rule denied or held for approval, by rule (allows are not counted per rule).',
    labelNames: ['protocol', 'connection', 'decision', 'rule'] as const, registers: [this.registry],
  });
  private readonly bytes = new Counter({
    name: `${PREFIX}bytes_total`, help: 'Bytes passed through a session: in = agent to target, out = target to agent.',
    labelNames: ['protocol', 'connection', 'direction'] as const, registers: [this.registry],
    collect: () => { for (const t of this.bytesChildren.values()) t.flush(); },
  });
  private readonly bytesChildren = new Map<string, TallyCounter>();
  private readonly masked = new Counter({
    name: `${PREFIX}masked_values_total`, help: 'Values masked in results, by mask rule and detector ("" for column rules).',
    labelNames: ['protocol', 'connection', 'rule', 'detector'] as const, registers: [this.registry],
    collect: () => { for (const t of this.maskedChildren.values()) t.flush(); },
  });
  private readonly maskedChildren = new Map<string, TallyCounter>();
  private readonly exchanges = new Counter({
    name: `${PREFIX}exchanges_total`, help: 'Token exchanges with the control plane, by result.',
    labelNames: ['result'] as const, registers: [this.registry],
  });
  private readonly approvalWait = new Histogram({
    name: `${PREFIX}approval_wait_seconds`, help: 'Time a held operation waited for its approval, by how the wait ended.',
    labelNames: ['protocol', 'connection', 'outcome'] as const, buckets: APPROVAL_WAIT_BUCKETS, registers: [this.registry],
  });
  private readonly kubeRequests = new Counter({
    name: `${PREFIX}kubernetes_requests_total`, help: 'Kubernetes API requests, by decision and verb (verbs outside the API\'s own set count as "other").',
    labelNames: ['connection', 'decision', 'verb'] as const, registers: [this.registry],
  });
  private readonly kubeStreams = new Counter({
    name: `${PREFIX}kubernetes_streams_total`, help: 'Kubernetes exec, attach and port-forward streams, by decision, counted when they end.',
    labelNames: ['connection', 'decision', 'subresource'] as const, registers: [this.registry],
  });
  private readonly bundleInfo = new Gauge({
    name: `${PREFIX}bundle_version_info`, help: 'The policy bundle version in force (value 1).',
    labelNames: ['version'] as const, registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    const source = (): RecorderGauges | undefined => this.recorderGauges;
    new Gauge({
      name: `${PREFIX}records_queued`, help: 'Session records in memory waiting for delivery.', registers: [this.registry],
      collect() { this.set(source()?.queued() ?? 0); },
    });
    new Gauge({
      name: `${PREFIX}records_spooled`, help: 'Session records on disk not yet delivered.', registers: [this.registry],
      collect() { this.set(source()?.spooled() ?? 0); },
    });
    new Gauge({
      name: `${PREFIX}record_delivery_lag_seconds`, help: 'Age of the oldest record not yet delivered (0 when none).', registers: [this.registry],
      collect() {
        const oldest = source()?.oldestUndeliveredMs();
        this.set(oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
      },
    });
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }

  /** The recorder registers itself here; its gauges are read at scrape time. */
  bindRecorder(source: RecorderGauges): void {
    this.recorderGauges = source;
  }

  statementCounter(connection: string, decision: DecisionAction, protocol: Protocol = 'postgres'): BoundCounter {
    const key = `${protocol}\0${connection}\0${decision}`;
    let child = this.statementChildren.get(key);
    if (!child) {
      child = new TallyCounter(this.statements.labels({ protocol, connection, decision }));
      this.statementChildren.set(key, child);
    }
    return child;
  }

  /** A deny or approve by a rule; off the allow hot path. `rule` is a policy rule reference (bounded by the policy). */
  ruleDecision(connection: string, decision: 'deny' | 'approve', rule: string, protocol: Protocol = 'postgres'): void {
    this.ruleDecisions.inc({ protocol, connection, decision, rule });
  }

  statementDurationHistogram(connection: string, protocol: Protocol = 'postgres'): BoundHistogram {
    const key = `${protocol}\0${connection}`;
    let child = this.durationChildren.get(key);
    if (!child) {
      child = this.statementDuration.child({ protocol, connection });
      this.durationChildren.set(key, child);
    }
    return child;
  }

  /** Both connection metrics for one listener, bound once when the listener starts. */
  connectionMetrics(connection: string, protocol: Protocol = 'postgres'): { active: BoundGauge; total: BoundCounter } {
    return {
      active: this.connectionsActive.labels({ protocol, connection }),
      total: this.connections.labels({ protocol, connection }),
    };
  }

  /** Bytes through sessions of one connection in one direction (SSH channels). */
  bytesCounter(connection: string, direction: 'in' | 'out', protocol: Protocol): BoundCounter {
    const key = `${protocol}\0${connection}\0${direction}`;
    let child = this.bytesChildren.get(key);
    if (!child) {
      child = new TallyCounter(this.bytes.labels({ protocol, connection, direction }));
      this.bytesChildren.set(key, child);
    }
    return child;
  }

  /**
   * Masked-value tallies of one connection, by rule and detector (`""` for column rules). Labels
   * stay bounded: rule names come from the policy, detectors from DETECTOR_NAMES.
   */
  maskedValues(connection: string, protocol: Protocol = 'postgres'): { add(rule: string, detector: string, n: number): void } {
    return {
      add: (rule, detector, n) => {
        const key = `${protocol}\0${connection}\0${rule}\0${detector}`;
        let child = this.maskedChildren.get(key);
        if (!child) {
          child = new TallyCounter(this.masked.labels({ protocol, connection, rule, detector }));
          this.maskedChildren.set(key, child);
        }
        child.inc(n);
      },
    };
  }

  /** One held operation's wait; `outcome` is approved, denied, expired, withdrawn or unavailable. */
  approvalWaited(connection: string, outcome: string, seconds: number, protocol: Protocol = 'postgres'): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.approvalWait.observe({ protocol, connection, outcome }, seconds);
  }

  /** One Kubernetes request; `verb` is bounded here (anything else is "other"). */
  kubernetesRequest(connection: string, decision: DecisionAction, verb: string): void {
    this.kubeRequests.inc({ connection, decision, verb: KUBE_VERBS.has(verb) ? verb : 'other' });
  }

  /** One exec, attach or port-forward stream, when it ends (or is refused). */
  kubernetesStream(connection: string, decision: DecisionAction, subresource: 'exec' | 'attach' | 'portforward'): void {
    this.kubeStreams.inc({ connection, decision, subresource });
  }

  exchange(result: ExchangeResult): void {
    this.exchanges.inc({ result });
  }

  setBundleVersion(version: string): void {
    if (this.bundleVersion === version) return;
    if (this.bundleVersion !== undefined) this.bundleInfo.remove({ version: this.bundleVersion });
    this.bundleInfo.set({ version }, 1);
    this.bundleVersion = version;
  }

  contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * A counter child incremented as a plain number on the hot path (prom-client's own inc() hashes the
 * labels on every call); the count reaches prom-client when the metric is collected.
 */
class TallyCounter implements BoundCounter {
  private pending = 0;
  constructor(private readonly child: BoundCounter) {}

  inc(n = 1): void {
    // prom-client throws on these; a metric must never break the proxy, so they are dropped.
    if (n >= 0 && Number.isFinite(n)) this.pending += n;
  }

  flush(): void {
    if (this.pending === 0) return;
    this.child.inc(this.pending);
    this.pending = 0;
  }
}

/** One label set of a BucketHistogram: observe() is a short loop and three additions. */
class BucketCounts implements BoundHistogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[], readonly labels: Readonly<Record<string, string>>) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(seconds: number): void {
    // prom-client throws on these; a metric must never break the proxy, so they are dropped.
    if (!Number.isFinite(seconds)) return;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && seconds > b[i]!) i++;
    if (i < b.length) this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

/**
 * A histogram kept as plain per-bucket counts and turned into prom-client's shape only when
 * scraped: prom-client's own observe() hashes the labels and walks objects on every statement.
 * Same name, buckets and exposition (`_bucket{le,...}` cumulative, `+Inf`, `_sum`, `_count`).
 */
class BucketHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly children = new Map<string, BucketCounts>();

  constructor(readonly name: string, readonly help: string, private readonly bounds: readonly number[], registry: Registry) {
    // The Registry only calls get()/reset() and reads name, help, type and aggregator.
    registry.registerMetric(this as unknown as Metric);
  }

  child(labels: Record<string, string>): BucketCounts {
    const key = JSON.stringify(labels);
    let child = this.children.get(key);
    if (!child) {
      child = new BucketCounts(this.bounds, { ...labels });
      this.children.set(key, child);
    }
    return child;
  }

  get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: { labels: Record<string, string | number>; value: number; metricName: string }[] }> {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const c of this.children.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += c.counts[i]!;
        values.push({ labels: { le: this.bounds[i]!, ...c.labels }, value: acc, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { le: '+Inf', ...c.labels }, value: c.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...c.labels }, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...c.labels }, value: c.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** Registry.resetMetrics(): zero the counts; bound children stay valid. */
  reset(): void {
    for (const c of this.children.values()) {
      c.counts.fill(0);
      c.sum = 0;
      c.count = 0;
    }
  }
}
