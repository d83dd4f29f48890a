// A small real HTTP server that speaks the control plane's POST /v1/records (plus a minimal
// /v1/exchange and /v1/bundle long-poll) for the sidecar's unit tests. The real control plane is written in another package and is covered by the
// integration tests under test/; this one lets the recorder's tests go down, hang, refuse and
// come back on demand, which a real control plane cannot be told to do.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyChain } from '@chaperone/core/records/chain';
import type { ExchangeResponse, RecordsBatch, RecordsResult } from '@chaperone/core/api';
import type { PolicyBundle } from '@chaperone/core/policy/types';
import type { SessionRecord } from '@chaperone/core/records/types';

/** What the server does with the next requests. */
export type ServerMode = 'ok' | 'unavailable' | 'hang' | 'reject';

export class RecordsServer {
  mode: ServerMode = 'ok';
  /** When set, a bearer token outside this set gets 401. */
  validGrants: Set<string> | undefined;
  readonly sessions = new Map<string, SessionRecord[]>();
  readonly broken: RecordsResult['broken'] = [];
  readonly batchSizes: number[] = [];
  readonly seenGrants: string[] = [];
  duplicates = 0;
  /** POST /v1/exchange answers this (with the current bundle), or 503 while undefined. */
  exchangeResponse: Omit<ExchangeResponse, 'bundle'> | undefined;
  readonly exchangedTokens: string[] = [];
  private bundle: PolicyBundle = { version: 'empty', connections: [], policies: [] };
  private bundleWaiters = new Set<() => void>();
  private server: Server;
  private port = 0;
  private readonly hanging = new Set<ServerResponse>();

  private constructor() {
    this.server = this.makeServer();
  }

  static async start(): Promise<RecordsServer> {
    const s = new RecordsServer();
    await s.listen(0);
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Every stored record of every session, to check order and completeness. */
  total(): number {
    let n = 0;
    for (const records of this.sessions.values()) n += records.length;
    return n;
  }

  /** Stops listening: the next requests see connection refused. */
  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listens again on the same port, with the records stored so far. */
  async restart(): Promise<void> {
    this.server = this.makeServer();
    await this.listen(this.port);
  }

  /** Publishes a new bundle; waiting long-polls answer at once. */
  setBundle(bundle: PolicyBundle): void {
    this.bundle = bundle;
    for (const wake of this.bundleWaiters) wake();
    this.bundleWaiters.clear();
  }

  /** Answers the requests held in `hang` mode with 503. */
  releaseHanging(): void {
    for (const res of this.hanging) send(res, 503, { error: { code: 'TEST_ERR_HUNG', message: 'released' } });
    this.hanging.clear();
  }

  private async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  private makeServer(): Server {
    return createServer((req, res) => {
      void this.handle(req, res);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method === 'POST' && req.url === '/v1/exchange') return this.exchange(Buffer.concat(chunks).toString('utf8'), res);
    if (req.method === 'GET' && req.url?.startsWith('/v1/bundle?')) return this.pollBundle(req.url, res);
    if (req.method !== 'POST' || req.url !== '/v1/records') return send(res, 404, { error: { code: 'TEST_ERR_NOT_FOUND', message: req.url ?? '' } });
    const grant = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    this.seenGrants.push(grant);
    if (this.validGrants && !this.validGrants.has(grant)) return send(res, 401, { error: { code: 'AUTH_ERR_GRANT_EXPIRED', message: 'grant expired' } });
    switch (this.mode) {
      case 'unavailable': return send(res, 503, { error: { code: 'STORE_ERR_DOWN', message: 'store down' } });
      case 'hang': this.hanging.add(res); return;
      case 'reject': return send(res, 400, { error: { code: 'RECORDS_ERR_INVALID', message: 'body/records/0 must have property event' } });
      case 'ok': break;
    }
    const batch = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RecordsBatch;
    this.batchSizes.push(batch.records.length);
    const result: RecordsResult = { accepted: 0, duplicates: 0, broken: [] };
    for (const r of batch.records) {
      const stored = this.sessions.get(r.session) ?? [];
      const existing = stored[r.seq];
      if (existing) {
        result.duplicates++;
        this.duplicates++;
        if (existing.hash !== r.hash) result.broken.push({ session: r.session, seq: r.seq, reason: 'duplicate-different-hash' });
        continue;
      }
      const check = verifyChain([r], stored.at(-1));
      if (!check.ok) result.broken.push({ session: r.session, seq: check.seq, reason: check.reason });
      stored[r.seq] = r;
      this.sessions.set(r.session, stored);
      result.accepted++;
    }
    this.broken.push(...result.broken);
    send(res, 200, result);
  }

  private exchange(body: string, res: ServerResponse): void {
    this.exchangedTokens.push((JSON.parse(body) as { token: string }).token);
    if (!this.exchangeResponse) return send(res, 503, { error: { code: 'STORE_ERR_DOWN', message: 'not yet' } });
    send(res, 200, { ...this.exchangeResponse, bundle: this.bundle });
  }

  private pollBundle(url: string, res: ServerResponse): void {
    const q = new URL(url, 'http://x').searchParams;
    if (q.get('version') !== this.bundle.version) return send(res, 200, this.bundle);
    const wake = () => { clearTimeout(timer); send(res, 200, this.bundle); };
    const timer = setTimeout(() => { this.bundleWaiters.delete(wake); res.writeHead(304).end(); }, Number(q.get('wait') ?? 30) * 1000);
    this.bundleWaiters.add(wake);
    res.on('close', () => { clearTimeout(timer); this.bundleWaiters.delete(wake); });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
