// The control-plane /v1 API shapes shared by the control plane, the sidecar and the CLI.
import type { PolicyBundle } from './policy/types.js';
import type { Identity, SessionRecord } from './records/types.js';

/** POST /v1/exchange — the sidecar trades its (projected or development) token for a grant. */
export interface ExchangeRequest {
  token: string;
  /** Restrict to these connections (the pod's chaperone.dev/connections annotation). */
  connections?: string[];
}

export type Credential =
  | { type: 'password'; username: string; password: string };

export interface ExchangeResponse {
  /** JWT signed by the control plane's key (JWKS at /v1/jwks); the sidecar's bearer token for /v1. */
  grant: string;
  expiresAt: string;
  identity: Identity;
  bundle: PolicyBundle;
  /** Credentials by connection name, only for connections in the bundle. */
  credentials: Record<string, Credential>;
}

/** POST /v1/dev/tokens — the development issuer (local stack only). */
export interface DevTokenRequest {
  namespace: string;
  serviceAccount: string;
  ttlSeconds?: number;
}

export interface DevTokenResponse {
  token: string;
  expiresAt: string;
}

/** POST /v1/records — a batch, idempotent by (session, seq). */
export interface RecordsBatch {
  records: SessionRecord[];
}

export interface RecordsResult {
  accepted: number;
  duplicates: number;
  /** Sessions whose chain does not verify, with the first bad sequence number. */
  broken: { session: string; seq: number; reason: string }[];
}

/** GET /v1/sessions */
export interface SessionSummary {
  id: string;
  protocol: string;
  connection: string;
  identity: Identity;
  startedAt: string;
  endedAt: string | null;
  records: number;
  statements: number;
  denied: number;
  /** false when a gap or a hash mismatch was found on ingestion. */
  chainOk: boolean;
  chainError: string | null;
}


/** The error body of every /v1 endpoint. */
export interface ApiError {
  error: { code: string; message: string };
}
/** GET /v1/sessions/:id */
export interface SessionDetail {
  session: SessionSummary;
  records: SessionRecord[];
}
