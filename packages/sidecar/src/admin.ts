// The sidecar's admin server on localhost: liveness, readiness and Prometheus metrics. Three GET
// routes on node:http: a web framework would cost the sidecar megabytes of memory for nothing.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { SidecarMetrics } from './metrics.js';

/** Readiness with the reasons it is not ready, for /readyz's body and the logs. */
export type Readiness = { ready: true } | { ready: false; waitingFor: string[] };

export interface AdminServerOptions {
  metrics: SidecarMetrics;
  readiness: () => Readiness;
  logger?: Logger;
}

const JSON_TYPE = 'application/json; charset=utf-8';

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, JSON_TYPE, JSON.stringify(body));
}

/** The request handler: GET (or HEAD) /healthz, /readyz, /metrics; anything else 404 or 405. */
export function adminHandler(opts: AdminServerOptions): (req: IncomingMessage, res: ServerResponse) => void {
  // Request logs stay below warn: Prometheus scrapes and kubelet probes would drown everything else.
  const log = opts.logger?.child({ component: 'admin' });
  return (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    const known = path === '/healthz' || path === '/readyz' || path === '/metrics';
    if (!known) { sendJson(res, 404, { statusCode: 404, error: 'Not Found', message: `Route ${req.method ?? ''}:${path ?? ''} not found` }); return; }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(res, 405, { statusCode: 405, error: 'Method Not Allowed' });
      return;
    }
    if (path === '/healthz') { sendJson(res, 200, { status: 'ok' }); return; }
    if (path === '/readyz') {
      const r = opts.readiness();
      if (r.ready) sendJson(res, 200, { status: 'ready' });
      else sendJson(res, 503, { status: 'not ready', waitingFor: r.waitingFor });
      return;
    }
    opts.metrics.text().then(
      (text) => send(res, 200, opts.metrics.contentType(), text),
      (err: unknown) => {
        log?.error({ err }, 'collecting metrics failed');
        sendJson(res, 500, { statusCode: 500, error: 'Internal Server Error' });
      },
    );
  };
}

/** Starts the admin server; returns the bound port (useful when asked for port 0). */
export async function startAdminServer(opts: AdminServerOptions & { host: string; port: number }): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer(adminHandler(opts));
  // Probes and scrapes are short: idle keep-alive sockets must not hold close() up.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  });
  server.on('error', (err) => opts.logger?.error({ err }, 'admin server error'));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
