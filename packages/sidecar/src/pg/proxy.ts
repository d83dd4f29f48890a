// The PostgreSQL listener: accepts agent connections on localhost, runs one PgSession per
// connection, routes CancelRequests to the right upstream, and applies settings updates live.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ApprovalGate } from '../approvals/gate.js';
import { sendCancel } from './auth.js';
import type { Catalog } from './catalog.js';
import { createCatalog, createMasking } from './mask-session.js';
import type { Masking } from './mask-session.js';
import { PgSession } from './session.js';
import type { SessionHost } from './session.js';
import type { MaskingOptions, PgObserver, PgProxyOptions, ProxySettings } from './types.js';

export type { PgObserver, PgProxyOptions, SqlVerdict } from './types.js';
export type { SslMode, UpstreamCredential, UpstreamTarget } from './auth.js';

export class PgProxy implements SessionHost {
  readonly connectionName: string;
  readonly observer: PgObserver | undefined;
  readonly logger: Logger | undefined;
  readonly approvals: ApprovalGate | undefined;
  private current: ProxySettings;
  private readonly listen: { host: string; port: number };
  private server: Server | null = null;
  private readonly sessions = new Set<PgSession>();
  private readonly cancelKeys = new Map<number, { secret: number; session: PgSession }>();
  /** Catalog answers for masking, shared by the sessions to this target (asked only when masking). */
  private readonly catalog: Catalog;

  constructor(o: PgProxyOptions) {
    this.connectionName = o.connectionName;
    this.observer = o.observer;
    this.logger = o.logger;
    this.approvals = o.approvals;
    this.listen = o.listen;
    this.current = { target: o.target, credential: o.credential, enforce: o.enforce, generation: 0 };
    this.catalog = createCatalog(() => ({ target: this.current.target, credential: this.current.credential }), o.masking?.catalogTtlMs);
    if (o.masking) this.current.masking = this.masking(o.masking);
  }

  private masking(m: MaskingOptions): Masking {
    return createMasking(m.policy, this.catalog, m.lineage, m.counters);
  }

  async start(): Promise<{ port: number }> {
    // Paused: the session moves each socket to an `onread` one before the first read (socket-reader.ts).
    const server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listen.port, this.listen.host, () => { server.off('error', reject); resolve(); });
    });
    server.on('error', (err) => this.logger?.error({ err, connection: this.connectionName }, 'pg listener error'));
    return { port: (server.address() as AddressInfo).port };
  }

  /** New credential, policy or target: used by new connections, and by live ones from their next statement. */
  update(p: Partial<Pick<PgProxyOptions, 'credential' | 'enforce' | 'target'>> & { masking?: MaskingOptions | null }): void {
    const before = this.current;
    this.current = {
      target: p.target ?? this.current.target,
      credential: p.credential ?? this.current.credential,
      enforce: p.enforce ?? this.current.enforce,
      generation: this.current.generation + 1,
    };
    const masking = p.masking === undefined ? before.masking : p.masking === null ? undefined : this.masking(p.masking);
    if (masking) this.current.masking = masking;
    // New rules or a new target: plans and catalog answers are made again.
    if (p.masking !== undefined || p.target !== undefined) { this.catalog.invalidate(); if (p.target !== undefined) this.catalog.close(); }
    // Sessions opened without a masking stage cannot grow one mid-stream: masking newly on ends them.
    if (masking && !before.masking) for (const s of [...this.sessions]) s.destroy();
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of [...this.sessions]) s.destroy();
    this.catalog.close();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const session = new PgSession(socket, this, randomUUID());
    this.sessions.add(session);
  }

  // ---- SessionHost ---------------------------------------------------------------------------

  settings(): ProxySettings { return this.current; }

  registerCancelKey(pid: number, secret: number, session: PgSession): () => void {
    this.cancelKeys.set(pid, { secret, session });
    return () => { if (this.cancelKeys.get(pid)?.session === session) this.cancelKeys.delete(pid); };
  }

  cancel(pid: number, secret: number): void {
    const entry = this.cancelKeys.get(pid);
    // As PostgreSQL does, a wrong key is ignored silently (no oracle for guessing keys).
    if (!entry || entry.secret !== secret) return;
    // A statement held for approval is not at the server: withdrawing it is the cancel.
    if (entry.session.cancelHold()) return;
    const key = entry.session.upstreamKey;
    if (!key) return;
    void sendCancel(this.current.target, key).then((sent) => {
      if (!sent) this.logger?.warn({ session: entry.session.id }, 'could not deliver cancel request upstream');
    });
  }

  sessionClosed(session: PgSession): void {
    this.sessions.delete(session);
  }
}
