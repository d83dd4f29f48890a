// One Kubernetes API request through the proxy: attributes → decision → refuse, hold or forward;
// the response streamed back, masked where it can carry Secret values or log lines to mask.
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import type { Decision } from '@chaperone/core/decision';
import { decideKube } from '@chaperone/core/kube/decide';
import { requestInfo, resourceKey } from '@chaperone/core/kube/request-info';
import type { RequestInfo } from '@chaperone/core/kube/request-info';
import type { ApprovalEvent, KubernetesRequestEvent } from '@chaperone/core/records/types';
import { downstreamHeaders, impersonationHeader, isJson, statusBody, upstreamHeaders } from './http.js';
import { mapLines } from './lines.js';
import type { KubeProxyState, KubeSession } from './proxy.js';
import { maskSecretsBody, maskSecretsWatchEvent } from './secret-mask.js';
import type { MaskCounts, ValueMask } from './secret-mask.js';

/** The API server's own request body limit (3 MiB): what an approval may hold. */
const MAX_HELD_BODY = 3 * 1024 * 1024;
/** Subresources carried over upgraded connections only (kube/exec.ts). */
const STREAMING_SUBRESOURCES = new Set(['exec', 'attach', 'portforward']);

type Masking =
  | { kind: 'none' }
  | { kind: 'secrets'; mask: ValueMask }
  | { kind: 'logs'; mask(line: string, counts: MaskCounts): string };

interface Exchange {
  started: number;
  info: RequestInfo | undefined;
  decision: Decision;
  bytesIn: number;
  bytesOut: number;
  masked: MaskCounts;
  approval?: string;
}

/** Where a request's records go (the session's). */
export interface RequestRecords {
  request(e: KubernetesRequestEvent): void;
  approval(e: ApprovalEvent): void;
}

export function handleRequest(state: KubeProxyState, session: KubeSession, req: IncomingMessage, res: ServerResponse, records: RequestRecords): void {
  const method = req.method ?? 'GET';
  const target = req.url ?? '/';
  const parsed = requestInfo(method, target);
  const x: Exchange = {
    started: performance.now(),
    info: parsed.ok ? parsed.info : undefined,
    decision: { action: 'deny', policy: '', rule: 'unparsed', message: parsed.ok ? '' : `chaperone: cannot interpret ${method} ${pathOf(target)}: ${parsed.error}` },
    bytesIn: 0, bytesOut: 0, masked: {},
  };
  req.on('data', (chunk: Buffer) => { x.bytesIn += chunk.length; });
  res.once('close', () => records.request(eventOf(x, res.statusCode, target)));
  if (!parsed.ok) return refuse(res, x, 403, 'Forbidden');
  const info = parsed.info;
  // Discovery and the other read-only non-resource paths answer the same for anyone: there the
  // header is only dropped, so kubectl --as gets as far as the resource request and shows why.
  const impersonating = info.kind === 'resource' ? impersonationHeader(req.headers) : undefined;
  if (impersonating !== undefined) {
    x.decision = { action: 'deny', policy: '', rule: 'impersonation', message: `chaperone: impersonation (${impersonating}) is not allowed through chaperone; requests act as the connection's own identity` };
    return refuse(res, x, 403, 'Forbidden');
  }
  if (info.kind === 'resource' && STREAMING_SUBRESOURCES.has(info.subresource ?? '')) {
    // As the API server itself answers: these need a WebSocket or SPDY upgrade, decided in kube/exec.ts.
    x.decision = { action: 'deny', policy: '', rule: 'upgrade-required', message: `chaperone: ${resourceKey(info)} needs a WebSocket or SPDY upgrade request` };
    return refuse(res, x, 400, 'BadRequest');
  }
  x.decision = decideKube(state.policy, info);
  switch (x.decision.action) {
    case 'deny':
      return refuse(res, x, 403, 'Forbidden');
    case 'approve':
      void hold(state, session, req, res, x, info, x.decision, records);
      return;
    case 'allow':
      return forward(state, req, res, x, info, undefined);
  }
}

/** Reads the body (held requests carry it to the approver), waits for the decision, then forwards it. */
async function hold(state: KubeProxyState, session: KubeSession, req: IncomingMessage, res: ServerResponse, x: Exchange, info: RequestInfo, d: Extract<Decision, { action: 'approve' }>, records: RequestRecords): Promise<void> {
  const body = await readBody(req, MAX_HELD_BODY);
  if (body === undefined) {
    x.decision = { action: 'deny', policy: d.policy, rule: d.rule, message: `chaperone: the request body is larger than ${MAX_HELD_BODY} bytes and cannot be held for approval` };
    return refuse(res, x, 413, 'RequestEntityTooLarge');
  }
  if (!state.approvals) {
    x.decision = { ...d, action: 'deny', message: `${d.message}; this sidecar cannot hold requests for approval, so it is refused` } as Decision;
    return refuse(res, x, 403, 'Forbidden');
  }
  const r = info.kind === 'resource' ? info : undefined;
  // A Secret's body is its values: approvers see the request, never the data.
  const showBody = body.length > 0 && !(r?.group === '' && r.resource === 'secrets');
  const outcome = await state.approvals.request({
    session: session.id, protocol: 'kubernetes', connection: state.connection,
    operation: {
      kind: 'kubernetes', verb: info.verb, path: info.path, resource: r ? resourceKey(r) : '',
      ...(r?.namespace !== undefined ? { namespace: r.namespace } : {}),
      ...(r?.name !== undefined ? { name: r.name } : {}),
      ...(showBody ? { body: body.toString('utf8') } : {}),
    },
    rule: { policy: d.policy, rule: d.rule }, approvers: d.approvers, timeoutSeconds: d.timeoutSeconds, message: d.message,
  }, session.closed.signal, (a) => {
    x.approval = a.id;
    records.approval({ type: 'approval', id: a.id, state: 'pending', rule: { policy: d.policy, rule: d.rule } });
  });
  if (outcome.state !== 'unavailable' && outcome.approval) {
    const a = outcome.approval;
    const event: ApprovalEvent = { type: 'approval', id: a.id, state: outcome.state, rule: { policy: d.policy, rule: d.rule }, waitedMs: Math.round(performance.now() - x.started) };
    if (a.decidedBy) event.by = a.decidedBy;
    if (a.reason) event.reason = a.reason;
    records.approval(event);
  }
  if (outcome.state === 'approved') {
    x.approval = outcome.approval.id;
    return forward(state, req, res, x, info, body);
  }
  if (outcome.state !== 'unavailable' && outcome.approval) x.approval = outcome.approval.id;
  const why = outcome.state === 'unavailable' ? `approval unavailable (${outcome.error})`
    : outcome.state === 'denied' ? `approval denied${outcome.approval.reason ? `: ${outcome.approval.reason}` : ''}`
      : outcome.state === 'expired' ? 'approval timed out' : 'approval withdrawn';
  x.decision = { action: 'deny', policy: d.policy, rule: d.rule, message: `chaperone: ${d.message}; ${why}` };
  return refuse(res, x, 403, 'Forbidden');
}

function forward(state: KubeProxyState, req: IncomingMessage, res: ServerResponse, x: Exchange, info: RequestInfo, body: Buffer | undefined): void {
  const masking = maskingFor(state, info);
  const up = httpsRequest({
    protocol: 'https:',
    hostname: state.upstream.hostname.replace(/^\[|\]$/g, ''),
    port: state.upstream.port || 443,
    method: req.method,
    path: req.url,
    agent: state.agent,
    headers: upstreamHeaders(req.headers, state.token, { jsonOnly: masking.kind === 'secrets', identity: masking.kind !== 'none' }),
  });
  const live = { info, masking: masking.kind, res };
  state.inflight.add(live);
  res.once('close', () => state.inflight.delete(live));
  up.on('response', (ures) => respond(state, res, x, info, masking, ures));
  up.on('error', (err) => {
    if (res.headersSent) return res.destroy();
    state.logger?.warn({ err: err.message, connection: state.connection }, 'Kubernetes API server unreachable');
    sendStatus(res, x, 503, 'ServiceUnavailable', `chaperone: the Kubernetes API server is unreachable: ${err.message}`);
  });
  // The agent going away ends the upstream request too (watches, logs -f).
  res.once('close', () => { if (!res.writableFinished) up.destroy(); });
  if (body !== undefined) up.end(body);
  else req.pipe(up);
}

function respond(state: KubeProxyState, res: ServerResponse, x: Exchange, info: RequestInfo, masking: Masking, ures: IncomingMessage): void {
  const status = ures.statusCode ?? 502;
  if (status === 401) state.credentialRejected();
  const count = (chunk: Buffer | string) => { x.bytesOut += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length; };
  const done = (err: Error | null | undefined) => {
    if (err) state.logger?.debug({ err: err.message }, 'Kubernetes response stream ended early');
  };
  if (masking.kind === 'none') {
    res.writeHead(status, downstreamHeaders(ures.headers, false));
    // A watch with nothing to report yet must still answer: clients wait for the headers.
    res.flushHeaders();
    ures.on('data', count);
    pipeline(ures, res, done);
    return;
  }
  if (masking.kind === 'logs') {
    res.writeHead(status, downstreamHeaders(ures.headers, true));
    res.flushHeaders();
    const lines = mapLines((line) => masking.mask(line.toString('utf8'), x.masked));
    lines.on('data', count);
    pipeline(ures, lines, res, done);
    return;
  }
  // Secrets: only JSON can be masked; anything else is refused, never passed on.
  if (!isJson(ures.headers['content-type'])) {
    ures.resume();
    x.decision = { action: 'deny', policy: '', rule: 'unmaskable', message: `chaperone: the API server answered with ${ures.headers['content-type'] ?? 'no content type'}, which cannot be masked` };
    return refuse(res, x, 403, 'Forbidden');
  }
  res.writeHead(status, downstreamHeaders(ures.headers, true));
  const mask = masking.mask;
  if (info.verb === 'watch' || /stream=watch/i.test(ures.headers['content-type'] ?? '')) {
    res.flushHeaders();
    const lines = mapLines((line) => {
      if (line.length === 0) return line;
      const event: unknown = JSON.parse(line.toString('utf8'));
      maskSecretsWatchEvent(event, mask, x.masked);
      return JSON.stringify(event);
    });
    lines.on('data', count);
    pipeline(ures, lines, res, done);
    return;
  }
  const chunks: Buffer[] = [];
  ures.on('data', (c: Buffer) => chunks.push(c));
  ures.on('error', () => res.destroy());
  ures.on('end', () => {
    let text = Buffer.concat(chunks).toString('utf8');
    // HEAD, 204: nothing to mask.
    if (text === '') return void res.end();
    try {
      const body: unknown = JSON.parse(text);
      maskSecretsBody(body, mask, x.masked);
      text = JSON.stringify(body);
    } catch {
      // Not JSON after all: nothing of it passes.
      text = statusBody(502, 'InternalError', 'chaperone: the API server sent a body that is not JSON where Secrets are masked');
    }
    count(text);
    res.end(text);
  });
}

/** What masking a request gets under the state's rules: `none`, `secrets` or `logs`. */
export function maskingKind(state: Pick<KubeProxyState, 'masks'>, info: RequestInfo): Masking['kind'] {
  return maskingFor(state, info).kind;
}

function maskingFor(state: Pick<KubeProxyState, 'masks'>, info: RequestInfo): Masking {
  if (info.kind !== 'resource') return { kind: 'none' };
  const m = state.masks;
  if (m.secrets && info.group === '' && info.resource === 'secrets') return { kind: 'secrets', mask: m.secrets };
  if (m.logs && info.group === '' && info.resource === 'pods' && info.subresource === 'log') return { kind: 'logs', mask: m.logs };
  return { kind: 'none' };
}

function refuse(res: ServerResponse, x: Exchange, code: number, reason: string): void {
  const message = x.decision.action === 'allow' ? 'chaperone: refused' : x.decision.message;
  sendStatus(res, x, code, reason, message);
}

function sendStatus(res: ServerResponse, x: Exchange, code: number, reason: string, message: string): void {
  const info = x.info?.kind === 'resource' ? x.info : undefined;
  const details = info ? { group: info.group, kind: info.resource, ...(info.name !== undefined ? { name: info.name } : {}) } : undefined;
  const body = statusBody(code, reason, message, details);
  x.bytesOut += Buffer.byteLength(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on('error', () => resolve(undefined));
  });
}

function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

function eventOf(x: Exchange, status: number, target: string): KubernetesRequestEvent {
  const info = x.info;
  const d = x.decision;
  const event: KubernetesRequestEvent = {
    type: 'kubernetes.request',
    verb: info?.verb ?? '',
    group: info?.kind === 'resource' ? info.group : '',
    version: info?.kind === 'resource' ? info.version : '',
    resource: info?.kind === 'resource' ? info.resource : '',
    path: info?.path ?? pathOf(target),
    decision: d.action === 'allow' ? { action: d.action, policy: d.policy, rule: d.rule } : { action: d.action, policy: d.policy, rule: d.rule, message: d.message },
    status,
    durationMs: Math.round((performance.now() - x.started) * 1000) / 1000,
    bytesIn: x.bytesIn,
    bytesOut: x.bytesOut,
  };
  if (info?.kind === 'resource') {
    if (info.subresource !== undefined) event.subresource = info.subresource;
    if (info.namespace !== undefined) event.namespace = info.namespace;
    if (info.name !== undefined) event.name = info.name;
  }
  if (Object.keys(x.masked).length > 0) event.masked = x.masked;
  if (x.approval !== undefined) event.approval = x.approval;
  return event;
}
