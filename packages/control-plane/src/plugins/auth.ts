// Bearer authentication for /v1 routes: grants for sidecars, the static admin token for operators.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { isChaperoneError } from '@chaperone/core/errors';
import { cpError } from '../errors.js';
import type { GrantAuthority, GrantClaims } from '../grants.js';
import { failureReason, type ControlPlaneMetrics } from '../metrics.js';

/** The token of `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/** Verifies the request's grant; failures are counted and thrown as AUTH_ERR_*. */
export async function requireGrant(request: FastifyRequest, grants: GrantAuthority, metrics: ControlPlaneMetrics): Promise<GrantClaims> {
  const token = bearerToken(request);
  try {
    if (!token) throw cpError('AUTH_ERR_TOKEN_MISSING', 'this route needs `Authorization: Bearer <grant>` (from POST /v1/exchange)');
    return await grants.verifyGrant(token);
  } catch (err) {
    if (isChaperoneError(err)) metrics.tokenFailures.inc({ reason: failureReason(err.code) });
    throw err;
  }
}

/** When an admin token is configured, operator routes need it; without one they are open. */
export function requireAdmin(request: FastifyRequest, adminToken: string | undefined): void {
  if (adminToken === undefined) return;
  const given = bearerToken(request);
  // Compare digests so the comparison takes the same time whatever the lengths.
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  if (!given || !timingSafeEqual(digest(given), digest(adminToken))) {
    throw cpError('AUTH_ERR_ADMIN_REQUIRED', 'this route needs `Authorization: Bearer <admin token>`');
  }
}
