// Relays one decided upgrade byte for byte: SPDY/3.1 (the older kubectl path for exec, attach,
// port-forward) and WebSocket port-forwards (kubectl tunnels SPDY in them, under subprotocols
// like `SPDY/3.1+portforward.k8s.io`, and nothing in them is recorded). The request is re-sent upstream with the sidecar's credential and, once the upstream switches
// protocols, bytes pass both ways unchanged. The streams inside are not parsed (SPDY header
// frames are zlib-compressed with a shared context): `bytes` hands them to spdy-tap.ts, which
// follows the frames to record the exec's streams.
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { answerWithoutUpgrade, statusBody, upstreamHeaders } from './http.js';
import type { KubeProxyState } from './proxy.js';
import type { RelayHooks } from './exec-websocket.js';

export interface SpdyRelayHooks extends Omit<RelayHooks, 'message' | 'input'> {
  /** The upgraded connection's bytes, in order per direction. */
  bytes?(fromAgent: boolean, chunk: Buffer): void;
}

export function relayRaw(state: KubeProxyState, req: IncomingMessage, socket: Duplex, head: Buffer, hooks: SpdyRelayHooks): void {
  const headers = upstreamHeaders(req.headers, state.token, { jsonOnly: false, identity: false });
  headers.connection = 'Upgrade';
  headers.upgrade = String(req.headers.upgrade ?? 'SPDY/3.1');
  // The API server reads each X-Stream-Protocol-Version line as one offer: never comma-joined.
  const versions = req.headersDistinct['x-stream-protocol-version'];
  if (versions) headers['x-stream-protocol-version'] = versions;
  const up = httpsRequest({
    protocol: 'https:', hostname: state.upstream.hostname.replace(/^\[|\]$/g, ''), port: state.upstream.port || 443,
    method: req.method, path: req.url, headers, agent: false,
    ...(state.target.caBundle ? { ca: state.target.caBundle } : {}),
  });
  let settled = false;
  socket.on('error', () => up.destroy());
  socket.once('close', () => { if (!settled) up.destroy(); });
  up.on('upgrade', (res, upSocket, upHead) => {
    settled = true;
    let bytesIn = head.length;
    let bytesOut = upHead.length;
    const lines = [`HTTP/1.1 101 ${res.statusMessage ?? 'Switching Protocols'}`];
    for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (upHead.length > 0) socket.write(upHead);
    // What the agent sent after its request belongs to the upgraded protocol.
    if (head.length > 0) upSocket.write(head);
    hooks.opened(String(res.headers['x-stream-protocol-version'] ?? ''));
    if (upHead.length > 0) hooks.bytes?.(false, upHead);
    if (head.length > 0) hooks.bytes?.(true, head);
    socket.on('data', (c: Buffer) => { bytesIn += c.length; hooks.bytes?.(true, c); });
    upSocket.on('data', (c: Buffer) => { bytesOut += c.length; hooks.bytes?.(false, c); });
    socket.pipe(upSocket);
    upSocket.pipe(socket);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.destroy();
      upSocket.destroy();
      hooks.closed(bytesIn, bytesOut);
    };
    socket.once('close', finish);
    upSocket.once('close', finish);
    upSocket.on('error', finish);
  });
  up.on('response', (res) => {
    // No upgrade: the upstream's answer goes to the agent, and the connection ends with it (nothing
    // more the agent sends on it may reach the upstream unchecked).
    settled = true;
    answerWithoutUpgrade(res, socket, 'text/plain', (status, length) => hooks.refused(status, length));
  });
  up.on('error', (err) => {
    if (settled) return;
    settled = true;
    const body = statusBody(503, 'ServiceUnavailable', `chaperone: the Kubernetes API server is unreachable: ${err.message}`);
    socket.end(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    hooks.refused(503, Buffer.byteLength(body));
  });
  up.end();
}
