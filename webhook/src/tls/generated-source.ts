// The default certificate source: a CA shared by all replicas through a Secret, a serving
// certificate per replica, the CA bundle written into the MutatingWebhookConfiguration, and one
// timer that renews the serving certificate at 2/3 of its life and rotates the CA before it expires.
import { AdmissionregistrationV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { ChaperoneError } from '@chaperone/core/errors';
import { DEFAULT_CA_VALIDITY_MS, DEFAULT_SERVING_VALIDITY_MS, generateCa, issueServingCertificate, serviceDnsNames } from './generate.js';
import { freshState, nextCaDue, planCaStep, promoteNext, pruneBundle, stageNext } from './ca-state.js';
import type { CaState, RotationPolicy } from './ca-state.js';
import { createCaSecret, DEFAULT_CA_SECRET, readCaSecret, replaceCaSecret } from './ca-secret.js';
import type { CaSecretRef } from './ca-secret.js';
import { ensureCaBundle } from './ca-bundle.js';
import { silentLogger } from './source.js';
import type { CertificateSource, ServingCertificate, TlsLogger } from './source.js';

const DAY_MS = 86_400_000;
/** setTimeout's largest delay; longer waits are cut into pieces by the periodic sync anyway. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** CAS rounds per sync before giving up until the next one (each round re-reads the Secret). */
const MAX_ROUNDS = 5;

export interface GeneratedSourceOptions {
  kubeConfig: KubeConfig;
  /** The webhook's namespace: its Service and the CA Secret live there. */
  namespace: string;
  /** The webhook's Service name: the certificate carries `<service>.<namespace>.svc[.<clusterDomain>]`. */
  service: string;
  /** The MutatingWebhookConfiguration whose caBundle this source keeps current. */
  webhookConfigName: string;
  caSecretName?: string;
  clusterDomain?: string;
  /** More SANs (tests: `clientConfig.url` on 127.0.0.1). */
  extraDnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  /** Default 1 year. */
  caValidityMs?: number;
  /** Default 90 days. */
  servingValidityMs?: number;
  /** Stage a new CA when the active one has less than this left; default 30 days. */
  caRenewBeforeMs?: number;
  /** How long a new CA is trusted in the caBundle before it signs; default 5 minutes. */
  caPropagationMs?: number;
  /** How often the Secret and the caBundle are re-checked (other replicas' rotations, edits); default 1 minute. */
  syncIntervalMs?: number;
  /** Renewal happens up to this fraction of the lifetime earlier than 2/3, so replicas spread out; default 0.1. */
  jitter?: number;
  logger?: TlsLogger;
  now?: () => number;
  random?: () => number;
}

interface Issued {
  serving: ServingCertificate;
  /** When to re-issue: 2/3 of the lifetime, minus jitter. */
  renewAt: number;
}

type Required_ = Required<Omit<GeneratedSourceOptions, 'kubeConfig' | 'extraDnsNames' | 'ipAddresses' | 'clusterDomain'>>;

function settings(o: GeneratedSourceOptions): Required_ {
  const s: Required_ = {
    namespace: o.namespace,
    service: o.service,
    webhookConfigName: o.webhookConfigName,
    caSecretName: o.caSecretName ?? DEFAULT_CA_SECRET,
    caValidityMs: o.caValidityMs ?? DEFAULT_CA_VALIDITY_MS,
    servingValidityMs: o.servingValidityMs ?? DEFAULT_SERVING_VALIDITY_MS,
    caRenewBeforeMs: o.caRenewBeforeMs ?? 30 * DAY_MS,
    caPropagationMs: o.caPropagationMs ?? 5 * 60_000,
    syncIntervalMs: o.syncIntervalMs ?? 60_000,
    jitter: o.jitter ?? 0.1,
    logger: o.logger ?? silentLogger,
    now: o.now ?? Date.now,
    random: o.random ?? Math.random,
  };
  if (s.caRenewBeforeMs + s.caPropagationMs >= s.caValidityMs) {
    throw new ChaperoneError('WEBHOOK_ERR_TLS_CONFIG', 'the CA would rotate as soon as it is made: caRenewBeforeMs + caPropagationMs must be shorter than caValidityMs');
  }
  if (!(s.jitter >= 0 && s.jitter < 1)) throw new ChaperoneError('WEBHOOK_ERR_TLS_CONFIG', 'jitter must be in [0, 1)');
  return s;
}

class GeneratedSource implements CertificateSource {
  readonly #o: Required_;
  readonly #secret: CaSecretRef;
  readonly #webhooks: AdmissionregistrationV1Api;
  readonly #dnsNames: string[];
  readonly #ipAddresses: readonly string[];
  readonly #listeners: ((c: ServingCertificate) => void)[] = [];
  #issued: Issued | undefined;
  #timer: NodeJS.Timeout | undefined;
  #inflight: Promise<void> | undefined;
  #closed = false;

  constructor(o: GeneratedSourceOptions) {
    this.#o = settings(o);
    this.#secret = { api: o.kubeConfig.makeApiClient(CoreV1Api), namespace: o.namespace, name: this.#o.caSecretName };
    this.#webhooks = o.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    this.#dnsNames = [...serviceDnsNames(o.service, o.namespace, o.clusterDomain), ...(o.extraDnsNames ?? [])];
    this.#ipAddresses = o.ipAddresses ?? [];
  }

  current(): ServingCertificate {
    if (!this.#issued) throw new ChaperoneError('WEBHOOK_ERR_TLS_NOT_STARTED', 'the certificate source has not started');
    return this.#issued.serving;
  }

  onRotate(fn: (c: ServingCertificate) => void): void {
    this.#listeners.push(fn);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#inflight;
  }

  /** The first sync must succeed: without a CA there is nothing to serve. */
  async start(): Promise<void> {
    this.#schedule(await this.#sync());
  }

  #schedule(dueAt: number): void {
    if (this.#closed) return;
    const delay = Math.min(Math.max(dueAt - this.#o.now(), 50), MAX_TIMER_MS);
    this.#timer = setTimeout(() => {
      this.#inflight = this.#sync().then(
        (next) => this.#schedule(next),
        (err: unknown) => {
          this.#o.logger.warn({ err }, 'webhook certificate sync failed; retrying');
          this.#schedule(this.#o.now() + Math.min(this.#o.syncIntervalMs, 10_000));
        },
      ).finally(() => { this.#inflight = undefined; });
    }, delay);
    // The server keeps the process alive; a pending renewal must not.
    this.#timer.unref();
  }

  /** One reconcile round; returns when the next one is due. */
  async #sync(): Promise<number> {
    const state = await this.#reconcileCa();
    await this.#publishBundle(state);
    const now = this.#o.now();
    const issued = this.#issued;
    if (!issued || issued.serving.ca !== state.active.cert || now >= issued.renewAt) await this.#issue(state, issued !== undefined);
    const renewAt = this.#issued?.renewAt ?? now;
    return Math.min(renewAt, nextCaDue(state, this.#policy()), now + this.#o.syncIntervalMs);
  }

  #policy(): RotationPolicy {
    return { renewBeforeMs: this.#o.caRenewBeforeMs, propagationMs: this.#o.caPropagationMs };
  }

  #newCa(): ReturnType<typeof generateCa> {
    return generateCa({ now: new Date(this.#o.now()), validityMs: this.#o.caValidityMs });
  }

  /** Reads the shared CA, creating it or taking the next rotation step; losers of a race re-read. */
  async #reconcileCa(): Promise<CaState> {
    const log = this.#o.logger;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const read = await readCaSecret(this.#secret);
      if (read.kind === 'absent') {
        const state = freshState(await this.#newCa());
        if ((await createCaSecret(this.#secret, state)) === 'created') {
          log.info({ secret: this.#secret.name }, 'created the webhook CA');
          return state;
        }
        continue; // another replica created it first: use theirs
      }
      if (read.kind === 'malformed') {
        log.warn({ secret: this.#secret.name, error: read.error }, 'webhook CA Secret is unusable; replacing it with a new CA');
        const state = freshState(await this.#newCa());
        if ((await replaceCaSecret(this.#secret, state, read.resourceVersion)) === 'replaced') return state;
        continue;
      }
      const now = this.#o.now();
      const step = planCaStep(read.state, now, this.#policy());
      let next: CaState;
      switch (step.kind) {
        case 'none':
          return read.state;
        case 'replace-expired':
          next = freshState(await this.#newCa());
          break;
        case 'stage':
          next = stageNext(read.state, await this.#newCa(), now);
          break;
        case 'promote':
          // The staged CA must be in the caBundle before anything it signs is served.
          await this.#publishBundle(read.state);
          next = promoteNext(read.state, now);
          break;
        case 'prune':
          next = pruneBundle(read.state, now);
          break;
      }
      if ((await replaceCaSecret(this.#secret, next, read.resourceVersion)) === 'replaced') {
        log.info({ secret: this.#secret.name, step: step.kind }, 'webhook CA rotation step');
        return next;
      }
    }
    throw new ChaperoneError('WEBHOOK_ERR_TLS_CA_CONFLICT', `the CA Secret ${this.#secret.namespace}/${this.#secret.name} kept changing under us`);
  }

  async #publishBundle(state: CaState): Promise<void> {
    const r = await ensureCaBundle(this.#webhooks, this.#o.webhookConfigName, state.bundle);
    if (r.kind === 'patched') this.#o.logger.info({ webhookConfiguration: this.#o.webhookConfigName, webhooks: r.webhooks }, 'caBundle updated');
    if (r.kind === 'missing') this.#o.logger.warn({ webhookConfiguration: this.#o.webhookConfigName }, 'MutatingWebhookConfiguration not found; caBundle not set yet');
  }

  async #issue(state: CaState, rotate: boolean): Promise<void> {
    const issuedAt = this.#o.now();
    const serving = await issueServingCertificate(state.active, {
      dnsNames: this.#dnsNames, ipAddresses: this.#ipAddresses, validityMs: this.#o.servingValidityMs, now: new Date(issuedAt),
    });
    const life = serving.notAfter.getTime() - issuedAt;
    const renewAt = issuedAt + life * (2 / 3) * (1 - this.#o.jitter * this.#o.random());
    this.#issued = { serving, renewAt };
    this.#o.logger.info({ notAfter: serving.notAfter.toISOString(), renewAt: new Date(renewAt).toISOString() }, 'issued webhook serving certificate');
    if (!rotate) return;
    for (const fn of this.#listeners) {
      try {
        fn(serving);
      } catch (err) {
        this.#o.logger.error({ err }, 'certificate rotation listener failed');
      }
    }
  }
}

/** Starts the source: the CA is obtained (or created) and a serving certificate issued before this resolves. */
export async function startGeneratedSource(o: GeneratedSourceOptions): Promise<CertificateSource> {
  const source = new GeneratedSource(o);
  try {
    await source.start();
  } catch (err) {
    await source.close();
    if (err instanceof ChaperoneError) throw err;
    throw new ChaperoneError('WEBHOOK_ERR_TLS_START', `could not set up the webhook CA in ${o.namespace}: ${(err as Error).message}`, undefined, { cause: err });
  }
  return source;
}
