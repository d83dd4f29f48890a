// A stand-in for the API server + kubelet on the pods/exec path. The test cluster has no kubelet
// (pods stay Pending), so a real exec cannot reach a container there; this small HTTPS server
// speaks the exec WebSocket protocol (v5/v4.channel.k8s.io, channel.k8s.io, base64) the way the
// kubelet does (and SPDY/3.1: exec-upstream-spdy.ts) — it runs the requested command with child_process (under `script` for a tty),
// channel 0 stdin, 1 stdout, 2 stderr, 3 the exit Status, 4 resize — and answers the pod GET
// kubectl makes first. It records what reached it, so tests can show what never did.
import { spawn } from 'node:child_process';
import { createServer } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { generateLocalTls } from '@chaperone/sidecar/kube/local-ca';
import { CHANNEL, encodeChannelMessage, exitStatus, parseResize, streamQuery } from '@chaperone/sidecar/kube/exec-protocol';
import { serveSpdyExec } from './exec-upstream-spdy.js';

const PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'];

const DISCOVERY: Record<string, unknown> = {
  '/api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:6443' }] },
  '/apis': { kind: 'APIGroupList', apiVersion: 'v1', groups: [] },
  '/api/v1': {
    kind: 'APIResourceList', groupVersion: 'v1', resources: [
      { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'], shortNames: ['po'] },
      { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
      { name: 'pods/attach', singularName: '', namespaced: true, kind: 'PodAttachOptions', verbs: ['create', 'get'] },
      { name: 'pods/portforward', singularName: '', namespaced: true, kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
    ],
  },
};

export interface UpstreamRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  protocol?: string;
}

export interface ExecUpstream {
  url: string;
  caCert: string;
  /** Every request that reached the stand-in, in order. */
  requests: UpstreamRequest[];
  /** Resizes the stand-in received, per exec. */
  resizes: { cols: number; rows: number }[];
  stop(): Promise<void>;
}

export async function startExecUpstream(): Promise<ExecUpstream> {
  const tls = await generateLocalTls();
  const requests: UpstreamRequest[] = [];
  const resizes: { cols: number; rows: number }[] = [];
  const server = createServer({ cert: tls.cert, key: tls.key });
  const wss = new WebSocketServer({
    noServer: true, perMessageDeflate: false,
    handleProtocols: (offered) => PROTOCOLS.find((p) => offered.has(p)) ?? false,
  });
  server.on('request', (req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    const pod = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/?]+)(\?|$)/.exec(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET' && pod) {
      res.end(JSON.stringify({
        apiVersion: 'v1', kind: 'Pod', metadata: { name: pod[2], namespace: pod[1] },
        spec: { containers: [{ name: 'main', image: 'busybox' }] },
        status: { phase: 'Running', containerStatuses: [{ name: 'main', ready: true, image: 'busybox', imageID: '', restartCount: 0, started: true, state: { running: {} } }] },
      }));
      return;
    }
    // Discovery, which kubectl reads before anything else.
    const discovery = DISCOVERY[(req.url ?? '').split('?')[0] ?? ''];
    if (req.method === 'GET' && discovery) return void res.end(JSON.stringify(discovery));
    res.statusCode = 404;
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404, message: `the stand-in does not serve ${req.method} ${req.url}` }));
  });
  server.on('upgrade', (req: IncomingMessage, socket, head) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, protocol: String(req.headers['sec-websocket-protocol'] ?? req.headersDistinct['x-stream-protocol-version']?.join(', ') ?? '') });
    if (!/\/pods\/[^/]+\/(exec|attach)\?/.test(req.url ?? '')) return void socket.destroy();
    // A pod that is gone: answered as the kubelet would, without upgrading.
    if (/\/pods\/gone\//.test(req.url ?? '')) {
      const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404, message: 'pods "gone" not found (stand-in)' });
      return void socket.end(`HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    }
    if (/^spdy\//i.test(String(req.headers.upgrade ?? ''))) return serveSpdyExec(req, socket, head);
    wss.handleUpgrade(req, socket, head, (ws) => runExec(ws, req.url ?? '', resizes));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `https://127.0.0.1:${port}`, caCert: tls.caCert, requests, resizes,
    async stop() {
      for (const c of wss.clients) c.terminate();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

function runExec(ws: WebSocket, url: string, resizes: { cols: number; rows: number }[]): void {
  const protocol = ws.protocol;
  const q = streamQuery(url);
  // Attaching joins the container's main process: here a shell started for the occasion.
  if (/\/attach\?/.test(url)) q.command = ['sh'];
  const send = (channel: number, data: Buffer | string) => {
    const m = encodeChannelMessage(protocol, channel, data);
    if (ws.readyState === ws.OPEN) ws.send(m.data, { binary: m.binary });
  };
  // A tty runs under script(1), which gives the command a pseudo-terminal as the kubelet's runtime would.
  const [file, ...args] = q.tty ? ['script', '-q', '-f', '-c', q.command.map(shellQuote).join(' '), '/dev/null'] : q.command;
  if (file === undefined) {
    send(CHANNEL.error, exitStatus(126));
    ws.close(1000);
    return;
  }
  const child = spawn(file, args, { stdio: 'pipe', env: { ...process.env, TERM: 'xterm' } });
  child.stdout.on('data', (c: Buffer) => send(CHANNEL.stdout, c));
  child.stderr.on('data', (c: Buffer) => send(q.tty ? CHANNEL.stdout : CHANNEL.stderr, c));
  child.stdin.on('error', () => undefined);
  if (!q.stdin) child.stdin.end();
  child.on('error', (err) => {
    send(CHANNEL.stderr, `${err.message}\n`);
    send(CHANNEL.error, exitStatus(127));
    ws.close(1000);
  });
  child.on('close', (code, signal) => {
    send(CHANNEL.error, protocol.startsWith('v4.') || protocol.startsWith('v5.') ? exitStatus(code ?? (signal ? 128 : 1)) : (code === 0 ? '' : `command terminated with non-zero exit code: ${code}`));
    ws.close(1000);
  });
  ws.on('message', (raw: Buffer, isBinary: boolean) => {
    const data = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    const channel = protocol.startsWith('base64') ? data[0]! - 48 : data[0];
    const payload = protocol.startsWith('base64') ? Buffer.from(data.subarray(1).toString(), 'base64') : data.subarray(1);
    if (!isBinary && !protocol.startsWith('base64')) return;
    if (channel === CHANNEL.stdin) child.stdin.write(payload);
    else if (channel === CHANNEL.resize) {
      const size = parseResize(payload);
      if (size) resizes.push(size);
    } else if (channel === CHANNEL.close && payload[0] === CHANNEL.stdin) child.stdin.end();
  });
  ws.on('close', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
}

function shellQuote(s: string): string {
  return /^[\w./=:-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
