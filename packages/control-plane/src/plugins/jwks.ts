// The public keys grants are signed with, for anyone who verifies grants (JWKS, RFC 7517).
import type { FastifyPluginAsync } from 'fastify';
import type { GrantAuthority } from '../grants.js';

const jwksSchema = {
  type: 'object',
  required: ['keys'],
  properties: { keys: { type: 'array', items: { type: 'object', additionalProperties: true } } },
} as const;

export const jwksPlugin: FastifyPluginAsync<{ grants: GrantAuthority }> = async (app, { grants }) => {
  for (const url of ['/v1/jwks', '/.well-known/jwks.json']) {
    app.get(url, {
      schema: { summary: 'JSON Web Key Set of the grant signing keys', tags: ['keys'], response: { 200: jwksSchema } },
    }, async (_request, reply) => {
      void reply.header('cache-control', 'public, max-age=300');
      return grants.jwks();
    });
  }
};
