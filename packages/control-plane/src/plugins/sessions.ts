// GET /v1/sessions and /v1/sessions/:id: recorded sessions for operators.
import type { FastifyPluginAsync } from 'fastify';
import type { SessionDetail, SessionSummary } from '@chaperone/core/api';
import { cpError } from '../errors.js';
import type { Store } from '../store/store.js';
import { requireAdmin } from './auth.js';
import { bearerSecurity, errorResponses, recordSchema, sessionSummarySchema } from './schemas.js';

export interface SessionsOptions {
  store: Store;
  adminToken: string | undefined;
}

export const DEFAULT_SESSIONS_LIMIT = 50;
export const MAX_SESSIONS_LIMIT = 1000;

export const sessionsPlugin: FastifyPluginAsync<SessionsOptions> = async (app, { store, adminToken }) => {
  app.addHook('onRequest', async (request) => requireAdmin(request, adminToken));

  app.get<{ Querystring: { limit?: number; connection?: string; since?: string } }>('/v1/sessions', {
    schema: {
      summary: 'Recorded sessions, newest first',
      tags: ['sessions'],
      security: bearerSecurity,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: MAX_SESSIONS_LIMIT, default: DEFAULT_SESSIONS_LIMIT },
          connection: { type: 'string', minLength: 1 },
          since: { type: 'string', format: 'date-time', description: 'only sessions started at or after' },
        },
      },
      response: { 200: { type: 'array', items: sessionSummarySchema }, ...errorResponses(400, 401) },
    },
  }, async (request): Promise<SessionSummary[]> => {
    const { limit = DEFAULT_SESSIONS_LIMIT, connection, since } = request.query;
    return store.listSessions({ limit, connection, since: since === undefined ? undefined : new Date(since) });
  });

  app.get<{ Params: { id: string } }>('/v1/sessions/:id', {
    schema: {
      summary: 'One session with all its records',
      tags: ['sessions'],
      security: bearerSecurity,
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } },
      response: {
        200: { type: 'object', required: ['session', 'records'], properties: { session: sessionSummarySchema, records: { type: 'array', items: recordSchema } } },
        ...errorResponses(401, 404),
      },
    },
  }, async (request): Promise<SessionDetail> => {
    const session = await store.getSession(request.params.id);
    if (!session) throw cpError('SESSIONS_ERR_NOT_FOUND', `no session ${request.params.id}`);
    return { session, records: await store.listRecords(session.id) };
  });
};
