// A certificate from a Kubernetes Secret in cert-manager's layout (tls.crt, tls.key, ca.crt),
// read through the API and watched, so a renewal by cert-manager reaches the server without a restart.
import { CoreV1Api, Watch } from '@kubernetes/client-node';
import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import { ChaperoneError } from '@chaperone/core/errors';
import { CertificateHolder } from './holder.js';
import type { Material } from './holder.js';
import { silentLogger } from './source.js';
import type { CertificateSource, ServingCertificate, TlsLogger } from './source.js';

export interface SecretSourceOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  logger?: TlsLogger;
  /** Wait before re-watching after an error; default 5 s. */
  retryMs?: number;
}

/** The server ends a watch after this long; we then re-read and watch again (also catches anything missed). */
const WATCH_SECONDS = 25;

function material(s: V1Secret): Material {
  const get = (k: string): string | undefined => {
    const v = s.data?.[k];
    return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
  };
  return { cert: get('tls.crt'), key: get('tls.key'), ca: get('ca.crt') };
}

class SecretSource implements CertificateSource {
  readonly #o: SecretSourceOptions & { logger: TlsLogger; retryMs: number };
  readonly #api: CoreV1Api;
  readonly #watch: Watch;
  readonly #holder: CertificateHolder;
  #abort: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: SecretSourceOptions) {
    this.#o = { ...o, logger: o.logger ?? silentLogger, retryMs: o.retryMs ?? 5_000 };
    this.#api = o.kubeConfig.makeApiClient(CoreV1Api);
    this.#watch = new Watch(o.kubeConfig);
    this.#holder = new CertificateHolder(`secret ${o.namespace}/${o.name}`, this.#o.logger);
  }

  current(): ServingCertificate {
    return this.#holder.require();
  }

  onRotate(fn: (c: ServingCertificate) => void): void {
    this.#holder.onRotate(fn);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#abort?.abort();
  }

  async start(): Promise<void> {
    let secret: V1Secret;
    try {
      secret = await this.#read();
    } catch (err) {
      throw new ChaperoneError('WEBHOOK_ERR_TLS_SECRET', `cannot read the TLS Secret ${this.#o.namespace}/${this.#o.name}: ${(err as Error).message}`, undefined, { cause: err });
    }
    const r = this.#holder.offer(material(secret));
    if (r.kind === 'refused') throw new ChaperoneError('WEBHOOK_ERR_TLS_SECRET', `the TLS Secret ${this.#o.namespace}/${this.#o.name} is unusable: ${r.error}`);
    await this.#startWatch(secret.metadata?.resourceVersion);
  }

  #read(): Promise<V1Secret> {
    return this.#api.readNamespacedSecret({ name: this.#o.name, namespace: this.#o.namespace });
  }

  async #startWatch(resourceVersion: string | undefined): Promise<void> {
    if (this.#closed) return;
    const path = `/api/v1/namespaces/${encodeURIComponent(this.#o.namespace)}/secrets`;
    const query = { fieldSelector: `metadata.name=${this.#o.name}`, resourceVersion, timeoutSeconds: WATCH_SECONDS };
    this.#abort = await this.#watch.watch(path, query, (phase: string, obj: V1Secret) => {
      if (phase === 'ADDED' || phase === 'MODIFIED') this.#holder.offer(material(obj));
      if (phase === 'DELETED') this.#o.logger.warn({ secret: this.#o.name }, 'TLS Secret deleted; serving the last certificate');
    }, (err: unknown) => {
      if (this.#closed) return;
      if (err) this.#o.logger.warn({ err }, 'TLS Secret watch ended; re-reading');
      this.#timer = setTimeout(() => void this.#resync(), err ? this.#o.retryMs : 0);
      this.#timer.unref();
    });
    if (this.#closed) this.#abort.abort();
  }

  /** Re-read (anything the watch missed while it was down) and watch again from there. */
  async #resync(): Promise<void> {
    if (this.#closed) return;
    try {
      const secret = await this.#read();
      this.#holder.offer(material(secret));
      await this.#startWatch(secret.metadata?.resourceVersion);
    } catch (err) {
      this.#o.logger.warn({ err }, 'cannot read the TLS Secret; retrying');
      if (this.#closed) return;
      this.#timer = setTimeout(() => void this.#resync(), this.#o.retryMs);
      this.#timer.unref();
    }
  }
}

export async function startSecretSource(o: SecretSourceOptions): Promise<CertificateSource> {
  const s = new SecretSource(o);
  await s.start();
  return s;
}
