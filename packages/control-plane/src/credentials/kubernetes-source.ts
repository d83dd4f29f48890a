// Credentials from Kubernetes Secrets (`username` with `password` or `ssh-privatekey`): each Secret asked for is
// listed once and then kept current by a watch on that one Secret (field selector on its name, so
// RBAC can grant exactly the named Secrets). Values never appear in logs or errors.
import { CoreV1Api, ListWatch, Watch, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import type { Credential } from '@chaperone/core/api';
import { ChaperoneError } from '@chaperone/core/errors';
import { apiStatus } from '../identity/kube-config.js';
import { credentialFromSecret } from './source.js';
import type { CredentialSource, SecretRef } from './source.js';

export const CREDENTIALS_ERR_KUBERNETES = 'CREDENTIALS_ERR_KUBERNETES';

/** What the source reports: watch trouble and recoveries, never a value. */
export type KubernetesSourceEvent =
  | { type: 'watch-error'; secret: string; error: string; retryInMs: number }
  | { type: 'watch-started'; secret: string };

export interface KubernetesSourceOptions {
  /** Namespace of secretRefs that name none: the control plane's own. */
  namespace: string;
  onEvent?: (event: KubernetesSourceEvent) => void;
  /** First delay before a failed watch is restarted; doubles up to 30 s. */
  retryDelayMs?: number;
}

const MAX_RETRY_MS = 30_000;

interface Watched {
  list: ListWatch<V1Secret>;
  /** Settles when the first list is done; rejects when it failed (the entry is then dropped). */
  ready: Promise<void>;
  retryMs: number;
  retry?: NodeJS.Timeout;
}

export class KubernetesCredentialSource implements CredentialSource {
  private readonly watched = new Map<string, Watched>();
  private readonly core: CoreV1Api;
  private closed = false;

  constructor(private readonly kc: KubeConfig, private readonly options: KubernetesSourceOptions) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async get(ref: SecretRef): Promise<Credential | undefined> {
    const namespace = ref.namespace ?? this.options.namespace;
    const key = `${namespace}/${ref.name}`;
    let w = this.watched.get(key);
    if (!w) {
      w = this.watch(namespace, ref.name);
      this.watched.set(key, w);
    }
    try {
      await w.ready;
    } catch (err) {
      if (this.watched.get(key) === w) this.watched.delete(key);
      throw err;
    }
    const secret = w.list.get(ref.name, namespace);
    return secret ? credentialOf(secret, key) : undefined;
  }

  /** Stops every watch. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watched.values()) {
      clearTimeout(w.retry);
      await w.list.stop();
    }
    this.watched.clear();
  }

  private watch(namespace: string, name: string): Watched {
    const key = `${namespace}/${name}`;
    const fieldSelector = `metadata.name=${name}`;
    const list = new ListWatch<V1Secret>(`/api/v1/namespaces/${namespace}/secrets`, new Watch(this.kc),
      () => this.core.listNamespacedSecret({ namespace, fieldSelector }), false, undefined, fieldSelector);
    const base = this.options.retryDelayMs ?? 1000;
    const w: Watched = { list, ready: Promise.resolve(), retryMs: base };
    let started = false;
    let firstError: unknown;
    // ListWatch reports every failure here and stops; after the first list, restart it with backoff.
    list.on('error', (err: unknown) => {
      if (!started) {
        firstError ??= err;
        return;
      }
      if (this.closed || this.watched.get(key) !== w) return;
      this.options.onEvent?.({ type: 'watch-error', secret: key, error: describe(err), retryInMs: w.retryMs });
      w.retry = setTimeout(() => {
        list.start().then(() => this.options.onEvent?.({ type: 'watch-started', secret: key }), () => undefined);
      }, w.retryMs);
      w.retry.unref();
      w.retryMs = Math.min(w.retryMs * 2, MAX_RETRY_MS);
    });
    list.on('connect', () => { if (started) w.retryMs = base; });
    w.ready = list.start().catch((err: unknown) => { firstError ??= err; }).then(async () => {
      if (firstError !== undefined) {
        await list.stop();
        throw new ChaperoneError(CREDENTIALS_ERR_KUBERNETES, `cannot read Secret ${key}: ${describe(firstError)}`, undefined, { cause: firstError });
      }
      started = true;
      this.options.onEvent?.({ type: 'watch-started', secret: key });
    });
    return w;
  }
}

/** Secret data is base64; both keys must be there (an empty password is allowed). */
function credentialOf(secret: V1Secret, key: string): Credential {
  const data = secret.data ?? {};
  const decode = (k: string): string | undefined => (data[k] === undefined ? undefined : Buffer.from(data[k], 'base64').toString('utf8'));
  const c = credentialFromSecret({ username: decode('username'), password: decode('password'), 'ssh-privatekey': decode('ssh-privatekey'), passphrase: decode('passphrase') });
  if (!c.ok) throw new ChaperoneError(CREDENTIALS_ERR_KUBERNETES, `Secret ${key} has no ${c.missing} key`);
  return c.credential;
}

function describe(err: unknown): string {
  const status = apiStatus(err);
  if (status === 403) return 'forbidden (HTTP 403): the control plane needs get, list and watch on this Secret';
  if (status !== undefined) return `HTTP ${status}`;
  return err instanceof Error ? err.message : String(err);
}
