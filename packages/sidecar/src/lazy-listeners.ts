// Listeners of one connection type (SSH, Kubernetes) whose module loads only once a bundle grants
// a connection of that type: their libraries (ssh2, TLS certificate generation, the shell parser)
// would otherwise sit in the memory of every sidecar, most of which only proxy PostgreSQL.
import type { Credential } from '@chaperone/core/api';
import type { ConnectionDoc, PolicyBundle } from '@chaperone/core/policy/types';

/** What sidecar.ts calls on SshListeners and KubeListeners. */
export interface TypeListeners {
  /** Applies the bundle's connections; true when one still waits for its credential. */
  apply(bundle: PolicyBundle, wanted: readonly ConnectionDoc[], credentials: Record<string, Credential>, withCredentials: boolean, ports: Record<string, number>): Promise<boolean>;
  close(): Promise<void>;
}

export class LazyListeners implements TypeListeners {
  private loaded: TypeListeners | undefined;
  private loading: Promise<TypeListeners> | undefined;

  /** `load` imports the module and builds its listeners; called at most once. */
  constructor(private readonly type: ConnectionDoc['spec']['type'], private readonly load: () => Promise<TypeListeners>) {}

  /** Whether the module was loaded (a connection of the type was granted at some point). */
  get isLoaded(): boolean {
    return this.loaded !== undefined;
  }

  async apply(bundle: PolicyBundle, wanted: readonly ConnectionDoc[], credentials: Record<string, Credential>, withCredentials: boolean, ports: Record<string, number>): Promise<boolean> {
    // Once loaded, always applied: a bundle without the type must close its listeners.
    if (!this.loaded) {
      if (!wanted.some((c) => c.spec.type === this.type)) return false;
      // A failed import may be retried by the next bundle.
      this.loading ??= this.load().catch((err: unknown) => { this.loading = undefined; throw err; });
      this.loaded = await this.loading;
    }
    return this.loaded.apply(bundle, wanted, credentials, withCredentials, ports);
  }

  async close(): Promise<void> {
    const listeners = this.loaded ?? (this.loading ? await this.loading.catch(() => undefined) : undefined);
    await listeners?.close();
  }
}
