// The local Kubernetes API endpoint of one `kubernetes` Connection: an HTTPS listener with the
// sidecar's own certificate, one recorded session per agent TCP connection, each request decided
// and carried out by kube/request.ts against the real API server with the sidecar's credential.
import { randomUUID } from 'node:crypto';
import { Agent, createServer } from 'node:https';
import type { Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Decision } from '@chaperone/core/decision';
import { decideKube } from '@chaperone/core/kube/decide';
import type { CompiledKubePolicy } from '@chaperone/core/kube/decide';
import type { RequestInfo } from '@chaperone/core/kube/request-info';
import type { KubernetesTarget } from '@chaperone/core/policy/types';
import type { ApprovalEvent, KubernetesRequestEvent, RecordEvent } from '@chaperone/core/records/types';
import { compileShellPolicy } from '@chaperone/core/shell/policy';
import type { CompiledShellPolicy } from '@chaperone/core/shell/policy';
import type { ApprovalGate } from '../approvals/gate.js';
import { handleUpgrade } from './exec.js';
import type { LocalTls } from './local-ca.js';
import type { KubeMasks } from './masks.js';
import { handleRequest, maskingKind } from './request.js';

export interface BearerCredential {
  token: string;
  /** ISO instant; the proxy asks for a fresh one (onCredentialExpiring) before it. */
  expiresAt?: string;
}

/** What the proxy reports; kube/observer.ts turns it into records and metrics. */
export interface KubeObserver {
  sessionStarted(s: { id: string; client: Record<string, string> }): void;
  request(session: string, event: KubernetesRequestEvent): void;
  /** A held request's approval: pending when the control plane has it, then how it ended. */
  approval(session: string, event: ApprovalEvent): void;
  /** Exec and attach streams: CommandEvent, terminal records; port-forwards: ChannelEvent. */
  record?(session: string, event: RecordEvent): void;
  /** A line typed in an exec or attach shell was decided (counted by rule when not allowed). */
  command?(session: string, decision: { action: Decision['action']; policy: string; rule: string }): void;
  sessionEnded(s: { session: string; reason: string; requests: number; durationMs: number }): void;
}

export interface KubeProxyOptions {
  listen: { host: string; port: number };
  connectionName: string;
  target: KubernetesTarget;
  credential: BearerCredential;
  policy: CompiledKubePolicy;
  /** The connection's shell policy: exec commands, attach (`shell`) and `port-forward`; none refuses them. */
  shell?: CompiledShellPolicy;
  masks: KubeMasks;
  tls: LocalTls;
  observer: KubeObserver;
  /** Holds `approve` decisions; without one they are refused, saying so. */
  approvals?: ApprovalGate;
  /** Called at 80 % of the credential's life (and on an upstream 401): re-exchange, then update(). */
  onCredentialExpiring?: () => void;
  logger?: Logger;
}

/** What changes while the listener runs: a new bundle or a renewed credential. */
export interface KubeProxyUpdate {
  policy?: CompiledKubePolicy;
  shell?: CompiledShellPolicy;
  masks?: KubeMasks;
  target?: KubernetesTarget;
  credential?: BearerCredential;
}

/** The state request.ts reads per request; replaced whole by update(), so a request sees one version. */
export interface KubeProxyState {
  connection: string;
  target: KubernetesTarget;
  upstream: URL;
  agent: Agent;
  token: string;
  policy: CompiledKubePolicy;
  shell: CompiledShellPolicy;
  masks: KubeMasks;
  approvals: ApprovalGate | undefined;
  logger: Logger | undefined;
  credentialRejected(): void;
  /** Requests being answered (shared by every state version), re-checked when policy changes. */
  inflight: Set<InflightRequest>;
  /** Upgraded streams (exec, attach, port-forward) being relayed, re-decided when policy changes. */
  streams: Set<LiveStream>;
  /** The newest state: a long-lived shell decides each line under the policy in force when it is typed. */
  latest(): KubeProxyState;
}

/** An upgraded stream that a stricter bundle ends. */
export interface LiveStream {
  /** Whether the stream would still be let through (an approved one stays approved). */
  stillAllowed(state: KubeProxyState): boolean;
  close(): void;
}

/** A forwarded request whose answer is still streaming; `masking` is what it was started with. */
export interface InflightRequest {
  info: RequestInfo;
  masking: string;
  res: ServerResponse;
}

export interface KubeSession {
  id: string;
  requests: number;
  startedAt: number;
  /** Upgraded streams (exec, attach, port-forward) so far: numbers them for their records. */
  streams: number;
  /** Streams still open or being decided: the session's end waits for their last records. */
  active: number;
  /** Set when the agent's connection closed while streams were active: ends the session once they are done. */
  endWhenIdle: (() => void) | undefined;
  /** Aborted when the agent's connection closes: held approvals are withdrawn. */
  closed: AbortController;
}

export class KubeProxy {
  private server: Server | undefined;
  private state: KubeProxyState;
  private readonly sessions = new Map<Duplex, KubeSession>();
  private readonly inflight = new Set<InflightRequest>();
  private readonly streams = new Set<LiveStream>();
  private refreshTimer: NodeJS.Timeout | undefined;
  private lastRejectRefresh = 0;

  constructor(private readonly o: KubeProxyOptions) {
    this.state = this.buildState(o.target, o.credential.token, o.policy, o.shell ?? compileShellPolicy([], o.connectionName), o.masks, undefined);
    this.scheduleRefresh(o.credential.expiresAt);
  }

  async start(): Promise<{ port: number }> {
    const server = createServer({ cert: this.o.tls.cert, key: this.o.tls.key, ca: this.o.tls.caCert });
    server.on('secureConnection', (socket: TLSSocket) => this.openSession(socket));
    server.on('request', (req, res) => {
      const session = this.sessions.get(req.socket);
      if (!session) {
        res.writeHead(500).end();
        return;
      }
      session.requests++;
      handleRequest(this.state, session, req, res, {
        request: (event) => this.o.observer.request(session.id, event),
        approval: (event) => this.o.observer.approval(session.id, event),
      });
    });
    // exec/attach/portforward: WebSocket and SPDY upgrades, decided before they happen (kube/exec.ts).
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const session = this.sessions.get(socket);
      if (!session) return void socket.destroy();
      session.requests++;
      const observer = this.o.observer;
      try {
        handleUpgrade(this.state, session, req, socket, head, {
          request: (event) => observer.request(session.id, event),
          approval: (event) => observer.approval(session.id, event),
          record: (event) => observer.record?.(session.id, event),
          command: (decision) => observer.command?.(session.id, decision),
        });
      } catch (err) {
        // Whatever an agent's upgrade request holds, it ends that connection, never the listener.
        this.o.logger?.warn({ err: (err as Error).message }, 'Kubernetes upgrade request failed');
        socket.destroy();
      }
    });
    server.on('tlsClientError', (err) => this.o.logger?.debug({ err: err.message }, 'agent TLS handshake failed'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.listen.port, this.o.listen.host, () => { server.off('error', reject); resolve(); });
    });
    this.server = server;
    const address = server.address();
    return { port: typeof address === 'object' && address ? address.port : this.o.listen.port };
  }

  update(u: KubeProxyUpdate): void {
    const s = this.state;
    // A new bundle repeats the target: only a different server or CA needs new upstream connections.
    const moved = u.target !== undefined && (u.target.server !== s.target.server || u.target.caBundle !== s.target.caBundle);
    this.state = this.buildState(moved && u.target ? u.target : s.target, u.credential?.token ?? s.token, u.policy ?? s.policy, u.shell ?? s.shell, u.masks ?? s.masks, moved ? undefined : s.agent);
    if (moved) s.agent.destroy();
    if (u.credential) this.scheduleRefresh(u.credential.expiresAt);
    if (u.policy || u.masks || u.shell) this.recheck();
  }

  /**
   * Live answers (watches, `logs -f`) follow the new bundle: one the policy no longer allows, or
   * that would now be masked differently, is closed, and the client's retry meets the new policy.
   */
  private recheck(): void {
    for (const r of this.inflight) {
      if (decideKube(this.state.policy, r.info).action === 'allow' && maskingKind(this.state, r.info) === r.masking) continue;
      this.o.logger?.info({ path: r.info.path }, 'policy changed: closing a live Kubernetes response');
      this.inflight.delete(r);
      r.res.destroy();
    }
    for (const stream of this.streams) {
      if (stream.stillAllowed(this.state)) continue;
      this.o.logger?.info('policy changed: closing an exec, attach or port-forward stream it no longer allows');
      this.streams.delete(stream);
      stream.close();
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.refreshTimer);
    const server = this.server;
    this.server = undefined;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const socket of this.sessions.keys()) socket.destroy();
      await closed;
    }
    this.state.agent.destroy();
  }

  private buildState(target: KubernetesTarget, token: string, policy: CompiledKubePolicy, shell: CompiledShellPolicy, masks: KubeMasks, agent: Agent | undefined): KubeProxyState {
    return {
      connection: this.o.connectionName,
      target,
      upstream: new URL(target.server),
      agent: agent ?? new Agent({ keepAlive: true, noDelay: true, ...(target.caBundle ? { ca: target.caBundle } : {}) }),
      token, policy, shell, masks,
      approvals: this.o.approvals,
      logger: this.o.logger,
      inflight: this.inflight,
      streams: this.streams,
      latest: () => this.state,
      credentialRejected: () => {
        // An upstream 401: the token was revoked or expired early. One refresh per 10 s at most.
        if (Date.now() - this.lastRejectRefresh < 10_000) return;
        this.lastRejectRefresh = Date.now();
        this.o.onCredentialExpiring?.();
      },
    };
  }

  private openSession(socket: TLSSocket): void {
    const session: KubeSession = { id: randomUUID(), requests: 0, streams: 0, active: 0, endWhenIdle: undefined, startedAt: performance.now(), closed: new AbortController() };
    this.sessions.set(socket, session);
    this.o.observer.sessionStarted({ id: session.id, client: { remoteAddress: socket.remoteAddress ?? '', remotePort: String(socket.remotePort ?? '') } });
    socket.once('close', () => {
      this.sessions.delete(socket);
      session.closed.abort();
      const reason = this.server ? 'client' : 'shutdown';
      // An exec's last records (exit status, terminal) come as its relay winds down, after the agent hung up.
      const end = () => this.o.observer.sessionEnded({ session: session.id, reason, requests: session.requests, durationMs: performance.now() - session.startedAt });
      if (session.active > 0) session.endWhenIdle = end;
      else end();
    });
  }

  private scheduleRefresh(expiresAt: string | undefined): void {
    clearTimeout(this.refreshTimer);
    if (expiresAt === undefined || !this.o.onCredentialExpiring) return;
    const life = Date.parse(expiresAt) - Date.now();
    if (!Number.isFinite(life)) return;
    const refresh = this.o.onCredentialExpiring;
    this.refreshTimer = setTimeout(() => refresh(), Math.min(Math.max(1_000, life * 0.8), 2 ** 31 - 1));
    this.refreshTimer.unref();
  }
}
