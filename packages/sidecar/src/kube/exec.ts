// Upgraded Kubernetes API requests (pods/exec, pods/attach, pods/portforward over WebSocket or
// SPDY/3.1): decided before the upgrade — the Kubernetes rules on the request, then the shell
// policy on the command (exec), the `shell` operation (attach) or `port-forward` — held for
// approval when a rule says so, then relayed with the sidecar's credential and recorded.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Decision } from '@chaperone/core/decision';
import { decideKube } from '@chaperone/core/kube/decide';
import { requestInfo, resourceKey } from '@chaperone/core/kube/request-info';
import type { RequestInfo } from '@chaperone/core/kube/request-info';
import type { HeldOperation } from '@chaperone/core/api';
import type { ApprovalEvent, KubernetesRequestEvent, RecordEvent } from '@chaperone/core/records/types';
import { decideArgv, decideOperation } from '@chaperone/core/shell/policy';
import { statusBody } from './http.js';
import { streamQuery } from './exec-protocol.js';
import type { StreamQuery } from './exec-protocol.js';
import { holdForApproval } from './exec-hold.js';
import { ExecRecording } from './exec-recording.js';
import { ShellInputGuard } from './exec-shell.js';
import type { RelaySend } from './exec-shell.js';
import { relayRaw } from './exec-spdy.js';
import { SpdyTap } from './spdy-tap.js';
import { relayWebSocket } from './exec-websocket.js';
import type { RelayHooks } from './exec-websocket.js';
import type { KubeProxyState, KubeSession, LiveStream } from './proxy.js';

const STREAMING = new Set(['exec', 'attach', 'portforward']);

/** Where an upgrade's records go (its session's). */
export interface UpgradeRecords {
  request(e: KubernetesRequestEvent): void;
  approval(e: ApprovalEvent): void;
  record(e: RecordEvent): void;
  /** A line typed in an interactive shell was decided. */
  command?(d: { action: Decision['action']; policy: string; rule: string }): void;
}

type Resource = Extract<RequestInfo, { kind: 'resource' }>;
type RecordedDecision = { action: Decision['action']; policy: string; rule: string; message?: string };

/** One upgrade under way: what its KubernetesRequestEvent and CommandEvent/ChannelEvent say at the end. */
interface Upgrade {
  started: number;
  info: Resource | undefined;
  target: string;
  decision: Decision;
  programs: string[];
  status: number;
  bytesIn: number;
  bytesOut: number;
  approval?: string;
}

export function handleUpgrade(state: KubeProxyState, session: KubeSession, req: IncomingMessage, socket: Duplex, head: Buffer, records: UpgradeRecords): void {
  const target = req.url ?? '/';
  const parsed = requestInfo(req.method ?? 'GET', target);
  const info = parsed.ok && parsed.info.kind === 'resource' ? parsed.info : undefined;
  const u: Upgrade = {
    started: performance.now(), info, target, programs: [], status: 0, bytesIn: 0, bytesOut: 0,
    decision: { action: 'deny', policy: '', rule: 'unsupported', message: `chaperone: ${pathOf(target)} asks for a protocol upgrade, which only pods/exec, pods/attach and pods/portforward may` },
  };
  socket.on('error', () => undefined);
  const protocol = upgradeProtocol(req);
  if (!info || info.group !== '' || info.resource !== 'pods' || !STREAMING.has(info.subresource ?? '') || info.name === undefined || protocol === undefined) {
    return refuse(socket, u, records, 403, 'Forbidden');
  }
  // The API server authorizes these as `create` whatever the method (WebSocket upgrades are GETs).
  const resource: Resource = { ...info, verb: 'create' };
  u.info = resource;
  const q = streamQuery(target);
  const kind = info.subresource as StreamKind;
  const command = kind === 'exec' ? q.command.join(' ') : kind === 'attach' ? `(attach ${info.name}${q.container ? ` -c ${q.container}` : ''})` : '';
  const d = decide(state, resource, kind, q, protocol);
  u.decision = d.decision;
  u.programs = d.programs;
  const channel = ++session.streams;
  session.active++;
  const settle = (exitStatus?: number) => {
    recordOutcome(records, u, kind, command, channel, q, exitStatus);
    if (--session.active === 0 && session.endWhenIdle) {
      const end = session.endWhenIdle;
      session.endWhenIdle = undefined;
      end();
    }
  };
  // A stricter bundle ends the stream when it would now be denied (an approved one stays approved).
  const live: LiveStream = { stillAllowed: (s) => decide(s, resource, kind, q, protocol).decision.action !== 'deny', close: () => socket.destroy() };
  const go = () => {
    state.streams.add(live);
    socket.once('close', () => state.streams.delete(live));
    open({ state, session, req, socket, head, protocol, q, kind, command, channel, u, records, settle, shell: d.shell });
  };
  switch (u.decision.action) {
    case 'deny':
      refuse(socket, u, records, 403, 'Forbidden');
      return settle();
    case 'approve': {
      // Approvers see the pod and container as well as the command: `kubectl exec -n ns pod -c c -- ls`.
      const where = `-n ${resource.namespace ?? ''} ${resource.name ?? ''}${q.container ? ` -c ${q.container}` : ''}`;
      const operation: HeldOperation = kind === 'portforward'
        ? { kind: 'kubernetes', verb: resource.verb, path: resource.path, resource: resourceKey(resource), ...(resource.namespace !== undefined ? { namespace: resource.namespace } : {}), ...(resource.name !== undefined ? { name: resource.name } : {}) }
        : { kind: 'command', command: kind === 'exec' ? `kubectl exec ${where} -- ${command}` : `kubectl attach ${where}` };
      void holdForApproval(state, session, operation, u.decision, records.approval).then((r) => {
        if (r.approval !== undefined) u.approval = r.approval;
        if (r.approved) return go();
        u.decision = r.decision;
        refuse(socket, u, records, 403, 'Forbidden');
        settle();
      });
      return;
    }
    case 'allow':
      return go();
  }
}

type StreamKind = 'exec' | 'attach' | 'portforward';
/** How analyzeArgv names a shell started without a command: it reads its commands from stdin. */
const SHELL_FROM_INPUT = '(a shell reading commands from its input)';

/**
 * deny > approve > allow over the request's Kubernetes rules and its shell-policy decision. An
 * exec of a bare shell with stdin, and an attach, are interactive shells: the `shell` operation
 * decides the session, then each line typed is decided (exec-shell.ts) — possible over WebSocket
 * only, where the sidecar reads the stdin stream; over SPDY they are refused.
 */
function decide(state: KubeProxyState, info: Resource, kind: StreamKind, q: StreamQuery, protocol: 'websocket' | 'spdy'): { decision: Decision; shell: boolean; programs: string[] } {
  const kube = decideKube(state.policy, info);
  let other: Decision;
  let shell = false;
  let programs: string[] = [];
  if (kind === 'exec') {
    if (q.command.length === 0) return { decision: { action: 'deny', policy: '', rule: 'no-command', message: 'chaperone: an exec without a command is refused' }, shell, programs };
    const d = decideArgv(state.shell, q.command, 'exec');
    programs = d.programs;
    shell = q.stdin && d.rule === 'dynamic-program' && d.programs.includes(SHELL_FROM_INPUT) && d.programs.length === 2;
    const { programs: _programs, ...rest } = d;
    other = shell ? decideOperation(state.shell, 'shell') : rest as Decision;
  } else if (kind === 'attach') {
    shell = true;
    other = decideOperation(state.shell, 'shell');
  } else {
    other = decideOperation(state.shell, 'port-forward');
  }
  if (shell && protocol === 'spdy' && other.action !== 'deny') {
    other = { action: 'deny', policy: '', rule: 'spdy-shell', message: 'chaperone: an interactive shell is checked line by line, which needs the WebSocket protocol (kubectl 1.30 or later, without KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false); over SPDY it is refused' };
  }
  const rank = (d: Decision) => ({ deny: 0, approve: 1, allow: 2 })[d.action];
  return { decision: rank(kube) <= rank(other) ? kube : other, shell, programs };
}

interface Opening {
  state: KubeProxyState;
  session: KubeSession;
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  protocol: 'websocket' | 'spdy';
  q: StreamQuery;
  kind: StreamKind;
  command: string;
  channel: number;
  u: Upgrade;
  records: UpgradeRecords;
  settle: (exitStatus?: number) => void;
  /** An interactive shell: each submitted line is checked. */
  shell: boolean;
}

function open(o: Opening): void {
  const { u, records } = o;
  const recording = o.kind === 'portforward' ? undefined : new ExecRecording({ channel: o.channel, tty: o.q.tty, command: o.command, record: (e) => records.record(e) });
  const guard = o.shell
    ? new ShellInputGuard({ state: o.state, session: o.session, tty: o.q.tty, channel: o.channel, record: (e) => { records.record(e); if (e.type === 'command') records.command?.(e.decision); }, approval: (e) => records.approval(e), told: (data) => recording?.told(data) })
    : undefined;
  const hooks: RelayHooks = {
    opened(p: string) { u.status = 101; recording?.opened(p); guard?.opened(p); },
    message(fromAgent: boolean, data: Buffer, isBinary: boolean) { recording?.message(fromAgent, data, isBinary); },
    ...(guard ? { input: (data: Buffer, isBinary: boolean, send: RelaySend) => guard.input(data, isBinary, send) } : {}),
    refused(status: number, bytesOut: number) {
      u.status = status;
      u.bytesOut += bytesOut;
      records.request(requestEvent(u));
      o.settle();
    },
    closed(bytesIn: number, bytesOut: number) {
      u.bytesIn += bytesIn;
      u.bytesOut += bytesOut;
      records.request(requestEvent(u));
      const outcome = recording?.ended();
      o.settle(outcome?.kind === 'exit' ? outcome.code : undefined);
    },
  };
  // Port-forwards pass byte for byte (their contents are not recorded), whatever the protocol.
  if (o.protocol === 'websocket' && o.kind !== 'portforward') return relayWebSocket(o.state, o.req, o.socket, o.head, hooks);
  const tap = recording && o.protocol === 'spdy' ? new SpdyTap(recording, o.state.logger) : undefined;
  relayRaw(o.state, o.req, o.socket, o.head, { ...hooks, ...(tap ? { bytes: (fromAgent: boolean, chunk: Buffer) => tap.bytes(fromAgent, chunk) } : {}) });
}

function recordOutcome(records: UpgradeRecords, u: Upgrade, kind: string, command: string, channel: number, q: StreamQuery, exitStatus: number | undefined): void {
  const decision = recorded(u.decision);
  if (kind === 'portforward') {
    const info = u.info;
    // Over SPDY (and kubectl's tunnelled WebSocket) the ports travel inside the stream, not the query.
    records.record({ type: 'channel', kind: 'port-forward', detail: `${info?.namespace ?? ''}/${info?.name ?? ''}${q.ports.length > 0 ? `:${q.ports.join(',')}` : ''}`, decision });
    return;
  }
  records.record({
    type: 'command', command, programs: u.programs, decision, channel,
    ...(exitStatus !== undefined ? { exitStatus } : {}),
    durationMs: Math.round((performance.now() - u.started) * 1000) / 1000,
    ...(u.approval !== undefined ? { approval: u.approval } : {}),
  });
}

function upgradeProtocol(req: IncomingMessage): 'websocket' | 'spdy' | undefined {
  const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
  if (upgrade === 'websocket') return 'websocket';
  if (upgrade.startsWith('spdy/')) return 'spdy';
  return undefined;
}

function refuse(socket: Duplex, u: Upgrade, records: UpgradeRecords, code: number, reason: string): void {
  const message = u.decision.action === 'allow' ? 'chaperone: refused' : u.decision.message;
  const info = u.info;
  const body = statusBody(code, reason, message, info ? { group: info.group, kind: info.resource, ...(info.name !== undefined ? { name: info.name } : {}) } : undefined);
  u.status = code;
  u.bytesOut += Buffer.byteLength(body);
  socket.end(`HTTP/1.1 ${code} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  records.request(requestEvent(u));
}

function recorded(d: Decision): RecordedDecision {
  return d.action === 'allow' ? { action: d.action, policy: d.policy, rule: d.rule } : { action: d.action, policy: d.policy, rule: d.rule, message: d.message };
}

function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

function requestEvent(u: Upgrade): KubernetesRequestEvent {
  const info = u.info;
  const event: KubernetesRequestEvent = {
    type: 'kubernetes.request', verb: info?.verb ?? '', group: info?.group ?? '', version: info?.version ?? '', resource: info?.resource ?? '',
    path: info?.path ?? pathOf(u.target), decision: recorded(u.decision), status: u.status,
    durationMs: Math.round((performance.now() - u.started) * 1000) / 1000, bytesIn: u.bytesIn, bytesOut: u.bytesOut,
  };
  if (info?.subresource !== undefined) event.subresource = info.subresource;
  if (info?.namespace !== undefined) event.namespace = info.namespace;
  if (info?.name !== undefined) event.name = info.name;
  if (u.approval !== undefined) event.approval = u.approval;
  return event;
}
