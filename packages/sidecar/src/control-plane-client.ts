// The sidecar's client for the control plane's /v1 API, over node:http(s) with a keep-alive agent
// (undici's fetch costs the sidecar ~10 MB of memory and more CPU per request for nothing it needs).
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ChaperoneError } from '@chaperone/core/errors';
import type { Approval, ApprovalCreateRequest, DevTokenRequest, DevTokenResponse, ExchangeResponse, RecordsBatch, RecordsResult } from '@chaperone/core/api';
import type { PolicyBundle } from '@chaperone/core/policy/types';

/**
 * Error codes of this client. UNREACHABLE is worth retrying (connection refused, timeout, 5xx,
 * 408, 429, an unreadable 2xx body); REJECTED is not (a 4xx other than 401: retrying the same
 * request gets the same answer); UNAUTHORIZED means the token or grant must be renewed.
 */
export const CP_ERR_UNREACHABLE = 'CP_ERR_UNREACHABLE';
export const CP_ERR_REJECTED = 'CP_ERR_REJECTED';
export const CP_ERR_UNAUTHORIZED = 'CP_ERR_UNAUTHORIZED';

export interface ControlPlaneClientOptions {
  /** Base URL, e.g. `https://chaperone.chaperone-system.svc:8443`. */
  url: string;
  /** PEM file of the CA that signed the control plane's certificate. */
  caFile?: string;
  /** The same, as PEM text (wins over caFile). */
  ca?: string;
  /** Per-request timeout for everything but the long-poll's wait; default 10 s. */
  requestTimeoutMs?: number;
}

export type BundlePoll = { changed: true; bundle: PolicyBundle } | { changed: false };

export class ControlPlaneClient {
  private readonly base: URL;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;
  private readonly timeoutMs: number;

  constructor(opts: ControlPlaneClientOptions) {
    this.base = new URL(opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
    const ca = opts.ca ?? (opts.caFile ? readFileSync(opts.caFile, 'utf8') : undefined);
    // Long-polls hold a request open for up to `wait` seconds; the per-call signal bounds them (no
    // socket timeout). Idle sockets follow the server's Keep-Alive hint.
    const https = this.base.protocol === 'https:';
    this.agent = https ? new HttpsAgent({ keepAlive: true, ...(ca ? { ca } : {}) }) : new HttpAgent({ keepAlive: true });
    this.send = https ? httpsRequest : httpRequest;
    this.timeoutMs = opts.requestTimeoutMs ?? 10_000;
  }

  /** POST /v1/exchange: the sidecar's own token for a grant, the bundle and the credentials. */
  exchange(token: string, connections?: string[], signal?: AbortSignal): Promise<ExchangeResponse> {
    return this.json<ExchangeResponse>('POST', 'v1/exchange', { body: JSON.stringify({ token, connections }), signal });
  }

  /** GET /v1/bundle long-poll: 200 with a bundle other than `version`, 304 when none came in `waitSeconds`. */
  async waitBundle(version: string, grant: string, waitSeconds: number, signal?: AbortSignal): Promise<BundlePoll> {
    const path = `v1/bundle?version=${encodeURIComponent(version)}&wait=${waitSeconds}`;
    const res = await this.request('GET', path, { grant, signal, timeoutMs: waitSeconds * 1000 + this.timeoutMs });
    if (res.status === 304) return { changed: false };
    return { changed: true, bundle: parseJson<PolicyBundle>(res) };
  }

  /** POST /v1/records. `batch` may be given already serialized (the recorder builds bodies from spooled lines). */
  sendRecords(grant: string, batch: RecordsBatch | string | Uint8Array, signal?: AbortSignal): Promise<RecordsResult> {
    const body = typeof batch === 'string' || batch instanceof Uint8Array ? batch : JSON.stringify(batch);
    return this.json<RecordsResult>('POST', 'v1/records', { body, grant, signal });
  }

  /** POST /v1/approvals: asks for a just-in-time approval (state pending). */
  createApproval(grant: string, req: ApprovalCreateRequest, signal?: AbortSignal): Promise<Approval> {
    return this.json<Approval>('POST', 'v1/approvals', { body: JSON.stringify(req), grant, signal });
  }

  /** GET /v1/approvals/:id/wait long-poll: the approval once decided, or still pending after `waitSeconds`. */
  waitApproval(grant: string, id: string, waitSeconds: number, signal?: AbortSignal): Promise<Approval> {
    const path = `v1/approvals/${encodeURIComponent(id)}/wait?timeoutSeconds=${waitSeconds}`;
    return this.json<Approval>('GET', path, { grant, signal, timeoutMs: waitSeconds * 1000 + this.timeoutMs });
  }

  /** POST /v1/approvals/:id/withdraw: the agent gave up waiting. */
  withdrawApproval(grant: string, id: string, signal?: AbortSignal): Promise<Approval> {
    return this.json<Approval>('POST', `v1/approvals/${encodeURIComponent(id)}/withdraw`, { body: '{}', grant, signal });
  }

  /** POST /v1/dev/tokens: the development issuer of the local stack. */
  devToken(req: DevTokenRequest, signal?: AbortSignal): Promise<DevTokenResponse> {
    return this.json<DevTokenResponse>('POST', 'v1/dev/tokens', { body: JSON.stringify(req), signal });
  }

  close(): Promise<void> {
    this.agent.destroy();
    return Promise.resolve();
  }

  private async json<T>(method: string, path: string, opts: RequestOptions): Promise<T> {
    return parseJson<T>(await this.request(method, path, opts));
  }

  private async request(method: string, path: string, opts: RequestOptions): Promise<RawResponse> {
    const url = new URL(path, this.base);
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? this.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = typeof opts.body === 'string' ? Buffer.byteLength(opts.body) : opts.body.byteLength;
    }
    if (opts.grant !== undefined) headers.authorization = `Bearer ${opts.grant}`;
    let status: number;
    let text: string;
    try {
      ({ status, text } = await this.exchangeHttp(url, method, headers, opts.body, signal));
    } catch (err) {
      const why = signal.aborted && !opts.signal?.aborted ? 'timed out' : describe(err);
      throw new ChaperoneError(CP_ERR_UNREACHABLE, `control plane ${method} /${pathOnly(path)}: ${why}`, { url: url.origin }, { cause: err });
    }
    if (status < 300 || status === 304) return { status, text, path };
    const server = serverError(text);
    const details = { status, serverCode: server.code, path: `/${pathOnly(path)}` };
    const message = `control plane ${method} /${pathOnly(path)} answered ${status}${server.code ? ` ${server.code}` : ''}: ${server.message}`;
    if (status === 401) throw new ChaperoneError(CP_ERR_UNAUTHORIZED, message, details);
    if (status >= 500 || status === 408 || status === 429) throw new ChaperoneError(CP_ERR_UNREACHABLE, message, details);
    throw new ChaperoneError(CP_ERR_REJECTED, message, details);
  }

  /** One request and its whole body; rejects on a network error, an abort or a cut-off body. */
  private exchangeHttp(url: URL, method: string, headers: Record<string, string | number>, body: string | Uint8Array | undefined, signal: AbortSignal): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = this.send(url, { method, headers, agent: this.agent, signal }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
        res.on('close', () => { if (!res.complete) reject(new Error('response cut off')); });
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}

interface RequestOptions {
  body?: string | Uint8Array;
  grant?: string;
  signal?: AbortSignal | undefined;
  timeoutMs?: number;
}

interface RawResponse { status: number; text: string; path: string }

function parseJson<T>(res: RawResponse): T {
  try {
    return JSON.parse(res.text) as T;
  } catch {
    throw new ChaperoneError(CP_ERR_UNREACHABLE, `control plane /${pathOnly(res.path)} answered ${res.status} with a body that is not JSON`, { status: res.status });
  }
}

/** The `{error:{code,message}}` body of /v1 errors, or whatever the server (or a proxy) sent. */
function serverError(text: string): { code: string | undefined; message: string } {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const code = typeof body.error?.code === 'string' ? body.error.code : undefined;
    const message = typeof body.error?.message === 'string' ? body.error.message : text.slice(0, 200);
    return { code, message };
  } catch {
    return { code: undefined, message: text.slice(0, 200) };
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error) return `${err.message} (${(cause as { code?: string }).code ?? cause.message})`;
    return err.message;
  }
  return String(err);
}

function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}
