// POST /v1/records: batches of hash-chained session records from sidecars.
import type { FastifyPluginAsync, FastifySchema, FastifySchemaCompiler } from 'fastify';
import type { RecordsBatch, RecordsResult } from '@chaperone/core/api';
import type { GrantAuthority } from '../grants.js';
import type { ControlPlaneMetrics } from '../metrics.js';
import { recordsBodyProblem } from '../records/batch-shape.js';
import { ingestBatch } from '../records/ingest.js';
import type { Store } from '../store/store.js';
import { requireGrant } from './auth.js';
import { bearerSecurity, errorResponses, recordSchema } from './schemas.js';

export interface RecordsOptions {
  store: Store;
  grants: GrantAuthority;
  metrics: ControlPlaneMetrics;
}

export const MAX_BATCH_RECORDS = 10_000;

export const recordsPlugin: FastifyPluginAsync<RecordsOptions> = async (app, { store, grants, metrics }) => {
  // The body schema below is published as is, and checked by records/batch-shape.ts: Ajv's date-time
  // format and hash patterns cost microseconds per record, and a batch holds thousands.
  const validatorCompiler: FastifySchemaCompiler<FastifySchema> = ({ httpPart }) => {
    if (httpPart !== 'body') throw new Error(`/v1/records validates only its body, not ${httpPart}`);
    const validate: ReturnType<FastifySchemaCompiler<FastifySchema>> = (body: unknown) => {
      const problem = recordsBodyProblem(body, MAX_BATCH_RECORDS);
      validate.errors = problem ? [{ keyword: 'schema', schemaPath: '#', params: {}, ...problem }] : null;
      return problem === null;
    };
    return validate;
  };

  app.post<{ Body: RecordsBatch }>('/v1/records', {
    validatorCompiler,
    schema: {
      summary: 'Store a batch of session records (idempotent by session and seq)',
      tags: ['sidecar'],
      security: bearerSecurity,
      body: {
        type: 'object',
        required: ['records'],
        additionalProperties: false,
        properties: { records: { type: 'array', maxItems: MAX_BATCH_RECORDS, items: recordSchema } },
      },
      response: {
        200: {
          type: 'object',
          required: ['accepted', 'duplicates', 'broken'],
          properties: {
            accepted: { type: 'integer' },
            duplicates: { type: 'integer' },
            broken: {
              type: 'array',
              items: {
                type: 'object',
                required: ['session', 'seq', 'reason'],
                properties: { session: { type: 'string' }, seq: { type: 'integer' }, reason: { type: 'string' } },
              },
            },
          },
        },
        ...errorResponses(400, 401, 403, 413),
      },
    },
  }, async (request): Promise<RecordsResult> => {
    const grant = await requireGrant(request, grants, metrics);
    const result = await ingestBatch(store, grant.identity, request.body.records);
    metrics.recordsIngested.inc({ result: 'accepted' }, result.accepted);
    metrics.recordsIngested.inc({ result: 'duplicate' }, result.duplicates);
    if (result.broken.length > 0) {
      metrics.chainBreaks.inc(result.broken.length);
      request.log.warn({ broken: result.broken }, 'session record chain broken');
    }
    return result;
  });
};
