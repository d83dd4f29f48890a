// HTTP pieces of the Kubernetes API proxy: the Status body of a refusal, an upstream's refusal to
// upgrade passed on, the headers passed upstream (agent's credentials and impersonation dropped),
// the Accept rewrite that keeps Secret-bearing responses in JSON.
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';

/** A `metav1.Status` failure, as the API server itself would answer. */
export function statusBody(code: number, reason: string, message: string, details?: { group?: string; kind?: string; name?: string }): string {
  const status: Record<string, unknown> = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details && Object.keys(details).length > 0) status.details = details;
  return JSON.stringify(status);
}

/**
 * An upstream answer that did not upgrade (no such pod, no kubelet…), passed whole to the agent's
 * raw socket, which then closes: nothing more the agent sends on it may reach the upstream
 * unchecked. `done` gets the status and body length once it is sent.
 */
export function answerWithoutUpgrade(res: IncomingMessage, socket: Duplex, defaultType: string, done: (status: number, bodyLength: number) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('error', () => socket.destroy());
  res.on('end', () => {
    const body = Buffer.concat(chunks);
    const type = String(res.headers['content-type'] ?? defaultType);
    const status = res.statusCode ?? 502;
    socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${status} ${res.statusMessage ?? ''}\r\ncontent-type: ${type}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`), body]));
    done(status, body.length);
  });
}

/**
 * The first `Impersonate-*` header of a request, if any. Such requests are refused (request.ts),
 * not forwarded without it: run as the connection's identity instead of the one asked for, a
 * `kubectl --as` would silently do something else than its user meant.
 */
export function impersonationHeader(h: IncomingHttpHeaders): string | undefined {
  return Object.keys(h).find((name) => name.startsWith('impersonate-'));
}

/** RFC 9110 7.6.1 hop-by-hop fields, and what a proxy never passes on. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);

/**
 * The agent's request headers as sent upstream. Dropped: its Authorization (never forwarded:
 * the sidecar's credential replaces it), impersonation (`Impersonate-*` would let the agent act
 * as anyone the sidecar's identity may impersonate) and front-proxy identity (`X-Remote-*`).
 */
export function upstreamHeaders(h: IncomingHttpHeaders, token: string, o: { jsonOnly: boolean; identity: boolean }): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connection = String(h.connection ?? '').toLowerCase().split(',').map((s) => s.trim());
  for (const [name, value] of Object.entries(h)) {
    if (value === undefined || HOP_BY_HOP.has(name) || connection.includes(name)) continue;
    if (name === 'authorization' || name.startsWith('impersonate-') || name.startsWith('x-remote-')) continue;
    out[name] = value;
  }
  out.authorization = `Bearer ${token}`;
  if (o.jsonOnly) out.accept = jsonAccept(h.accept);
  // Bodies to mask are read as they come: no compression to undo.
  if (o.identity) out['accept-encoding'] = 'identity';
  return out;
}

/**
 * Keeps the Accept header's media ranges but never a protobuf one (turned into JSON with the
 * same parameters, so `as=Table` stays a Table and `stream=watch` a watch); YAML becomes JSON
 * too (JSON is YAML). A range the proxy could not mask is dropped.
 */
export function jsonAccept(accept: string | undefined): string {
  const ranges: string[] = [];
  for (const part of (accept ?? '').split(',')) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const semi = trimmed.indexOf(';');
    const type = (semi < 0 ? trimmed : trimmed.slice(0, semi)).trim().toLowerCase();
    const params = semi < 0 ? '' : trimmed.slice(semi);
    let range: string | undefined;
    if (type === 'application/json' || type === 'application/vnd.kubernetes.protobuf' || type === 'application/yaml') range = `application/json${params}`;
    else if (type === '*/*' || type === 'application/*') range = 'application/json';
    if (range !== undefined && !ranges.includes(range)) ranges.push(range);
  }
  return ranges.length === 0 ? 'application/json' : ranges.join(', ');
}

/** Response headers passed to the agent; a body the proxy rewrites has no length to keep. */
export function downstreamHeaders(h: IncomingHttpHeaders, rewritten: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(h)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (rewritten && (name === 'content-length' || name === 'content-encoding')) continue;
    out[name] = value;
  }
  return out;
}

export function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/json\s*(;|$)/i.test(contentType);
}
