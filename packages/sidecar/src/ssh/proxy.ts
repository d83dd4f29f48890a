// The sidecar's SSH listener for one `ssh` Connection: an ssh2 Server on 127.0.0.1 with a host
// key generated at start, handing each agent connection to session.ts. update() swaps policy,
// target and credential for new requests; close() ends every session.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { pino } from 'pino';
// ssh2 is CommonJS: its named exports come through the default export.
import ssh2 from 'ssh2';
import type { Connection } from 'ssh2';
import type { SshTarget } from '@chaperone/core/policy/types';
import type { ApprovalGate } from '../approvals/gate.js';
import type { SshObserver } from './observer.js';
import type { SshPolicy } from './policy.js';
import { generateHostKey } from './host-key.js';
import { handleAgentConnection } from './session.js';
import type { SshCredential } from './upstream.js';

export interface SshProxyOptions {
  listen: { host: string; port: number };
  connectionName: string;
  target: SshTarget;
  credential: SshCredential;
  policy: SshPolicy;
  observer: SshObserver;
  approvals?: ApprovalGate;
  logger?: Logger;
  /** Dialling and verifying the target, at most (default 15 s). */
  connectTimeoutMs?: number;
  /** Agent connections open at once, at most (default MAX_AGENT_CONNECTIONS); more are closed at once. */
  maxConnections?: number;
}

/**
 * Each agent connection becomes a connection to the target with the Connection's credential: an
 * agent opening connections in a loop must not flood the target (MaxStartups, fail2ban locking
 * the credential out) or the sidecar.
 */
export const MAX_AGENT_CONNECTIONS = 64;

export interface SshProxyUpdate {
  policy?: SshPolicy;
  target?: SshTarget;
  credential?: SshCredential;
}

export class SshProxy {
  private readonly server: ssh2.Server;
  private current: { target: SshTarget; credential: SshCredential; policy: SshPolicy };
  private readonly connections = new Set<Connection>();
  private readonly logger: Logger;
  /** The public half of the host key made at start (`ssh-ed25519 AAAA…`), for known_hosts. */
  readonly hostKey: string;

  constructor(private readonly o: SshProxyOptions) {
    this.logger = o.logger ?? pino({ level: 'silent' });
    this.current = { target: o.target, credential: o.credential, policy: o.policy };
    const key = generateHostKey();
    this.hostKey = key.public;
    this.server = new ssh2.Server({ hostKeys: [key.private], ident: 'chaperone' }, (conn, info) => {
      this.connections.add(conn);
      // Small SFTP status replies must not wait for Nagle and delayed ACKs (latency-bound transfers).
      // (ssh2's server connection has setNoDelay; its typings leave it out.)
      (conn as unknown as { setNoDelay(on: boolean): void }).setNoDelay(true);
      conn.on('close', () => this.connections.delete(conn));
      handleAgentConnection(conn, { ip: info.ip, port: info.port }, {
        connection: o.connectionName, current: () => this.current, observer: o.observer, approvals: o.approvals,
        logger: this.logger, ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
      });
    });
    this.server.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'ssh listener error'));
    // ssh2's Server closes a socket past maxConnections before the SSH handshake (its typings leave it out).
    (this.server as unknown as { maxConnections: number }).maxConnections = o.maxConnections ?? MAX_AGENT_CONNECTIONS;
  }

  start(): Promise<{ port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.o.listen.port, this.o.listen.host, () => {
        this.server.off('error', onError);
        const address = this.server.address();
        resolve({ port: typeof address === 'object' && address ? address.port : this.o.listen.port });
      });
    });
  }

  /** New policy, target or credential: sessions use them from their next request or connection. */
  update(u: SshProxyUpdate): void {
    this.current = { ...this.current, ...u };
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const conn of this.connections) {
      conn.end();
      // A client that does not answer the disconnect still goes.
      ((conn as unknown as { _sock?: Socket })._sock)?.destroy();
    }
    await closed;
  }
}
