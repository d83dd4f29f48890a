// PostgreSQL v3 wire-protocol message codes and the decoded shapes the proxy works with.
// Spec: https://www.postgresql.org/docs/current/protocol-message-formats.html
// Every decoded message carries its direction: 'F' (frontend, client → server) or 'B' (backend).

/** Untyped startup-phase request codes (the int32 after the length). */
export const PROTOCOL_3_0 = 196608; // 3 << 16
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** Frontend message type bytes. */
export const F = {
  Bind: 0x42, // 'B'
  Close: 0x43, // 'C'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyFail: 0x66, // 'f'
  Describe: 0x44, // 'D'
  Execute: 0x45, // 'E'
  Flush: 0x48, // 'H'
  FunctionCall: 0x46, // 'F'
  Parse: 0x50, // 'P'
  Password: 0x70, // 'p' (PasswordMessage, SASLInitialResponse, SASLResponse)
  Query: 0x51, // 'Q'
  Sync: 0x53, // 'S'
  Terminate: 0x58, // 'X'
} as const;

/** Backend message type bytes. */
export const B = {
  Authentication: 0x52, // 'R'
  BackendKeyData: 0x4b, // 'K'
  BindComplete: 0x32, // '2'
  CloseComplete: 0x33, // '3'
  CommandComplete: 0x43, // 'C'
  CopyBothResponse: 0x57, // 'W'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyInResponse: 0x47, // 'G'
  CopyOutResponse: 0x48, // 'H'
  DataRow: 0x44, // 'D'
  EmptyQueryResponse: 0x49, // 'I'
  ErrorResponse: 0x45, // 'E'
  NegotiateProtocolVersion: 0x76, // 'v'
  NoData: 0x6e, // 'n'
  NoticeResponse: 0x4e, // 'N'
  NotificationResponse: 0x41, // 'A'
  ParameterDescription: 0x74, // 't'
  ParameterStatus: 0x53, // 'S'
  ParseComplete: 0x31, // '1'
  PortalSuspended: 0x73, // 's'
  ReadyForQuery: 0x5a, // 'Z'
  RowDescription: 0x54, // 'T'
} as const;

/** AuthenticationRequest sub-codes (the int32 after 'R'). */
export const AUTH = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

/** Transaction status from ReadyForQuery: idle, in a transaction block, in a failed block. */
export type TxStatus = 'I' | 'T' | 'E';

/** ErrorResponse / NoticeResponse fields keyed by their one-letter code (S, V, C, M, D, H, P, ...). */
export type ErrorFields = Record<string, string>;

export type StartupRequest =
  | { dir: 'F'; type: 'StartupMessage'; major: number; minor: number; params: Record<string, string> }
  | { dir: 'F'; type: 'SSLRequest' }
  | { dir: 'F'; type: 'GSSENCRequest' }
  | { dir: 'F'; type: 'CancelRequest'; pid: number; secret: number };

export type FrontendMessage =
  | { dir: 'F'; type: 'Query'; text: string }
  | { dir: 'F'; type: 'Parse'; name: string; text: string; paramTypes: number[] }
  | { dir: 'F'; type: 'Bind'; portal: string; statement: string }
  | { dir: 'F'; type: 'Execute'; portal: string; maxRows: number }
  | { dir: 'F'; type: 'Describe'; target: 'S' | 'P'; name: string }
  | { dir: 'F'; type: 'Close'; target: 'S' | 'P'; name: string }
  | { dir: 'F'; type: 'Sync' }
  | { dir: 'F'; type: 'Flush' }
  | { dir: 'F'; type: 'Terminate' }
  | { dir: 'F'; type: 'CopyData'; length: number }
  | { dir: 'F'; type: 'CopyDone' }
  | { dir: 'F'; type: 'CopyFail'; message: string }
  | { dir: 'F'; type: 'FunctionCall'; oid: number }
  | { dir: 'F'; type: 'Password' };

export type AuthenticationRequest =
  | { method: 'ok' }
  | { method: 'cleartext' }
  | { method: 'md5'; salt: Buffer }
  | { method: 'sasl'; mechanisms: string[] }
  | { method: 'sasl-continue'; data: string }
  | { method: 'sasl-final'; data: string }
  | { method: 'unsupported'; code: number };

export type BackendMessage =
  | { dir: 'B'; type: 'Authentication'; request: AuthenticationRequest }
  | { dir: 'B'; type: 'ParameterStatus'; name: string; value: string }
  | { dir: 'B'; type: 'BackendKeyData'; pid: number; secret: number }
  | { dir: 'B'; type: 'ReadyForQuery'; status: TxStatus }
  | { dir: 'B'; type: 'ErrorResponse'; fields: ErrorFields }
  | { dir: 'B'; type: 'NoticeResponse'; fields: ErrorFields }
  | { dir: 'B'; type: 'CommandComplete'; tag: string }
  | { dir: 'B'; type: 'RowDescription'; columns: number }
  | { dir: 'B'; type: 'DataRow'; columns: number }
  | { dir: 'B'; type: 'CopyResponse'; direction: 'in' | 'out' | 'both'; columns: number }
  | { dir: 'B'; type: 'NegotiateProtocolVersion'; minor: number; unrecognized: string[] }
  | { dir: 'B'; type: 'Other'; code: number };

/** A decode or framing failure: a value, never a throw. */
export interface ProtocolError { code: string; message: string }

export type Decoded<T> = { ok: true; msg: T } | { ok: false; error: ProtocolError };
