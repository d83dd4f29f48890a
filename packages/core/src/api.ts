// The control-plane /v1 API shapes shared by the control plane, the sidecar and the CLI.
import type { RuleRef } from './decision.js';
import type { PolicyBundle } from './policy/types.js';
import type { Identity, Protocol, SessionRecord } from './records/types.js';

/** POST /v1/exchange — the sidecar trades its (projected or development) token for a grant. */
export interface ExchangeRequest {
  token: string;
  /** Restrict to these connections (the pod's chaperone.dev/connections annotation). */
  connections?: string[];
}

export type Credential =
  | { type: 'password'; username: string; password: string }
  /** SSH: an OpenSSH or PEM private key. */
  | { type: 'ssh-key'; username: string; privateKey: string; passphrase?: string }
  /** Kubernetes: a bearer token; the sidecar exchanges again before expiresAt. */
  | { type: 'bearer'; token: string; expiresAt?: string };

export interface ExchangeResponse {
  /** JWT signed by the control plane's key (JWKS at /v1/jwks); the sidecar's bearer token for /v1. */
  grant: string;
  expiresAt: string;
  identity: Identity;
  bundle: PolicyBundle;
  /** Credentials by connection name, only for connections in the bundle. */
  credentials: Record<string, Credential>;
  /**
   * Key of the `hash` mask strategy (base64, 32 bytes), the same for every sidecar of the
   * control plane so hashed values join and group alike across sessions.
   */
  maskKey: string;
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

// ---- Approvals (just-in-time) ----
//
// POST /v1/approvals                  sidecar (grant) → Approval        create, state pending
// GET  /v1/approvals/:id/wait?timeoutSeconds=N  sidecar (grant) → Approval  long-poll until decided or N s
// POST /v1/approvals/:id/withdraw     sidecar (grant) → Approval        the agent gave up (cancel, disconnect)
// POST /v1/approvals/:id/decision     approver (OIDC ID token, or the local stack's admin token)
//                                      body ApprovalDecisionRequest → Approval
// GET  /v1/approvals?state=pending&limit=N   approver → Approval[]
// GET  /v1/approvals/:id               approver or the requesting sidecar → Approval
// GET  /v1/approvals/watch?after=CURSOR&timeoutSeconds=N  approver → ApprovalWatchResponse (long-poll)

export type ApprovalState = 'pending' | 'approved' | 'denied' | 'expired' | 'withdrawn';

/** What is held, exactly as submitted: an approval covers this and nothing else. */
export type HeldOperation =
  | { kind: 'sql'; text: string; /** Bind parameters as text, null for NULL; [] in the simple protocol. */ params: (string | null)[] }
  | { kind: 'command'; command: string }
  | { kind: 'kubernetes'; verb: string; path: string; resource: string; namespace?: string; name?: string; body?: string };

export interface ApprovalCreateRequest {
  session: string;
  protocol: Protocol;
  connection: string;
  operation: HeldOperation;
  /** The approve rule that held it. */
  rule: RuleRef;
  /** From the rule, e.g. `group:dba`. */
  approvers: string[];
  timeoutSeconds: number;
  /** The rule's message, shown to approvers. */
  message: string;
}

export interface ApprovalTransition {
  state: ApprovalState;
  at: string;
  /** Who: the approver's subject (`oidc:<iss>#<sub>`, `admin`), or `sidecar`/`control-plane`. */
  by: string;
  reason?: string;
}

export interface Approval {
  id: string;
  state: ApprovalState;
  session: string;
  protocol: Protocol;
  connection: string;
  /** Who asked: the identity of the requesting sidecar's grant. */
  identity: Identity;
  operation: HeldOperation;
  /** sha256 hex of the canonical JSON of {session, operation}: what an approval is bound to. */
  fingerprint: string;
  rule: RuleRef;
  approvers: string[];
  message: string;
  requestedAt: string;
  expiresAt: string;
  decidedAt: string | null;
  /** The deciding approver (display name or subject), for approved and denied. */
  decidedBy: string | null;
  reason: string | null;
  history: ApprovalTransition[];
  /** Link to the request for people (the control plane's page), when it knows its public URL. */
  url?: string;
}

export interface ApprovalDecisionRequest {
  decision: 'approve' | 'deny';
  reason?: string;
}

export interface ApprovalWatchResponse {
  approvals: Approval[];
  /** Pass as `after` on the next call. */
  cursor: string;
}
