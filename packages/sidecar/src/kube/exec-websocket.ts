// Relays one decided WebSocket upgrade (pods/exec, attach, portforward): the upstream is dialled
// first with the sidecar's credential and the agent's offered subprotocols; the agent's
// connection is upgraded only once the upstream has agreed, to the protocol it chose. Messages
// pass whole in both directions; the caller sees each one (recording).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import { answerWithoutUpgrade, statusBody } from './http.js';
import { EXEC_SUBPROTOCOLS } from './exec-protocol.js';
import type { RelaySend } from './exec-shell.js';
import type { KubeProxyState } from './proxy.js';

export interface RelayHooks {
  /** Both sides upgraded, speaking `protocol`. */
  opened(protocol: string): void;
  message(fromAgent: boolean, data: Buffer, isBinary: boolean): void;
  /** Takes over passing the agent's messages on (a shell's lines are checked first); else they pass as they come. */
  input?(data: Buffer, isBinary: boolean, send: RelaySend): void;
  /** The upgrade did not happen: what the agent was answered (the upstream's own answer or a 502/503). */
  refused(status: number, bytesOut: number): void;
  /** An opened relay ended; bytes are message payloads. */
  closed(bytesIn: number, bytesOut: number): void;
}

/** A peer's send buffer above this pauses the other side; below LOW_WATER it reads again. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
/** Upstream handshake limit: an API server that accepts the TCP connection but never answers. */
const HANDSHAKE_TIMEOUT_MS = 30_000;

export function relayWebSocket(state: KubeProxyState, req: IncomingMessage, socket: Duplex, head: Buffer, hooks: RelayHooks): void {
  // Only the exec subprotocols the sidecar can read (recording, shell lines) are offered upstream.
  const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter((p) => (EXEC_SUBPROTOCOLS as readonly string[]).includes(p));
  const host = state.upstream.hostname;
  const url = `wss://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${state.upstream.port || 443}${req.url ?? '/'}`;
  const headers: Record<string, string> = { authorization: `Bearer ${state.token}` };
  if (typeof req.headers['user-agent'] === 'string') headers['user-agent'] = req.headers['user-agent'];
  let up: WebSocket;
  try {
    up = new WebSocket(url, offered, {
      headers, perMessageDeflate: false, followRedirects: false, handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      ...(state.target.caBundle ? { ca: state.target.caBundle } : {}),
    });
  } catch (err) {
    const body = statusBody(400, 'BadRequest', `chaperone: cannot open the upstream WebSocket: ${(err as Error).message}`);
    socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    return hooks.refused(400, Buffer.byteLength(body));
  }
  let agent: WebSocket | undefined;
  let settled = false;
  // The agent leaving while the upstream is still being dialled ends that dial.
  const agentGone = () => { if (!agent) up.terminate(); };
  socket.once('close', agentGone);
  socket.on('error', () => undefined);

  up.on('unexpected-response', (_r, res) => {
    // The upstream answered without upgrading (no such pod, no kubelet…): its answer is the agent's.
    settled = true;
    answerWithoutUpgrade(res, socket, 'application/json', (status, length) => {
      hooks.refused(status, length);
      up.terminate();
    });
  });
  up.on('error', (err) => {
    if (settled) return;
    settled = true;
    state.logger?.warn({ err: err.message, connection: state.connection }, 'Kubernetes API server unreachable for an upgrade');
    const body = statusBody(503, 'ServiceUnavailable', `chaperone: the Kubernetes API server is unreachable: ${err.message}`);
    socket.end(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    hooks.refused(503, Buffer.byteLength(body));
  });
  up.on('open', () => {
    settled = true;
    const chosen = up.protocol;
    const server = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, handleProtocols: () => (chosen === '' ? false : chosen) });
    // handleUpgrade answers a malformed handshake itself (400) and never calls back: the close above ends the upstream.
    socket.off('close', agentGone);
    socket.once('close', () => {
      if (agent) return;
      // The agent's handshake failed or it left before the upgrade: nothing was relayed.
      up.terminate();
      hooks.closed(0, 0);
    });
    server.handleUpgrade(req, socket, head, (ws) => {
      agent = ws;
      pair(ws, up, chosen, hooks);
    });
  });
}

function pair(agent: WebSocket, up: WebSocket, protocol: string, hooks: RelayHooks): void {
  let bytesIn = 0;
  let bytesOut = 0;
  hooks.opened(protocol);
  // Back-pressure: a side whose peer is not reading fast enough is paused until the peer's buffer drains.
  const forward = (to: WebSocket, from: WebSocket, data: Buffer | string, binary: boolean) => {
    if (to.readyState !== WebSocket.OPEN) return;
    to.send(data, { binary }, () => { if (from.isPaused && to.bufferedAmount < LOW_WATER) from.resume(); });
    if (to.bufferedAmount > HIGH_WATER && !from.isPaused) from.pause();
  };
  const send: RelaySend = {
    upstream: (data, binary) => forward(up, agent, data, binary),
    agent: (data, binary) => forward(agent, up, data, binary),
  };
  agent.on('message', (raw: RawData, isBinary: boolean) => {
    const data = toBuffer(raw);
    bytesIn += data.length;
    hooks.message(true, data, isBinary);
    if (hooks.input) hooks.input(data, isBinary, send);
    else send.upstream(data, isBinary);
  });
  up.on('message', (raw: RawData, isBinary: boolean) => {
    const data = toBuffer(raw);
    bytesOut += data.length;
    hooks.message(false, data, isBinary);
    send.agent(data, isBinary);
  });
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    hooks.closed(bytesIn, bytesOut);
  };
  // Each side's close (with its code: v5 ends a session with a normal close after the Status) reaches the other.
  up.on('close', (code, reason) => { closeWith(agent, code, reason); finish(); });
  agent.on('close', (code, reason) => { closeWith(up, code, reason); finish(); });
  up.on('error', () => agent.terminate());
  agent.on('error', () => up.terminate());
}

function closeWith(ws: WebSocket, code: number, reason: Buffer): void {
  if (ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING) return;
  const sendable = (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) || (code >= 3000 && code <= 4999);
  if (sendable) ws.close(code, reason.length <= 123 ? reason : undefined);
  else ws.close();
}

function toBuffer(raw: RawData): Buffer {
  if (Buffer.isBuffer(raw)) return raw;
  if (Array.isArray(raw)) return Buffer.concat(raw);
  return Buffer.from(raw);
}
