// The sidecar process: exchanges its identity token for a grant, starts one local listener per
// granted connection, records every session, follows bundle updates and renews the grant.
import { pino } from 'pino';
import type { Logger } from 'pino';
import { ChaperoneError, isChaperoneError } from '@chaperone/core/errors';
import type { Credential, ExchangeResponse } from '@chaperone/core/api';
import type { ConnectionDoc, PolicyBundle, PostgresTarget } from '@chaperone/core/policy/types';
import { SqlClassifier } from '@chaperone/core/sql/classifier';
import { loadSqlParser } from '@chaperone/core/sql/classify';
import { redactLiterals } from '@chaperone/core/sql/redact';
import { LOG_REDACT } from '@chaperone/core/log-redact';
import { startAdminServer } from './admin.js';
import { ControlPlaneApprovalGate } from './approvals/control-plane-gate.js';
import { backoffMs, sleep } from './backoff.js';
import { closeUngranted } from './close-ungranted.js';
import type { Readiness } from './admin.js';
import { parseSidecarConfig, SIDECAR_ERR_CONFIG } from './config.js';
import type { ResolvedSidecarConfig, SidecarConfig } from './config.js';
import { ControlPlaneClient, CP_ERR_REJECTED, CP_ERR_UNAUTHORIZED, CP_ERR_UNREACHABLE } from './control-plane-client.js';
import { devTokenSource, fileTokenSource } from './identity-token.js';
import type { TokenSource } from './identity-token.js';
import { SidecarMetrics } from './metrics.js';
import type { ExchangeResult } from './metrics.js';
import { LazyListeners } from './lazy-listeners.js';
import { PgProxy } from './pg/proxy.js';
import { createPgObserver } from './pg-observer.js';
import { Recorder } from './recorder/recorder.js';
import { buildEnforcer } from './sql-enforcement.js';
import { LineageAnalyzer } from '@chaperone/core/sql/lineage-cache';
import { coreLineage } from './pg/mask-lineage.js';
import { maskingOptions } from './pg/mask-options.js';
import type { MaskingOptions } from './pg/types.js';
import type { Classifier } from './sql-enforcement.js';

export const SIDECAR_ERR_CLOSED = 'SIDECAR_ERR_CLOSED';
export const SIDECAR_ERR_LISTEN = 'SIDECAR_ERR_LISTEN';

export interface RunningSidecar {
  /** Resolves once the first exchange is done and every listener is up; rejects if that cannot happen. */
  ready: Promise<void>;
  /** Listener port by connection name, filled in as listeners start (complete once `ready`). */
  ports: Record<string, number>;
  adminPort: number;
  close(): Promise<void>;
}

export interface SidecarDeps {
  logger?: Logger;
  metrics?: SidecarMetrics;
}

export async function runSidecar(input: SidecarConfig, deps: SidecarDeps = {}): Promise<RunningSidecar> {
  const parsed = parseSidecarConfig(input);
  if (!parsed.ok) throw new ChaperoneError(SIDECAR_ERR_CONFIG, `invalid sidecar configuration: ${parsed.error}`);
  const config = parsed.config;
  const logger = deps.logger ?? pino({ name: 'chaperone-sidecar', level: config.logLevel, redact: LOG_REDACT });
  const metrics = deps.metrics ?? new SidecarMetrics();
  const runtime = new SidecarRuntime(config, logger, metrics, new SqlClassifier());
  const admin = await startAdminServer({ metrics, readiness: () => runtime.readiness(), logger, host: config.admin.host, port: config.admin.port });
  const ready = runtime.start();
  ready.catch(() => undefined); // the caller owns the rejection; never an unhandled one
  let closing: Promise<void> | undefined;
  return {
    ready,
    ports: runtime.ports,
    adminPort: admin.port,
    close: () => (closing ??= (async () => {
      await runtime.close();
      await admin.close();
    })()),
  };
}

/** Everything that changes at run time, owned by one object (no module state). */
class SidecarRuntime {
  readonly ports: Record<string, number> = {};
  private readonly client: ControlPlaneClient;
  /** Holds approve statements through the control plane, with the current grant. */
  private readonly approvals: ControlPlaneApprovalGate;
  private readonly token: TokenSource;
  private readonly proxies = new Map<string, PgProxy>();
  /** Result-column lineage for masking, cached by statement shape across connections. */
  private readonly lineage = coreLineage(new LineageAnalyzer());
  private readonly stop = new AbortController();
  private grant: ExchangeResponse | undefined;
  private bundle: PolicyBundle | undefined;
  private credentials: Record<string, Credential> = {};
  private recorder: Recorder | undefined;
  /** SSH and Kubernetes listeners, their modules loaded only once such a connection is granted. */
  private kube: LazyListeners | undefined;
  private ssh: LazyListeners | undefined;
  private listenersUp = false;
  private exchanging: Promise<void> | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private bundleLoop: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: ResolvedSidecarConfig,
    private readonly log: Logger,
    private readonly metrics: SidecarMetrics,
    private readonly classifier: Classifier,
  ) {
    this.client = new ControlPlaneClient({ url: config.controlPlane.url, caFile: config.controlPlane.caFile, requestTimeoutMs: config.controlPlane.requestTimeoutMs });
    this.approvals = new ControlPlaneApprovalGate({ client: this.client, grant: () => this.grant?.grant ?? '', refreshGrant: () => this.reexchange() });
    this.token = config.token.type === 'file'
      ? fileTokenSource(config.token.path)
      : devTokenSource(this.client, { namespace: config.token.namespace, serviceAccount: config.token.serviceAccount, ttlSeconds: config.token.ttlSeconds });
  }

  readiness(): Readiness {
    const waitingFor: string[] = [];
    if (!this.grant) waitingFor.push('exchange');
    if (!this.listenersUp) waitingFor.push('listeners');
    return waitingFor.length === 0 ? { ready: true } : { ready: false, waitingFor };
  }

  /** First exchange (retried until the control plane answers), then recorder and listeners. */
  async start(): Promise<void> {
    await this.exchangeUntilDone();
    const grant = this.grant;
    if (!grant) throw new ChaperoneError(SIDECAR_ERR_CLOSED, 'sidecar closed before its first exchange');
    this.recorder = await Recorder.open({
      sink: this.client,
      grant: () => this.grant?.grant ?? '',
      refreshGrant: () => this.reexchange(),
      spoolDir: this.config.spoolDir,
      metrics: this.metrics,
      logger: this.log.child({ component: 'recorder' }),
    });
    const recorder = this.recorder;
    this.kube = new LazyListeners('kubernetes', async () => new (await import('./kube/listeners.js')).KubeListeners({
      listenHost: this.config.listenHost, ports: this.config.ports, caDir: this.config.kubeCaDir,
      recorder, metrics: this.metrics, logger: this.log, grant: () => this.grant, refresh: () => this.reexchange(), approvals: this.approvals,
    }));
    this.ssh = new LazyListeners('ssh', async () => new (await import('./ssh/listeners.js')).SshListeners({
      listenHost: this.config.listenHost, ports: this.config.ports,
      recorder, metrics: this.metrics, logger: this.log, grant: () => this.grant, approvals: this.approvals,
    }));
    await this.applyBundle(grant.bundle, true);
    this.listenersUp = true;
    this.log.info({ ports: this.ports, bundle: grant.bundle.version, identity: grant.identity }, 'sidecar ready');
    this.bundleLoop = this.followBundles();
  }

  async close(): Promise<void> {
    this.stop.abort();
    clearTimeout(this.renewTimer);
    // Closing the listeners ends every session, which records each session's end.
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    this.proxies.clear();
    await this.kube?.close();
    await this.ssh?.close();
    await this.bundleLoop.catch(() => undefined);
    await this.recorder?.close();
    await this.client.close();
  }

  private get stopped(): boolean {
    return this.stop.signal.aborted;
  }

  private async exchangeUntilDone(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.exchange();
        return;
      } catch (err) {
        const level = attempt === 0 || attempt % 20 === 0 ? 'warn' : 'debug';
        this.log[level]({ err: describe(err), attempt }, 'token exchange failed; retrying');
        await sleep(backoffMs(attempt, 100), this.stop.signal);
      }
    }
  }

  /** One exchange at a time: concurrent callers (a 401 in the recorder, the renewal timer) share it. */
  private reexchange(): Promise<void> {
    this.exchanging ??= this.exchange().finally(() => { this.exchanging = undefined; });
    return this.exchanging;
  }

  private async exchange(): Promise<void> {
    let response: ExchangeResponse;
    try {
      response = await this.client.exchange(await this.token(), this.config.connections, this.stop.signal);
    } catch (err) {
      this.metrics.exchange(exchangeResult(err));
      throw err;
    }
    this.metrics.exchange('ok');
    const first = this.grant === undefined;
    this.grant = response;
    this.credentials = response.credentials;
    this.scheduleRenewal(response.expiresAt);
    // The first bundle is applied by start(), once the recorder is open.
    if (!first) await this.applyBundle(response.bundle, true);
  }

  /** Renews the grant when 80 % of its life has passed, so it never expires in use. */
  private scheduleRenewal(expiresAt: string): void {
    clearTimeout(this.renewTimer);
    const lifetime = Date.parse(expiresAt) - Date.now();
    const delay = Number.isFinite(lifetime) ? Math.max(5_000, lifetime * 0.8) : 60_000;
    this.renewTimer = setTimeout(() => {
      this.reexchange().catch((err: unknown) => {
        this.log.warn({ err: describe(err) }, 'grant renewal failed; retrying');
        this.scheduleRenewal(new Date(Date.now() + 5_000 / 0.8).toISOString());
      });
    }, Math.min(delay, 2 ** 31 - 1));
    this.renewTimer.unref();
  }

  private async followBundles(): Promise<void> {
    for (let failures = 0; !this.stopped;) {
      const current = this.bundle;
      if (!current || !this.grant) return;
      try {
        const poll = await this.client.waitBundle(current.version, this.grant.grant, this.config.bundleWaitSeconds, this.stop.signal);
        failures = 0;
        if (poll.changed) await this.applyBundle(poll.bundle, false);
      } catch (err) {
        if (this.stopped) return;
        if (isChaperoneError(err, CP_ERR_UNAUTHORIZED)) {
          await this.reexchange().catch((e: unknown) => this.log.warn({ err: describe(e) }, 're-exchange after 401 failed'));
        } else {
          if (failures === 0) this.log.warn({ err: describe(err) }, 'bundle poll failed; retrying');
        }
        await sleep(backoffMs(failures++, 100), this.stop.signal);
      }
    }
  }

  /**
   * Brings the listeners in line with a bundle: new enforcement (and target) for running ones,
   * listeners for new connections (credentials permitting), none for dropped ones.
   */
  private async applyBundle(bundle: PolicyBundle, withCredentials: boolean): Promise<void> {
    const previous = this.bundle?.version;
    this.bundle = bundle;
    this.metrics.setBundleVersion(bundle.version);
    if (previous !== undefined && previous !== bundle.version) this.log.info({ from: previous, to: bundle.version }, 'policy bundle updated');
    const wanted = bundle.connections.filter((c) => c.spec.type === 'postgres' && (!this.config.connections || this.config.connections.includes(c.metadata.name)));
    let needCredentials = false;
    // The SQL parser (WASM, some 13 MB resident) only once a PostgreSQL connection needs it.
    if (wanted.length > 0) await loadSqlParser();
    for (const conn of wanted) {
      const name = conn.metadata.name;
      const target = postgresTarget(conn);
      if (!target) {
        this.log.error({ connection: name }, 'connection has no usable postgres target (host, port, database); skipped');
        continue;
      }
      const enforce = buildEnforcer(bundle.policies, name, this.classifier);
      const masking = this.grant ? maskingOptions(bundle.policies, name, this.grant.maskKey, this.lineage, this.metrics.maskedValues(name)) : undefined;
      const given = this.credentials[name];
      // PostgreSQL logs in with a password; any other kind of credential is a broken grant.
      const credential = given?.type === 'password' ? given : undefined;
      if (given !== undefined && credential === undefined) this.log.error({ connection: name, credential: given.type }, 'postgres connection was given a credential that is not a password; not listening');
      const running = this.proxies.get(name);
      if (running) {
        running.update({ enforce, target, masking: masking ?? null, ...(withCredentials && credential ? { credential } : {}) });
      } else if (credential) {
        await this.startProxy(conn, target, enforce, credential, masking);
      } else {
        needCredentials = true;
      }
    }
    await closeUngranted(this.proxies, wanted, this.ports, this.log);
    const allWanted = bundle.connections.filter((c) => !this.config.connections || this.config.connections.includes(c.metadata.name));
    if (this.kube && await this.kube.apply(bundle, allWanted, this.credentials, withCredentials, this.ports)) needCredentials = true;
    if (this.ssh && await this.ssh.apply(bundle, allWanted, this.credentials, withCredentials, this.ports)) needCredentials = true;
    // A connection new in this bundle: its credential comes with an exchange.
    if (needCredentials && !withCredentials) await this.reexchange().catch((err: unknown) => this.log.warn({ err: describe(err) }, 'exchange for new connection credentials failed'));
  }

  private async startProxy(conn: ConnectionDoc, target: PostgresTarget, enforce: ReturnType<typeof buildEnforcer>, credential: Extract<Credential, { type: 'password' }>, masking: MaskingOptions | undefined): Promise<void> {
    const name = conn.metadata.name;
    const grant = this.grant;
    const recorder = this.recorder;
    if (!grant || !recorder) return;
    const port = this.config.ports[name] ?? conn.spec.listen.port;
    const proxy = new PgProxy({
      listen: { host: this.config.listenHost, port },
      connectionName: name,
      target,
      credential: { username: credential.username, password: credential.password },
      enforce,
      observer: createPgObserver({ connection: name, identity: grant.identity, recorder, metrics: this.metrics, redact: redactLiterals, logger: this.log }),
      approvals: this.approvals,
      ...(masking ? { masking } : {}),
      logger: this.log.child({ connection: name }),
    });
    try {
      this.ports[name] = (await proxy.start()).port;
    } catch (err) {
      throw new ChaperoneError(SIDECAR_ERR_LISTEN, `cannot listen for connection ${name} on ${this.config.listenHost}:${port}: ${describe(err)}`, { connection: name, port }, { cause: err });
    }
    this.proxies.set(name, proxy);
    this.log.info({ connection: name, port: this.ports[name] }, 'listening');
  }
}

function postgresTarget(conn: ConnectionDoc): PostgresTarget | undefined {
  const t = conn.spec.target as Partial<PostgresTarget>;
  if (typeof t.host !== 'string' || typeof t.port !== 'number' || typeof t.database !== 'string') return undefined;
  return { host: t.host, port: t.port, database: t.database, ...(t.sslmode ? { sslmode: t.sslmode } : {}) };
}

function exchangeResult(err: unknown): ExchangeResult {
  if (isChaperoneError(err, CP_ERR_UNREACHABLE)) return 'unreachable';
  if (isChaperoneError(err, CP_ERR_UNAUTHORIZED)) return 'unauthorized';
  if (isChaperoneError(err, CP_ERR_REJECTED)) return 'rejected';
  return 'error';
}

function describe(err: unknown): string {
  if (err instanceof ChaperoneError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
