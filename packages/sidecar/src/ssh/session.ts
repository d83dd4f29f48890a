// One agent connection to the sidecar's SSH server: any authentication is accepted (the port is
// reachable only inside the pod and the agent holds no credential), the target is dialled once
// with the Connection's credential, and each channel request is decided and carried out.
import type { Logger } from 'pino';
import type { Client, ClientChannel, Connection, ServerChannel, Session, SFTPWrapper } from 'ssh2';
import type { ChannelEvent } from '@chaperone/core/records/types';
import type { ApprovalGate } from '../approvals/gate.js';
import type { ChannelSetup, SessionContext } from './context.js';
import { openAgentChannel, RelayedAgent } from './agent-forward.js';
import { runExec } from './exec.js';
import type { ActiveChannel } from './relay.js';
import { authorize } from './hold.js';
import { loggedSession, NOT_A_RULE, recordedDecision } from './observer.js';
import type { SshObserver } from './observer.js';
import { envAllowed } from './policy.js';
import type { SshPolicy } from './policy.js';
import { proxySftp } from './sftp-proxy.js';
import { runShell } from './shell.js';
import { connectUpstream } from './upstream.js';
import type { SshCredential, UpstreamResult } from './upstream.js';
import type { SshTarget } from '@chaperone/core/policy/types';

export interface SessionDeps {
  connection: string;
  /** Current target, credential and policy (the proxy's; bundle updates change them). */
  current(): { target: SshTarget; credential: SshCredential; policy: SshPolicy };
  observer: SshObserver;
  approvals: ApprovalGate | undefined;
  logger: Logger;
  connectTimeoutMs?: number;
}

const NOT_SUPPORTED = { policy: '', rule: NOT_A_RULE };

export function handleAgentConnection(conn: Connection, info: { ip: string; port: number }, deps: SessionDeps): void {
  const started = performance.now();
  const stop = new AbortController();
  let ctx: SessionContext | undefined;
  let upstream: Promise<UpstreamResult> | undefined;
  let endReason = 'client';
  const holding = new Set<Promise<unknown>>();

  conn.on('authentication', (auth) => {
    // The agent has no credential of its own: `none` (and whatever else it offers) is accepted.
    auth.accept();
  });
  conn.on('error', (err: Error) => deps.logger.debug({ err: err.message }, 'agent connection error'));
  conn.on('ready', () => {
    const client = { address: `${info.ip}:${info.port}` };
    const log = loggedSession(deps.observer.sessionStarted(client), deps.logger, deps.connection, client);
    ctx = {
      session: log.id, connection: deps.connection, approvals: deps.approvals, log, signal: stop.signal, holding,
      logger: deps.logger.child({ session: log.id }),
      policy: () => deps.current().policy,
      upstream: () => (upstream ??= openUpstream()),
    };
    const c = ctx;
    const openUpstream = async (): Promise<UpstreamResult> => {
      const { target, credential } = deps.current();
      const agent = new RelayedAgent(
        () => openAgentChannel(conn),
        () => c.policy().decideOperation('agent-forward'),
        (d) => channelRecord(c, 'agent-forward', 'the target used the forwarded agent', d),
      );
      const r = await connectUpstream(target, credential, deps.connectTimeoutMs, agent);
      if (!r.ok) {
        c.logger.warn({ reason: r.reason, error: r.message }, 'cannot open the target connection');
        return r;
      }
      r.client.on('error', (err: Error) => c.logger.debug({ err: err.message }, 'target connection error'));
      r.client.on('close', () => { endReason = 'upstream'; conn.end(); });
      if (stop.signal.aborted) r.client.end();
      return r;
    };
    let channels = 0;
    conn.on('session', (accept) => handleSession(c, accept(), channels++));
    conn.on('tcpip', (accept, reject, t) => {
      void forwardOut(c, accept, reject, `${t.destIP}:${t.destPort}`, (client, cb) => client.forwardOut(t.srcIP, t.srcPort, t.destIP, t.destPort, cb));
    });
    conn.on('openssh.streamlocal', (_accept, reject, s) => {
      channelRecord(c, 'port-forward', `unix:${s.socketPath}`, { action: 'deny', message: 'Unix socket forwarding is not supported', ...NOT_SUPPORTED });
      reject();
    });
    conn.on('request', (accept, reject, name, bind) => {
      void remoteForward(c, conn, accept, reject, name, bind as { bindAddr: string; bindPort: number });
    });
  });
  conn.on('close', () => {
    stop.abort();
    // Only a connection that was opened is closed: an agent that ran nothing never reached the target.
    void upstream?.then((r) => { if (r.ok) r.client.end(); });
    const durationMs = Math.round(performance.now() - started);
    // Held operations are withdrawn now (the abort); their last records (the withdrawal, the refused
    // command, written right after the hold settles) belong to this session, so it ends after them.
    void Promise.allSettled([...holding])
      .then(() => new Promise((r) => setImmediate(r)))
      .then(() => ctx?.log.end(endReason, durationMs));
  });
}

function handleSession(ctx: SessionContext, session: Session, channel: number): void {
  const setup: ChannelSetup = { channel, pty: undefined, env: {}, agentForward: undefined };
  let active: ActiveChannel | undefined;
  let pendingWindow: [number, number, number, number] | undefined;
  session.on('pty', (accept, _reject, pty) => { setup.pty = pty; accept?.(); });
  session.on('env', (accept, reject, e) => {
    if (envAllowed(e.key)) { setup.env[e.key] = e.val; accept?.(); } else reject?.();
  });
  session.on('window-change', (accept, _reject, w) => {
    if (setup.pty) { setup.pty.cols = w.cols; setup.pty.rows = w.rows; setup.pty.width = w.width; setup.pty.height = w.height; }
    if (active) active.setWindow(w.rows, w.cols, w.height, w.width);
    else pendingWindow = [w.rows, w.cols, w.height, w.width];
    accept?.();
  });
  session.on('signal', (accept, _reject, s) => { active?.signal(s.name); accept?.(); });
  const started = (a: ActiveChannel | undefined) => {
    active = a;
    if (a && pendingWindow) a.setWindow(...pendingWindow);
  };
  session.on('exec', (accept, _reject, e) => { void runExec(ctx, accept(), e.command, setup).then(started); });
  session.on('shell', (accept) => { void runShell(ctx, accept(), setup).then(started); });
  session.on('sftp', (accept, reject) => startSftp(ctx, accept, reject));
  session.on('subsystem', (_accept, reject, s) => {
    channelRecord(ctx, 'subsystem', s.name, { action: 'deny', message: `subsystem ${s.name} is not supported`, ...NOT_SUPPORTED });
    reject();
  });
  session.on('auth-agent', (accept, reject) => {
    // `ssh -A` asks before its exec or shell request; those wait for this (an approval may be pending).
    const d = ctx.policy().decideOperation('agent-forward');
    channelRecord(ctx, 'agent-forward', 'auth-agent-req@openssh.com', d);
    setup.agentForward = authorize(ctx, d, 'agent-forward').then((a) => a.run);
    void setup.agentForward.then((run) => (run ? accept?.() : reject?.()));
  });
  session.on('x11', (_accept, reject, x) => {
    channelRecord(ctx, 'x11', `screen ${x.screen}`, { action: 'deny', message: 'X11 forwarding is refused', ...NOT_SUPPORTED });
    reject?.();
  });
}

function startSftp(ctx: SessionContext, accept: () => SFTPWrapper, reject: () => void): void {
  const policy = ctx.policy();
  const read = policy.decideOperation('file-read');
  const write = policy.decideOperation('file-write');
  if (read.action === 'deny' && write.action === 'deny') {
    channelRecord(ctx, 'subsystem', 'sftp', read);
    reject();
    return;
  }
  const target = ctx.upstream().then((up) => new Promise<SFTPWrapper | { error: string }>((resolve) => {
    if (!up.ok) return resolve({ error: up.message });
    up.client.sftp((err, remote) => resolve(err ? { error: `the target refused sftp: ${err.message}` } : remote));
  }));
  proxySftp(ctx, accept(), target);
}

/** direct-tcpip (`ssh -L`, `-W`, `-D`): only when policy allows port-forward. */
async function forwardOut(
  ctx: SessionContext, accept: () => ServerChannel, reject: () => void, detail: string,
  open: (client: Client, cb: (err: Error | undefined, ch: ClientChannel) => void) => void,
): Promise<void> {
  const decision = ctx.policy().decideOperation('port-forward');
  channelRecord(ctx, 'port-forward', detail, decision);
  const auth = await authorize(ctx, decision, `port-forward ${detail}`);
  if (!auth.run) return reject();
  const up = await ctx.upstream();
  if (!up.ok) return reject();
  open(up.client, (err, remote) => {
    if (err) return reject();
    const agent = accept();
    agent.pipe(remote).pipe(agent);
    agent.on('data', (d: Buffer) => ctx.log.bytes('in', d.length));
    remote.on('data', (d: Buffer) => ctx.log.bytes('out', d.length));
  });
}

/** tcpip-forward (`ssh -R`): only when policy allows port-forward; connections come back through the agent. */
async function remoteForward(
  ctx: SessionContext, conn: Connection, accept: ((port?: number) => void) | undefined, reject: (() => void) | undefined, name: string, bind: { bindAddr: string; bindPort: number },
): Promise<void> {
  if (name !== 'tcpip-forward') {
    if (name === 'cancel-tcpip-forward') {
      const up = await ctx.upstream();
      if (up.ok) up.client.unforwardIn(bind.bindAddr, bind.bindPort, () => accept?.());
      else reject?.();
    } else {
      reject?.();
    }
    return;
  }
  const detail = `remote ${bind.bindAddr}:${bind.bindPort}`;
  const decision = ctx.policy().decideOperation('port-forward');
  channelRecord(ctx, 'port-forward', detail, decision);
  const auth = await authorize(ctx, decision, `port-forward ${detail}`);
  if (!auth.run) return reject?.();
  const up = await ctx.upstream();
  if (!up.ok) return reject?.();
  up.client.forwardIn(bind.bindAddr, bind.bindPort, (err, port) => {
    if (err) return reject?.();
    accept?.(port);
  });
  if (up.client.listenerCount('tcp connection') > 0) return;
  up.client.on('tcp connection', (t, acceptIn, rejectIn) => {
    conn.forwardOut(t.destIP, t.destPort, t.srcIP, t.srcPort, (err, agent) => {
      if (err) return rejectIn();
      const remote = acceptIn();
      remote.pipe(agent).pipe(remote);
    });
  });
}

function channelRecord(ctx: SessionContext, kind: ChannelEvent['kind'], detail: string, decision: Parameters<typeof recordedDecision>[0]): void {
  ctx.log.record({ type: 'channel', kind, detail, decision: recordedDecision(decision) });
}
