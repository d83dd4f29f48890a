// Frame-level codec: incremental framing of whole messages and decoders for what the proxy reads.
// Framing is one function (Framer.push): it buffers partial chunks and hands on only whole frames.
// Malformed or oversized input is returned as a ProtocolError value, never thrown.
import {
  AUTH, B, CANCEL_REQUEST_CODE, F, GSSENC_REQUEST_CODE, SSL_REQUEST_CODE,
} from './messages.js';
import type {
  AuthenticationRequest, BackendMessage, Decoded, ErrorFields, FrontendMessage, ProtocolError, StartupRequest, TxStatus,
} from './messages.js';

/** PostgreSQL's own limits: startup packets ≤ 10 000 bytes (MAX_STARTUP_PACKET_LENGTH), messages < 1 GiB. */
export const MAX_STARTUP_LENGTH = 10_000;
export const MAX_MESSAGE_LENGTH = 0x3fffffff;

export interface FramerOptions {
  /** Expect untyped startup-phase packets first (frontend side). */
  startup: boolean;
  maxStartupLength?: number;
  maxMessageLength?: number;
}

/** Called with the message type (0 for startup packets) and the whole frame, header included. */
export type FrameSink = (type: number, frame: Buffer) => void;

function protocolError(code: string, message: string): ProtocolError {
  return { code, message };
}

/**
 * Incremental framer for one direction of a connection. Frames handed to the sink may share memory
 * with the pushed chunk and are valid during the sink call only (the caller may reuse the chunk's
 * memory afterwards); what waits for the rest of a frame is copied.
 */
export class Framer {
  private startup: boolean;
  private readonly maxStartup: number;
  private readonly maxMessage: number;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Total frame size once the header of the pending frame is known, else 0. */
  private needed = 0;
  private failed: ProtocolError | null = null;

  constructor(o: FramerOptions) {
    this.startup = o.startup;
    this.maxStartup = o.maxStartupLength ?? MAX_STARTUP_LENGTH;
    this.maxMessage = o.maxMessageLength ?? MAX_MESSAGE_LENGTH;
  }

  /** True while untyped startup packets are expected. */
  get inStartup(): boolean { return this.startup; }

  /** Bytes held back waiting for the rest of a frame. */
  get buffered(): number { return this.pendingLength; }

  push(chunk: Buffer, sink: FrameSink): ProtocolError | null {
    if (this.failed) return this.failed;
    let buf = chunk;
    if (this.pendingLength > 0) {
      // Large frames arrive in many chunks: only join once the whole frame is there.
      if (this.needed > 0 && this.pendingLength + chunk.length < this.needed) {
        this.pending.push(Buffer.from(chunk));
        this.pendingLength += chunk.length;
        return null;
      }
      this.pending.push(chunk);
      buf = Buffer.concat(this.pending, this.pendingLength + chunk.length);
      this.pending = [];
      this.pendingLength = 0;
      this.needed = 0;
    }
    let i = 0;
    for (;;) {
      const headerSize = this.startup ? 4 : 5;
      const avail = buf.length - i;
      if (avail < headerSize) break;
      const len = buf.readInt32BE(this.startup ? i : i + 1);
      const error = this.checkLength(len);
      if (error) { this.failed = error; return error; }
      const total = this.startup ? len : len + 1;
      if (avail < total) { this.needed = total; break; }
      // The usual read is one whole message: the chunk itself, no view made.
      const frame = i === 0 && total === buf.length ? buf : buf.subarray(i, i + total);
      i += total;
      if (this.startup) {
        const code = frame.readInt32BE(4);
        // SSLRequest/GSSENCRequest are followed by another startup packet; anything else ends the phase.
        if (code !== SSL_REQUEST_CODE && code !== GSSENC_REQUEST_CODE) this.startup = false;
        sink(0, frame);
      } else {
        sink(frame[0] as number, frame);
      }
    }
    if (i < buf.length) {
      const rest = Buffer.from(buf.subarray(i));
      this.pending.push(rest);
      this.pendingLength = rest.length;
    }
    return null;
  }

  private checkLength(len: number): ProtocolError | null {
    if (this.startup) {
      if (len < 8 || len > this.maxStartup) return protocolError('08P01', `invalid startup packet length ${len}`);
      return null;
    }
    if (len < 4) return protocolError('08P01', `invalid message length ${len}`);
    if (len > this.maxMessage) return protocolError('08P01', `message length ${len} exceeds the limit of ${this.maxMessage}`);
    return null;
  }
}

/** Sequential reader over one frame body; every read reports failure through `ok`. */
class Reader {
  ok = true;
  constructor(private readonly buf: Buffer, public pos: number) {}
  get remaining(): number { return this.buf.length - this.pos; }
  int32(): number {
    if (this.remaining < 4) { this.ok = false; return 0; }
    const v = this.buf.readInt32BE(this.pos); this.pos += 4; return v;
  }
  int16(): number {
    if (this.remaining < 2) { this.ok = false; return 0; }
    const v = this.buf.readInt16BE(this.pos); this.pos += 2; return v;
  }
  byte(): number {
    if (this.remaining < 1) { this.ok = false; return 0; }
    return this.buf[this.pos++] as number;
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) { this.ok = false; this.pos = this.buf.length; return ''; }
    const s = this.buf.toString('utf8', this.pos, end); this.pos = end + 1; return s;
  }
  bytes(n: number): Buffer {
    if (n < 0 || this.remaining < n) { this.ok = false; return Buffer.alloc(0); }
    const b = this.buf.subarray(this.pos, this.pos + n); this.pos += n; return b;
  }
}

function malformed<T>(what: string): Decoded<T> {
  return { ok: false, error: protocolError('08P01', `malformed ${what} message`) };
}

function done<T>(r: Reader, msg: T, what: string, exact = true): Decoded<T> {
  if (!r.ok || (exact && r.remaining !== 0)) return malformed(what);
  return { ok: true, msg };
}

/** Decodes an untyped startup-phase packet (frame includes the length word). */
export function decodeStartup(frame: Buffer): Decoded<StartupRequest> {
  const r = new Reader(frame, 4);
  const code = r.int32();
  if (code === SSL_REQUEST_CODE) return done(r, { dir: 'F', type: 'SSLRequest' }, 'SSLRequest');
  if (code === GSSENC_REQUEST_CODE) return done(r, { dir: 'F', type: 'GSSENCRequest' }, 'GSSENCRequest');
  if (code === CANCEL_REQUEST_CODE) {
    const pid = r.int32(); const secret = r.int32();
    return done(r, { dir: 'F', type: 'CancelRequest', pid, secret }, 'CancelRequest');
  }
  const major = code >>> 16; const minor = code & 0xffff;
  if (major !== 3) return { ok: false, error: protocolError('0A000', `unsupported frontend protocol ${major}.${minor}`) };
  // "A list of parameter name and value pairs... A zero byte is required as a terminator."
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (;;) {
    const name = r.cstring();
    if (!r.ok) return malformed('startup');
    if (name === '') break;
    const value = r.cstring();
    if (!r.ok) return malformed('startup');
    params[name] = value;
  }
  return done(r, { dir: 'F', type: 'StartupMessage', major, minor, params }, 'startup');
}

/** Decodes a typed frontend message (after startup). Unknown types are a protocol violation. */
export function decodeFrontend(frame: Buffer): Decoded<FrontendMessage> {
  const type = frame[0];
  const r = new Reader(frame, 5);
  switch (type) {
    case F.Query: return done(r, { dir: 'F', type: 'Query', text: r.cstring() }, 'Query');
    case F.Parse: {
      const name = r.cstring(); const text = r.cstring(); const n = r.int16();
      const paramTypes: number[] = [];
      for (let k = 0; k < n && r.ok; k++) paramTypes.push(r.int32() >>> 0);
      return done(r, { dir: 'F', type: 'Parse', name, text, paramTypes }, 'Parse');
    }
    case F.Bind: {
      // The rest (formats, parameter values, result formats) is passed through untouched.
      const portal = r.cstring(); const statement = r.cstring();
      return done(r, { dir: 'F', type: 'Bind', portal, statement }, 'Bind', false);
    }
    case F.Execute: {
      const portal = r.cstring(); const maxRows = r.int32();
      return done(r, { dir: 'F', type: 'Execute', portal, maxRows }, 'Execute');
    }
    case F.Describe:
    case F.Close: {
      const t = r.byte(); const name = r.cstring();
      if (t !== 0x53 && t !== 0x50) return malformed(type === F.Describe ? 'Describe' : 'Close');
      const target = t === 0x53 ? 'S' : 'P';
      return done(r, { dir: 'F', type: type === F.Describe ? 'Describe' : 'Close', target, name }, 'Describe/Close');
    }
    case F.Sync: return done(r, { dir: 'F', type: 'Sync' }, 'Sync');
    case F.Flush: return done(r, { dir: 'F', type: 'Flush' }, 'Flush');
    case F.Terminate: return done(r, { dir: 'F', type: 'Terminate' }, 'Terminate');
    case F.CopyData: return { ok: true, msg: { dir: 'F', type: 'CopyData', length: frame.length - 5 } };
    case F.CopyDone: return done(r, { dir: 'F', type: 'CopyDone' }, 'CopyDone');
    case F.CopyFail: return done(r, { dir: 'F', type: 'CopyFail', message: r.cstring() }, 'CopyFail');
    case F.FunctionCall: return done(r, { dir: 'F', type: 'FunctionCall', oid: r.int32() >>> 0 }, 'FunctionCall', false);
    case F.Password: return { ok: true, msg: { dir: 'F', type: 'Password' } };
    default:
      return { ok: false, error: protocolError('08P01', `invalid frontend message type ${type}`) };
  }
}

/** Reads ErrorResponse/NoticeResponse fields starting at `pos`; null if malformed. */
export function decodeErrorFields(frame: Buffer, pos = 5): ErrorFields | null {
  const r = new Reader(frame, pos);
  const fields: ErrorFields = Object.create(null) as ErrorFields;
  for (;;) {
    const code = r.byte();
    if (!r.ok) return null;
    if (code === 0) break;
    const value = r.cstring();
    if (!r.ok) return null;
    fields[String.fromCharCode(code)] = value;
  }
  return r.remaining === 0 ? fields : null;
}

function decodeAuthentication(r: Reader): AuthenticationRequest | null {
  const code = r.int32();
  if (!r.ok) return null;
  switch (code) {
    case AUTH.Ok: return { method: 'ok' };
    case AUTH.CleartextPassword: return { method: 'cleartext' };
    case AUTH.MD5Password: { const salt = r.bytes(4); return r.ok ? { method: 'md5', salt: Buffer.from(salt) } : null; }
    case AUTH.SASL: {
      const mechanisms: string[] = [];
      for (;;) {
        const m = r.cstring();
        if (!r.ok) return null;
        if (m === '') break;
        mechanisms.push(m);
      }
      return { method: 'sasl', mechanisms };
    }
    case AUTH.SASLContinue: return { method: 'sasl-continue', data: r.bytes(r.remaining).toString('utf8') };
    case AUTH.SASLFinal: return { method: 'sasl-final', data: r.bytes(r.remaining).toString('utf8') };
    default: return { method: 'unsupported', code };
  }
}

const TX_STATUS: Record<number, TxStatus> = { 0x49: 'I', 0x54: 'T', 0x45: 'E' };

/** Decodes a backend message; DataRow/RowDescription only report their column counts. */
export function decodeBackend(frame: Buffer): Decoded<BackendMessage> {
  const type = frame[0] as number;
  const r = new Reader(frame, 5);
  switch (type) {
    case B.Authentication: {
      const request = decodeAuthentication(r);
      return request ? done(r, { dir: 'B', type: 'Authentication', request }, 'Authentication', false) : malformed('Authentication');
    }
    case B.ParameterStatus: {
      const name = r.cstring(); const value = r.cstring();
      return done(r, { dir: 'B', type: 'ParameterStatus', name, value }, 'ParameterStatus');
    }
    case B.BackendKeyData: {
      const pid = r.int32(); const secret = r.int32();
      return done(r, { dir: 'B', type: 'BackendKeyData', pid, secret }, 'BackendKeyData');
    }
    case B.ReadyForQuery: {
      const status = TX_STATUS[r.byte()];
      return status ? done(r, { dir: 'B', type: 'ReadyForQuery', status }, 'ReadyForQuery') : malformed('ReadyForQuery');
    }
    case B.ErrorResponse:
    case B.NoticeResponse: {
      const fields = decodeErrorFields(frame);
      if (!fields) return malformed(type === B.ErrorResponse ? 'ErrorResponse' : 'NoticeResponse');
      return { ok: true, msg: { dir: 'B', type: type === B.ErrorResponse ? 'ErrorResponse' : 'NoticeResponse', fields } };
    }
    case B.CommandComplete: return done(r, { dir: 'B', type: 'CommandComplete', tag: r.cstring() }, 'CommandComplete');
    case B.RowDescription: return done(r, { dir: 'B', type: 'RowDescription', columns: r.int16() }, 'RowDescription', false);
    case B.DataRow: return done(r, { dir: 'B', type: 'DataRow', columns: r.int16() }, 'DataRow', false);
    case B.CopyInResponse:
    case B.CopyOutResponse:
    case B.CopyBothResponse: {
      r.byte(); const columns = r.int16();
      const direction = type === B.CopyInResponse ? 'in' : type === B.CopyOutResponse ? 'out' : 'both';
      return done(r, { dir: 'B', type: 'CopyResponse', direction, columns }, 'CopyResponse', false);
    }
    case B.NegotiateProtocolVersion: {
      const minor = r.int32(); const n = r.int32();
      const unrecognized: string[] = [];
      for (let k = 0; k < n && r.ok; k++) unrecognized.push(r.cstring());
      return done(r, { dir: 'B', type: 'NegotiateProtocolVersion', minor, unrecognized }, 'NegotiateProtocolVersion');
    }
    default: return { ok: true, msg: { dir: 'B', type: 'Other', code: type } };
  }
}

/** Row count from a CommandComplete tag ("SELECT 5", "INSERT 0 5", "COPY 3"); undefined when none. */
export function rowsFromTag(tag: string): number | undefined {
  const sp = tag.lastIndexOf(' ');
  if (sp < 0) return undefined;
  const n = Number(tag.slice(sp + 1));
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}
