// Encoders for the messages the proxy writes itself (to the agent or to the upstream server).
// Fixed messages are built once at module load; the rest are built from a small typed writer.
import { AUTH, B, CANCEL_REQUEST_CODE, F, GSSENC_REQUEST_CODE, PROTOCOL_3_0, SSL_REQUEST_CODE } from './messages.js';
import type { ErrorFields, TxStatus } from './messages.js';

/** Builds one message: `type` 0 means an untyped startup-phase packet. */
class MessageWriter {
  private parts: Buffer[] = [];
  private size = 0;
  int32(v: number): this { const b = Buffer.allocUnsafe(4); b.writeInt32BE(v | 0); return this.push(b); }
  int16(v: number): this { const b = Buffer.allocUnsafe(2); b.writeInt16BE(v); return this.push(b); }
  byte(v: number): this { return this.push(Buffer.from([v])); }
  cstring(s: string): this { return this.push(Buffer.from(s + '\0', 'utf8')); }
  bytes(b: Buffer): this { return this.push(b); }
  private push(b: Buffer): this { this.parts.push(b); this.size += b.length; return this; }
  finish(type: number): Buffer {
    const headerSize = type === 0 ? 4 : 5;
    const out = Buffer.allocUnsafe(headerSize + this.size);
    if (type !== 0) out[0] = type;
    out.writeInt32BE(this.size + 4, headerSize - 4);
    let pos = headerSize;
    for (const p of this.parts) { p.copy(out, pos); pos += p.length; }
    return out;
  }
}

const w = (): MessageWriter => new MessageWriter();

// Fixed messages.
export const SSL_NOT_SUPPORTED = Buffer.from('N'); // answer to SSLRequest / GSSENCRequest on localhost
export const AUTHENTICATION_OK = w().int32(AUTH.Ok).finish(B.Authentication);
export const SSL_REQUEST = w().int32(SSL_REQUEST_CODE).finish(0);
export const GSSENC_REQUEST = w().int32(GSSENC_REQUEST_CODE).finish(0);
export const TERMINATE = w().finish(F.Terminate);
export const SYNC = w().finish(F.Sync);
const READY: Record<TxStatus, Buffer> = {
  I: w().byte(0x49).finish(B.ReadyForQuery),
  T: w().byte(0x54).finish(B.ReadyForQuery),
  E: w().byte(0x45).finish(B.ReadyForQuery),
};

export function encodeReadyForQuery(status: TxStatus): Buffer { return READY[status]; }

/** ErrorResponse or NoticeResponse; field order follows the object (S, V, C, M, D, H first by convention). */
export function encodeErrorResponse(fields: ErrorFields, type: number = B.ErrorResponse): Buffer {
  const m = w();
  for (const [k, v] of Object.entries(fields)) {
    if (k.length !== 1) continue;
    m.byte(k.charCodeAt(0)).cstring(v.replaceAll('\0', ''));
  }
  return m.byte(0).finish(type);
}

export function encodeParameterStatus(name: string, value: string): Buffer {
  return w().cstring(name).cstring(value).finish(B.ParameterStatus);
}

export function encodeBackendKeyData(pid: number, secret: number): Buffer {
  return w().int32(pid).int32(secret).finish(B.BackendKeyData);
}

export function encodeNegotiateProtocolVersion(minor: number, unrecognized: string[]): Buffer {
  const m = w().int32(minor).int32(unrecognized.length);
  for (const u of unrecognized) m.cstring(u);
  return m.finish(B.NegotiateProtocolVersion);
}

export function encodeStartupMessage(params: Record<string, string>): Buffer {
  const m = w().int32(PROTOCOL_3_0);
  for (const [k, v] of Object.entries(params)) m.cstring(k).cstring(v);
  return m.byte(0).finish(0);
}

export function encodeCancelRequest(pid: number, secret: number): Buffer {
  return w().int32(CANCEL_REQUEST_CODE).int32(pid).int32(secret).finish(0);
}

export function encodePasswordMessage(password: string): Buffer {
  return w().cstring(password).finish(F.Password);
}

export function encodeSASLInitialResponse(mechanism: string, data: string): Buffer {
  const body = Buffer.from(data, 'utf8');
  return w().cstring(mechanism).int32(body.length).bytes(body).finish(F.Password);
}

export function encodeSASLResponse(data: string): Buffer {
  return w().bytes(Buffer.from(data, 'utf8')).finish(F.Password);
}

/** Frontend Query (used by tests and health probes). */
export function encodeQuery(text: string): Buffer {
  return w().cstring(text).finish(F.Query);
}

export function encodeParse(name: string, text: string, paramTypes: number[] = []): Buffer {
  const m = w().cstring(name).cstring(text).int16(paramTypes.length);
  for (const t of paramTypes) m.int32(t);
  return m.finish(F.Parse);
}

/** Bind with no parameters and default formats. */
export function encodeBind(portal: string, statement: string): Buffer {
  return w().cstring(portal).cstring(statement).int16(0).int16(0).int16(0).finish(F.Bind);
}

export function encodeExecute(portal: string, maxRows = 0): Buffer {
  return w().cstring(portal).int32(maxRows).finish(F.Execute);
}
