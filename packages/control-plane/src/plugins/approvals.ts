// /v1/approvals: sidecars (by grant) ask, wait and withdraw; approvers (OIDC ID token, or the local
// stack's admin token) list, watch and decide.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Approval, ApprovalCreateRequest, ApprovalDecisionRequest, ApprovalState, ApprovalWatchResponse } from '@chaperone/core/api';
import { isChaperoneError } from '@chaperone/core/errors';
import { ADMIN_APPROVER, type Approver } from '../approvals/approvers.js';
import type { OidcApproverVerifier } from '../approvals/oidc.js';
import { approveRule } from '../approvals/rule.js';
import { approvalFor } from '../approvals/visibility.js';
import { assertRequester, type ApprovalService } from '../approvals/service.js';
import { cpError } from '../errors.js';
import type { GrantAuthority } from '../grants.js';
import type { PodLabelSource } from '../identity/pod-labels.js';
import type { ControlPlaneMetrics } from '../metrics.js';
import type { PolicyState } from '../policies/state.js';
import { bearerToken, requireGrant } from './auth.js';
import { approvalCreateSchema, approvalDecisionSchema, approvalIdParams, approvalSchema, APPROVAL_STATES } from './approvals-schemas.js';
import { bearerSecurity, errorResponses } from './schemas.js';

export interface ApprovalsOptions {
  service: ApprovalService;
  grants: GrantAuthority;
  /** The requester's policies: the approve rule named, and so who may approve, come from them. */
  policies: PolicyState;
  podLabels?: PodLabelSource;
  metrics: ControlPlaneMetrics;
  /** The static admin token: may decide, recorded as `admin`. Only for the local stack. */
  adminToken: string | undefined;
  /** Verifies approvers' ID tokens; without it only the admin token decides. */
  oidc: OidcApproverVerifier | undefined;
  /** Aborted when the app closes, so long polls answer instead of holding shutdown. */
  shutdown: AbortSignal;
}

export const DEFAULT_APPROVAL_WAIT_SECONDS = 30;
export const MAX_APPROVAL_WAIT_SECONDS = 300;
export const DEFAULT_APPROVALS_LIMIT = 100;
export const MAX_APPROVALS_LIMIT = 1000;

export const approvalsPlugin: FastifyPluginAsync<ApprovalsOptions> = async (app, opts) => {
  const { service, grants, policies, podLabels, metrics, adminToken, oidc, shutdown } = opts;

  /**
   * The approver behind the request's bearer token. Without any approver authentication
   * configured (no admin token, no OIDC), reads are open like /v1/sessions and this returns
   * undefined; decisions then refuse (see `requireApprover`).
   */
  async function approverOf(request: FastifyRequest): Promise<Approver | undefined> {
    const token = bearerToken(request);
    if (adminToken === undefined && oidc === undefined) return undefined;
    if (!token) throw cpError('APPROVALS_ERR_APPROVER_REQUIRED', 'approvers authenticate with `Authorization: Bearer <OIDC ID token>`');
    if (adminToken !== undefined && sameSecret(token, adminToken)) return ADMIN_APPROVER;
    if (!oidc) throw cpError('APPROVALS_ERR_APPROVER_REQUIRED', 'this route needs `Authorization: Bearer <admin token>` (no OIDC issuer is configured)');
    return oidc.verify(token);
  }

  async function requireApprover(request: FastifyRequest): Promise<Approver> {
    const approver = await approverOf(request);
    if (!approver) throw cpError('APPROVALS_ERR_APPROVER_REQUIRED', 'no approver authentication is configured: set approvals.oidc, or adminToken for the local stack');
    return approver;
  }

  /** Stops a long poll when the client goes away or the app shuts down. */
  function pollSignal(reply: FastifyReply): AbortSignal {
    const gone = new AbortController();
    reply.raw.once('close', () => gone.abort());
    return AbortSignal.any([gone.signal, shutdown]);
  }

  const approvalOk = { 200: approvalSchema };

  app.post<{ Body: ApprovalCreateRequest }>('/v1/approvals', {
    schema: {
      summary: 'Hold an operation for just-in-time approval (sidecar); the approval starts pending',
      tags: ['approvals'],
      security: bearerSecurity,
      body: approvalCreateSchema,
      response: { ...approvalOk, ...errorResponses(400, 401, 403, 429) },
    },
  }, async (request): Promise<Approval> => {
    const grant = await requireGrant(request, grants, metrics);
    const req = request.body;
    if (grant.connections && !grant.connections.includes(req.connection)) {
      throw cpError('APPROVALS_ERR_FORBIDDEN', `this grant does not cover connection ${req.connection}`);
    }
    const labels = podLabels && policies.needsPodLabels(grant.identity) ? await podLabels.labelsFor(grant.identity) : undefined;
    const found = approveRule(policies.bundleFor(grant.identity, grant.connections, labels), req.rule, req.connection);
    if (!found.ok) throw cpError('APPROVALS_ERR_RULE_UNKNOWN', found.message);
    // Who may approve is the policy's say, whatever the request carries.
    return service.create(grant.identity, { ...req, approvers: found.rule.approvers ?? [] });
  });

  app.get<{ Querystring: { state?: ApprovalState; limit?: number } }>('/v1/approvals', {
    schema: {
      summary: 'Approvals, newest first (approvers)',
      tags: ['approvals'],
      security: bearerSecurity,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          state: { type: 'string', enum: APPROVAL_STATES },
          limit: { type: 'integer', minimum: 1, maximum: MAX_APPROVALS_LIMIT, default: DEFAULT_APPROVALS_LIMIT },
        },
      },
      response: { 200: { type: 'array', items: approvalSchema }, ...errorResponses(400, 401, 503) },
    },
  }, async (request): Promise<Approval[]> => {
    const viewer = await approverOf(request);
    return (await service.list(request.query.state, request.query.limit ?? DEFAULT_APPROVALS_LIMIT)).map((a) => approvalFor(a, viewer));
  });

  app.get<{ Querystring: { after?: string; timeoutSeconds?: number; limit?: number } }>('/v1/approvals/watch', {
    schema: {
      summary: 'New approval requests after a cursor, long-polled (approvers); without `after`, the pending ones and a cursor',
      tags: ['approvals'],
      security: bearerSecurity,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          after: { type: 'string', pattern: '^[0-9]{1,19}$' },
          timeoutSeconds: { type: 'integer', minimum: 0, maximum: MAX_APPROVAL_WAIT_SECONDS, default: DEFAULT_APPROVAL_WAIT_SECONDS },
          limit: { type: 'integer', minimum: 1, maximum: MAX_APPROVALS_LIMIT, default: DEFAULT_APPROVALS_LIMIT },
        },
      },
      response: {
        200: { type: 'object', required: ['approvals', 'cursor'], properties: { approvals: { type: 'array', items: approvalSchema }, cursor: { type: 'string' } } },
        ...errorResponses(400, 401, 503),
      },
    },
  }, async (request, reply): Promise<ApprovalWatchResponse> => {
    const viewer = await approverOf(request);
    const { after, timeoutSeconds = DEFAULT_APPROVAL_WAIT_SECONDS, limit = DEFAULT_APPROVALS_LIMIT } = request.query;
    const page = await service.watch(after === undefined ? undefined : BigInt(after), timeoutSeconds * 1000, limit, pollSignal(reply));
    return { ...page, approvals: page.approvals.map((a) => approvalFor(a, viewer)) };
  });

  app.get<{ Params: { id: string } }>('/v1/approvals/:id', {
    schema: {
      summary: 'One approval (approvers, or the sidecar that asked)',
      tags: ['approvals'],
      security: bearerSecurity,
      params: approvalIdParams,
      response: { ...approvalOk, ...errorResponses(401, 403, 404, 503) },
    },
  }, async (request): Promise<Approval> => {
    const requester = await requesterOf(request);
    const viewer = requester ? undefined : await approverOf(request);
    const approval = await service.mustGet(request.params.id);
    if (!requester) return approvalFor(approval, viewer);
    assertRequester(approval, requester);
    return approval;
  });

  app.get<{ Params: { id: string }; Querystring: { timeoutSeconds?: number } }>('/v1/approvals/:id/wait', {
    schema: {
      summary: 'Wait (long-poll) until the approval is decided, expires or is withdrawn, or timeoutSeconds pass (sidecar)',
      tags: ['approvals'],
      security: bearerSecurity,
      params: approvalIdParams,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { timeoutSeconds: { type: 'integer', minimum: 0, maximum: MAX_APPROVAL_WAIT_SECONDS, default: DEFAULT_APPROVAL_WAIT_SECONDS } },
      },
      response: { ...approvalOk, ...errorResponses(400, 401, 403, 404) },
    },
  }, async (request, reply): Promise<Approval> => {
    const grant = await requireGrant(request, grants, metrics);
    assertRequester(await service.mustGet(request.params.id), grant.identity);
    const { timeoutSeconds = DEFAULT_APPROVAL_WAIT_SECONDS } = request.query;
    return service.wait(request.params.id, timeoutSeconds * 1000, pollSignal(reply));
  });

  app.post<{ Params: { id: string } }>('/v1/approvals/:id/withdraw', {
    schema: {
      summary: 'Withdraw a pending approval: the agent gave up (sidecar)',
      tags: ['approvals'],
      security: bearerSecurity,
      params: approvalIdParams,
      response: { ...approvalOk, ...errorResponses(401, 403, 404, 409) },
    },
  }, async (request): Promise<Approval> => {
    const grant = await requireGrant(request, grants, metrics);
    return service.withdraw(request.params.id, grant.identity);
  });

  app.post<{ Params: { id: string }; Body: ApprovalDecisionRequest }>('/v1/approvals/:id/decision', {
    schema: {
      summary: 'Approve or deny a pending approval (approver: OIDC ID token, or the local stack\'s admin token); deny needs a reason',
      tags: ['approvals'],
      security: bearerSecurity,
      params: approvalIdParams,
      body: approvalDecisionSchema,
      response: { ...approvalOk, ...errorResponses(400, 401, 403, 404, 409, 503) },
    },
  }, async (request): Promise<Approval> => {
    const approver = await requireApprover(request);
    const { decision, reason } = request.body;
    if (decision === 'deny' && !reason?.trim()) throw cpError('API_ERR_VALIDATION', 'a denial needs a reason: the agent is told it');
    return service.decide(request.params.id, approver, decision, reason);
  });

  /** The requesting sidecar's identity when the bearer is a valid grant; undefined otherwise. */
  async function requesterOf(request: FastifyRequest) {
    const token = bearerToken(request);
    if (!token || (adminToken !== undefined && sameSecret(token, adminToken))) return undefined;
    try {
      return (await grants.verifyGrant(token)).identity;
    } catch (err) {
      if (isChaperoneError(err)) return undefined;
      throw err;
    }
  }
};

function sameSecret(a: string, b: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
