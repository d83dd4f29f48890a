// The control plane's request logging: fastify's request line with secrets kept out of the URL
// (a replay ticket travels in the query string; a log reader could spend it first).
import type { FastifyServerOptions } from 'fastify';
import { LOG_REDACT } from '@chaperone/core/log-redact';

/** Query parameters whose values never reach a log. */
const SECRET_QUERY_PARAMS: ReadonlySet<string> = new Set(['ticket', 'token', 'access_token', 'id_token', 'grant', 'password']);

/** `url` with the values of secret query parameters replaced by `[redacted]`. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const parts = url.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    let name: string;
    try { name = decodeURIComponent(rawName.replaceAll('+', ' ')).toLowerCase(); } catch { name = rawName.toLowerCase(); }
    return SECRET_QUERY_PARAMS.has(name) && eq >= 0 ? `${rawName}=[redacted]` : pair;
  });
  return `${url.slice(0, q)}?${parts.join('&')}`;
}

interface LoggedRequest {
  method: string;
  url: string;
  hostname?: string;
  ip?: string;
  socket?: { remotePort?: number | undefined };
}

/** fastify's `logger` option: level, destination, redaction, and the request line without secrets. */
export function controlPlaneLogger(level: string, stream: NodeJS.WritableStream): NonNullable<FastifyServerOptions['logger']> {
  return {
    level, stream, redact: LOG_REDACT,
    serializers: {
      req: (req: LoggedRequest) => ({
        method: req.method, url: redactUrl(req.url), hostname: req.hostname, remoteAddress: req.ip, remotePort: req.socket?.remotePort,
      }),
    },
  };
}
