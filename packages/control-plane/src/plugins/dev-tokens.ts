// POST /v1/dev/tokens: the development issuer's tokens, standing in for projected SA tokens.
import type { FastifyPluginAsync } from 'fastify';
import type { DevTokenRequest, DevTokenResponse } from '@chaperone/core/api';
import { DEV_TOKEN_DEFAULT_TTL_SECONDS, DEV_TOKEN_MAX_TTL_SECONDS, type DevIssuer } from '../identity/dev-issuer.js';
import { errorResponses } from './schemas.js';

// Kubernetes names: DNS-1123 labels (namespaces) and subdomains (service accounts).
const NAMESPACE = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const SERVICE_ACCOUNT = '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$';

export const devTokensPlugin: FastifyPluginAsync<{ issuer: DevIssuer }> = async (app, { issuer }) => {
  app.post<{ Body: DevTokenRequest }>('/v1/dev/tokens', {
    schema: {
      summary: 'Issue a development service-account token (only with devIssuer enabled)',
      tags: ['development'],
      body: {
        type: 'object',
        required: ['namespace', 'serviceAccount'],
        additionalProperties: false,
        properties: {
          namespace: { type: 'string', pattern: NAMESPACE, maxLength: 63 },
          serviceAccount: { type: 'string', pattern: SERVICE_ACCOUNT, maxLength: 253 },
          ttlSeconds: { type: 'integer', minimum: 1, maximum: DEV_TOKEN_MAX_TTL_SECONDS, default: DEV_TOKEN_DEFAULT_TTL_SECONDS },
        },
      },
      response: {
        200: { type: 'object', required: ['token', 'expiresAt'], properties: { token: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } } },
        ...errorResponses(400),
      },
    },
  }, async (request): Promise<DevTokenResponse> => {
    const { namespace, serviceAccount, ttlSeconds } = request.body;
    const { token, expiresAt } = await issuer.issue({ namespace, serviceAccount }, { ttlSeconds });
    return { token, expiresAt: expiresAt.toISOString() };
  });
};
