// The sidecar's SSH listeners: one SshProxy per granted `ssh` Connection, kept in line with each
// bundle (policy, target) and credential; sidecar.ts calls apply() beside its other listeners.
import type { Logger } from 'pino';
import type { Credential, ExchangeResponse } from '@chaperone/core/api';
import { ChaperoneError } from '@chaperone/core/errors';
import type { ConnectionDoc, PolicyBundle, SshTarget } from '@chaperone/core/policy/types';
import { loadShellParser } from '@chaperone/core/shell/analyze';
import type { ApprovalGate } from '../approvals/gate.js';
import { closeUngranted } from '../close-ungranted.js';
import type { SidecarMetrics } from '../metrics.js';
import type { Recorder } from '../recorder/recorder.js';
import { createSshObserver } from './observer.js';
import { buildSshPolicy } from './policy.js';
import type { SshPolicy } from './policy.js';
import { SshProxy } from './proxy.js';
import type { SshCredential } from './upstream.js';

export const SIDECAR_ERR_SSH_LISTEN = 'SIDECAR_ERR_SSH_LISTEN';

export interface SshListenersOptions {
  listenHost: string;
  /** Port overrides by connection name (else the Connection's spec.listen.port). */
  ports: Record<string, number>;
  recorder: Recorder;
  metrics: SidecarMetrics;
  logger: Logger;
  /** The current exchange: the identity records carry. */
  grant: () => ExchangeResponse | undefined;
  approvals?: ApprovalGate;
}

export class SshListeners {
  private readonly proxies = new Map<string, SshProxy>();
  private parserLoaded = false;

  constructor(private readonly o: SshListenersOptions) {}

  /** The `ssh` connections of the bundle; returns whether one still waits for its credential. */
  async apply(bundle: PolicyBundle, wanted: readonly ConnectionDoc[], credentials: Record<string, Credential>, withCredentials: boolean, ports: Record<string, number>): Promise<boolean> {
    let needCredentials = false;
    const ssh = wanted.filter((c) => c.spec.type === 'ssh');
    if (ssh.length > 0 && !this.parserLoaded) {
      await loadShellParser();
      this.parserLoaded = true;
    }
    for (const conn of ssh) {
      const name = conn.metadata.name;
      const target = sshTarget(conn);
      if (!target) {
        this.o.logger.error({ connection: name }, 'connection has no usable ssh target (host, port, user, hostKey); skipped');
        continue;
      }
      const given = credentials[name];
      const credential = given?.type === 'ssh-key' || given?.type === 'password' ? given : undefined;
      if (given !== undefined && credential === undefined) this.o.logger.error({ connection: name, credential: given.type }, 'ssh connection was given a credential that is neither a key nor a password; not listening');
      const policy = buildSshPolicy(bundle.policies, name);
      const running = this.proxies.get(name);
      if (running) {
        running.update({ policy, target, ...(withCredentials && credential ? { credential } : {}) });
      } else if (credential) {
        ports[name] = await this.start(conn, target, policy, credential);
      } else {
        needCredentials = true;
      }
    }
    await closeUngranted(this.proxies, ssh, ports, this.o.logger);
    return needCredentials;
  }

  async close(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    this.proxies.clear();
  }

  private async start(conn: ConnectionDoc, target: SshTarget, policy: SshPolicy, credential: SshCredential): Promise<number> {
    const name = conn.metadata.name;
    const grant = this.o.grant();
    if (!grant) throw new ChaperoneError(SIDECAR_ERR_SSH_LISTEN, 'no grant yet');
    const port = this.o.ports[name] ?? conn.spec.listen.port;
    const log = this.o.logger.child({ connection: name });
    const proxy = new SshProxy({
      listen: { host: this.o.listenHost, port },
      connectionName: name, target, credential, policy,
      observer: createSshObserver({ connection: name, identity: grant.identity, recorder: this.o.recorder, metrics: this.o.metrics }),
      ...(this.o.approvals ? { approvals: this.o.approvals } : {}),
      logger: log,
    });
    let bound: number;
    try {
      bound = (await proxy.start()).port;
    } catch (err) {
      throw new ChaperoneError(SIDECAR_ERR_SSH_LISTEN, `cannot listen for connection ${name} on ${this.o.listenHost}:${port}: ${(err as Error).message}`, { connection: name, port }, { cause: err });
    }
    this.proxies.set(name, proxy);
    log.info({ port: bound }, 'listening (ssh)');
    return bound;
  }
}

function sshTarget(conn: ConnectionDoc): SshTarget | undefined {
  const t = conn.spec.target as Partial<SshTarget>;
  if (typeof t.host !== 'string' || typeof t.port !== 'number' || typeof t.user !== 'string' || typeof t.hostKey !== 'string') return undefined;
  return { host: t.host, port: t.port, user: t.user, hostKey: t.hostKey };
}
