// JSON schemas of the /v1 bodies (core/api.ts shapes): fastify validates with them and
// @fastify/swagger publishes them.
// Brings in @fastify/swagger's additions to route schemas (summary, tags, security).
import type {} from '@fastify/swagger';

export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
  },
} as const;

/** The error responses a route can give, for its schema. */
export function errorResponses(...statuses: number[]): Record<number, typeof errorSchema & { description: string }> {
  return Object.fromEntries(statuses.map((s) => [s, { ...errorSchema, description: `error (${s})` }]));
}

export const identitySchema = {
  type: 'object',
  required: ['namespace', 'serviceAccount'],
  properties: { namespace: { type: 'string' }, serviceAccount: { type: 'string' } },
} as const;

/** Policy documents travel whole; core/policy/schema.ts is their validator. */
const documentSchema = { type: 'object', additionalProperties: true } as const;

export const bundleSchema = {
  type: 'object',
  required: ['version', 'connections', 'policies'],
  properties: {
    version: { type: 'string', description: 'sha256 of the canonical JSON of connections and policies' },
    connections: { type: 'array', items: documentSchema },
    policies: { type: 'array', items: documentSchema },
  },
} as const;

const hashSchema = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;

export const recordSchema = {
  type: 'object',
  required: ['session', 'seq', 'time', 'prevHash', 'hash', 'event'],
  properties: {
    session: { type: 'string', minLength: 1, maxLength: 200 },
    seq: { type: 'integer', minimum: 0, maximum: 2147483647 },
    time: { type: 'string', format: 'date-time' },
    prevHash: hashSchema,
    hash: hashSchema,
    // Events are hashed as sent, so they are stored as sent: only the discriminant is checked here.
    event: { type: 'object', required: ['type'], properties: { type: { type: 'string' } }, additionalProperties: true },
  },
} as const;

export const sessionSummarySchema = {
  type: 'object',
  required: ['id', 'protocol', 'connection', 'identity', 'startedAt', 'endedAt', 'records', 'statements', 'denied', 'chainOk', 'chainError'],
  properties: {
    id: { type: 'string' },
    protocol: { type: 'string' },
    connection: { type: 'string' },
    identity: identitySchema,
    startedAt: { type: 'string', format: 'date-time' },
    endedAt: { type: ['string', 'null'], format: 'date-time' },
    records: { type: 'integer' },
    statements: { type: 'integer' },
    denied: { type: 'integer' },
    chainOk: { type: 'boolean' },
    chainError: { type: ['string', 'null'] },
  },
} as const;

/** /healthz and /readyz answers. */
export const checkSchema = {
  type: 'object',
  required: ['ok'],
  properties: {
    ok: { type: 'boolean' },
    checks: { type: 'object', additionalProperties: { type: 'object', properties: { ok: { type: 'boolean' }, message: { type: 'string' } } } },
  },
} as const;

export const bearerSecurity = [{ bearer: [] }];
