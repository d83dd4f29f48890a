// POST /v1/records: batches of hash-chained session records from sidecars.
import type { FastifyPluginAsync, FastifySchema, FastifySchemaCompiler } from 'fastify';
import type { RecordsBatch, RecordsResult } from '@chaperone/core/api';
import type { GrantAuthority } from '../grants.js';
import type { ControlPlaneMetrics } from '../metrics.js';
import { recordsBodyProblem } from '../records/batch-shape.js';
import { ingestRecords } from '../records/ingest.js';
import { toIngestRecord, type IngestRecord } from '../records/ingest-record.js';
import { scanRecordsBody } from '../records/records-body.js';
import type { Store } from '../store/store.js';
import { requireGrant } from './auth.js';
import { bearerSecurity, errorResponses, recordSchema } from './schemas.js';

export interface RecordsOptions {
  store: Store;
  grants: GrantAuthority;
  metrics: ControlPlaneMetrics;
}

export const MAX_BATCH_RECORDS = 10_000;

/** A body the records parser already reduced to ingestion records: valid, nothing left to check. */
class ScannedRecords {
  constructor(readonly records: IngestRecord[]) {}
}

export const recordsPlugin: FastifyPluginAsync<RecordsOptions> = async (app, { store, grants, metrics }) => {
  // The body schema below is published as is, and checked by records/batch-shape.ts: Ajv's date-time
  // format and hash patterns cost microseconds per record, and a batch holds thousands.
  const validatorCompiler: FastifySchemaCompiler<FastifySchema> = ({ httpPart }) => {
    if (httpPart !== 'body') throw new Error(`/v1/records validates only its body, not ${httpPart}`);
    const validate: ReturnType<FastifySchemaCompiler<FastifySchema>> = (body: unknown) => {
      const problem = body instanceof ScannedRecords ? null : recordsBodyProblem(body, MAX_BATCH_RECORDS);
      validate.errors = problem ? [{ keyword: 'schema', schemaPath: '#', params: {}, ...problem }] : null;
      return problem === null;
    };
    return validate;
  };

  // Bodies as the sidecar writes them are scanned record by record (records/records-body.ts);
  // every other body is parsed by fastify's own JSON parser and validated above, as before.
  // Registered here, so only this plugin's routes use it.
  const jsonParser = app.getDefaultJsonParser(app.initialConfig.onProtoPoisoning ?? 'error', app.initialConfig.onConstructorPoisoning ?? 'ignore');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, raw, done) => {
    const text = raw as string; // parseAs: 'string'
    const scanned = scanRecordsBody(text, MAX_BATCH_RECORDS);
    if (scanned.ok) done(null, new ScannedRecords(scanned.records));
    else jsonParser(request, text, done);
  });

  app.post<{ Body: RecordsBatch | ScannedRecords }>('/v1/records', {
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
    const body = request.body;
    const records = body instanceof ScannedRecords ? body.records : body.records.map((r) => toIngestRecord(r));
    const result = await ingestRecords(store, grant.identity, records);
    metrics.recordsIngested.inc({ result: 'accepted' }, result.accepted);
    metrics.recordsIngested.inc({ result: 'duplicate' }, result.duplicates);
    if (result.broken.length > 0) {
      metrics.chainBreaks.inc(result.broken.length);
      request.log.warn({ broken: result.broken }, 'session record chain broken');
    }
    return result;
  });
};
