// Upstream connection set-up: TCP, optional TLS (libpq sslmode semantics), startup and password
// authentication (SCRAM-SHA-256, MD5, cleartext) up to the first ReadyForQuery; and CancelRequest.
// Failures come back as ErrorResponse fields ready for the agent, with the credential scrubbed.
import { createHash } from 'node:crypto';
import { isIP, connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { Framer, decodeBackend } from './codec.js';
import {
  SSL_REQUEST, encodeCancelRequest, encodePasswordMessage, encodeSASLInitialResponse, encodeSASLResponse, encodeStartupMessage,
} from './encode.js';
import type { ErrorFields, TxStatus } from './messages.js';
import { SCRAM_SHA_256, scramClientFinal, scramClientFirst, scramVerifyServerFinal } from './scram.js';

export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-full';

export interface UpstreamTarget { host: string; port: number; database: string; sslmode?: SslMode; ca?: string }
export interface UpstreamCredential { username: string; password: string }

export interface Upstream {
  socket: Socket | TLSSocket;
  /** Raw ParameterStatus frames, relayed to the agent as they are. */
  parameterStatus: Buffer[];
  backendKey: { pid: number; secret: number };
  status: TxStatus;
  /** Raw NoticeResponse frames the server sent during start-up. */
  notices: Buffer[];
}

export type UpstreamResult = { ok: true; upstream: Upstream } | { ok: false; fields: ErrorFields };

export interface ConnectOptions {
  target: UpstreamTarget;
  credential: UpstreamCredential;
  /** Startup parameters besides user and database (application_name, options, DateStyle, ...). */
  params: Record<string, string>;
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;

function failure(code: string, message: string, severity = 'FATAL'): { ok: false; fields: ErrorFields } {
  return { ok: false, fields: { S: severity, V: severity, C: code, M: message } };
}

/** Removes every occurrence of the secret from the server's error fields: never echo the credential. */
export function scrubFields(fields: ErrorFields, secret: string): ErrorFields {
  if (secret.length === 0) return fields;
  const out: ErrorFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v.split(secret).join('********');
  return out;
}

/** Reads whole backend frames from a socket during set-up; hands the socket over cleanly afterwards. */
class SetupReader {
  private readonly framer = new Framer({ startup: false });
  private readonly frames: Buffer[] = [];
  private waiter: (() => void) | null = null;
  private ended: string | null = null;
  private readonly onData = (chunk: Buffer): void => {
    const error = this.framer.push(chunk, (_t, frame) => { this.frames.push(frame); });
    if (error) this.ended = error.message;
    this.wake();
  };
  private readonly onEnd = (): void => { this.ended ??= 'server closed the connection unexpectedly'; this.wake(); };
  private readonly onError = (err: Error): void => { this.ended ??= err.message; this.wake(); };

  constructor(private readonly socket: Socket) {
    socket.on('data', this.onData); socket.on('close', this.onEnd); socket.on('error', this.onError);
  }

  private wake(): void { const w = this.waiter; this.waiter = null; w?.(); }

  async next(): Promise<Buffer | { closed: string }> {
    for (;;) {
      const f = this.frames.shift();
      if (f) return f;
      if (this.ended !== null) return { closed: this.ended };
      await new Promise<void>((resolve) => { this.waiter = resolve; });
    }
  }

  detach(): void {
    this.socket.off('data', this.onData); this.socket.off('close', this.onEnd); this.socket.off('error', this.onError);
  }
}

function openTcp(target: UpstreamTarget): Promise<Socket | Error> {
  return new Promise((resolve) => {
    const s = netConnect({ host: target.host, port: target.port });
    s.setNoDelay(true);
    const onError = (err: Error): void => { s.destroy(); resolve(err); };
    s.once('error', onError);
    s.once('connect', () => { s.off('error', onError); resolve(s); });
  });
}

/** SSLRequest negotiation: one byte 'S' or 'N'; any further byte before the handshake is an attack (CVE-2021-23214). */
function readSslAnswer(s: Socket): Promise<'S' | 'N' | Error> {
  return new Promise((resolve) => {
    const cleanup = (): void => { s.off('data', onData); s.off('error', onError); s.off('close', onClose); };
    const onData = (chunk: Buffer): void => {
      cleanup();
      if (chunk.length !== 1) { resolve(new Error('unexpected data after the SSL response')); return; }
      const c = String.fromCharCode(chunk[0] as number);
      resolve(c === 'S' || c === 'N' ? c : new Error(`unexpected SSL response ${JSON.stringify(c)}`));
    };
    const onError = (err: Error): void => { cleanup(); resolve(err); };
    const onClose = (): void => { cleanup(); resolve(new Error('server closed the connection during SSL negotiation')); };
    s.on('data', onData); s.once('error', onError); s.once('close', onClose);
  });
}

function upgradeTls(s: Socket, target: UpstreamTarget, mode: SslMode): Promise<TLSSocket | Error> {
  // `host` is what the certificate is checked against; without it node would check 'localhost'.
  const options: ConnectionOptions = { socket: s, host: target.host };
  if (isIP(target.host) === 0) options.servername = target.host;
  if (target.ca) options.ca = target.ca;
  if (mode === 'verify-full') options.rejectUnauthorized = true;
  else if (mode === 'require' && target.ca) {
    // libpq: require with a root certificate behaves like verify-ca (chain checked, host name not).
    options.rejectUnauthorized = true;
    options.checkServerIdentity = () => undefined;
  } else options.rejectUnauthorized = false;
  return new Promise((resolve) => {
    const t = tlsConnect(options);
    const onError = (err: Error): void => { t.destroy(); resolve(err); };
    t.once('error', onError);
    t.once('secureConnect', () => { t.off('error', onError); t.setNoDelay(true); resolve(t); });
  });
}

/** Opens the transport: TCP, then TLS as the sslmode asks. */
async function openTransport(target: UpstreamTarget): Promise<Socket | TLSSocket | { ok: false; fields: ErrorFields }> {
  const mode = target.sslmode ?? 'prefer';
  const tcp = await openTcp(target);
  if (tcp instanceof Error) return failure('08001', `could not connect to upstream server ${target.host}:${target.port}: ${tcp.message}`);
  if (mode === 'disable') return tcp;
  tcp.write(SSL_REQUEST);
  const answer = await readSslAnswer(tcp);
  if (answer instanceof Error) { tcp.destroy(); return failure('08001', `SSL negotiation with upstream failed: ${answer.message}`); }
  if (answer === 'N') {
    if (mode === 'prefer') return tcp;
    tcp.destroy();
    return failure('08001', `upstream server does not support SSL, but sslmode=${mode} requires it`);
  }
  const tls = await upgradeTls(tcp, target, mode);
  if (tls instanceof Error) { tcp.destroy(); return failure('08001', `SSL connection to upstream failed: ${tls.message}`); }
  return tls;
}

/** Connects and authenticates to the upstream server; resolves once it is ReadyForQuery. */
export async function connectUpstream(o: ConnectOptions): Promise<UpstreamResult> {
  const transport = await withTimeout(openTransport(o.target), o.timeoutMs);
  if ('ok' in transport) return transport;
  const socket = transport;
  const reader = new SetupReader(socket);
  const timer = setTimeout(() => socket.destroy(new Error('timeout while connecting upstream')), o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    const result = await authenticate(socket, reader, o);
    if (!result.ok) socket.destroy();
    return result;
  } finally {
    clearTimeout(timer);
    reader.detach();
  }
}

async function withTimeout<T>(p: Promise<T>, ms = DEFAULT_TIMEOUT_MS): Promise<T | { ok: false; fields: ErrorFields }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ ok: false; fields: ErrorFields }>((resolve) => {
    timer = setTimeout(() => resolve(failure('08001', 'timeout while connecting to the upstream server')), ms);
  });
  try { return await Promise.race([p, timeout]); } finally { clearTimeout(timer); }
}

async function authenticate(socket: Socket, reader: SetupReader, o: ConnectOptions): Promise<UpstreamResult> {
  const { credential } = o;
  const scrub = (fields: ErrorFields): ErrorFields => scrubFields(fields, credential.password);
  socket.write(encodeStartupMessage({ ...o.params, user: credential.username, database: o.target.database }));
  let scram: { first: ReturnType<typeof scramClientFirst>; serverSignature?: Buffer } | null = null;
  let authenticated = false;
  const parameterStatus: Buffer[] = [];
  const notices: Buffer[] = [];
  let backendKey = { pid: 0, secret: 0 };
  for (;;) {
    const frame = await reader.next();
    if (!Buffer.isBuffer(frame)) return failure('08006', `upstream connection failed during start-up: ${frame.closed}`);
    const decoded = decodeBackend(frame);
    if (!decoded.ok) return failure('08P01', `upstream protocol violation during start-up: ${decoded.error.message}`);
    const msg = decoded.msg;
    switch (msg.type) {
      case 'ErrorResponse': return { ok: false, fields: scrub(msg.fields) };
      case 'NoticeResponse': notices.push(frame); break;
      case 'ParameterStatus': parameterStatus.push(frame); break;
      case 'BackendKeyData': backendKey = { pid: msg.pid, secret: msg.secret }; break;
      case 'NegotiateProtocolVersion': break; // we always ask for 3.0 without _pq_ options
      case 'ReadyForQuery':
        if (!authenticated) return failure('08P01', 'upstream server sent ReadyForQuery before authentication');
        return { ok: true, upstream: { socket, parameterStatus, backendKey, status: msg.status, notices } };
      case 'Authentication': {
        const req = msg.request;
        switch (req.method) {
          case 'ok': authenticated = true; break;
          case 'cleartext': socket.write(encodePasswordMessage(credential.password)); break;
          case 'md5': socket.write(encodePasswordMessage(md5Password(credential.username, credential.password, req.salt))); break;
          case 'sasl': {
            if (!req.mechanisms.includes(SCRAM_SHA_256)) {
              return failure('28000', `upstream offers no supported SASL mechanism (${req.mechanisms.join(', ')})`);
            }
            scram = { first: scramClientFirst() };
            socket.write(encodeSASLInitialResponse(SCRAM_SHA_256, scram.first.message));
            break;
          }
          case 'sasl-continue': {
            if (!scram) return failure('08P01', 'unexpected SASLContinue from upstream');
            const final = scramClientFinal(credential.password, scram.first, req.data);
            if (!final.ok) return failure('28000', final.error);
            scram.serverSignature = final.serverSignature;
            socket.write(encodeSASLResponse(final.message));
            break;
          }
          case 'sasl-final': {
            if (!scram?.serverSignature) return failure('08P01', 'unexpected SASLFinal from upstream');
            const verified = scramVerifyServerFinal(req.data, scram.serverSignature);
            if (!verified.ok) return failure('28000', verified.error);
            break;
          }
          case 'unsupported':
            return failure('28000', `upstream requests an unsupported authentication method (${req.code})`);
        }
        break;
      }
      default:
        return failure('08P01', `unexpected message from upstream during start-up (type ${frame[0]})`);
    }
  }
}

/** "md5" + md5(md5(password + user) + salt), as PostgreSQL's MD5 authentication expects. */
export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password + user).digest('hex');
  return 'md5' + createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex');
}

/** Sends a CancelRequest on a fresh connection (TLS when the target requires it). Never throws. */
export async function sendCancel(target: UpstreamTarget, key: { pid: number; secret: number }, timeoutMs = 5_000): Promise<boolean> {
  const transport = await withTimeout(openTransport(target), timeoutMs);
  if ('ok' in transport) return false;
  return new Promise((resolve) => {
    const timer = setTimeout(() => { transport.destroy(); resolve(false); }, timeoutMs);
    transport.on('error', () => undefined);
    transport.once('close', () => { clearTimeout(timer); resolve(true); });
    transport.end(encodeCancelRequest(key.pid, key.secret));
  });
}
