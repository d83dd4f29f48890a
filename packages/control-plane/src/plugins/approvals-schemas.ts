// JSON schemas of the /v1/approvals bodies (core/api.ts shapes), for validation and OpenAPI.
import { identitySchema } from './schemas.js';

export const APPROVAL_STATES = ['pending', 'approved', 'denied', 'expired', 'withdrawn'] as const;
/** Longest hold a rule may ask for (a day); the rule's own timeout is usually minutes. */
export const MAX_APPROVAL_TIMEOUT_SECONDS = 86_400;

const ruleRefSchema = {
  type: 'object',
  required: ['policy', 'rule'],
  properties: { policy: { type: 'string', maxLength: 253 }, rule: { type: 'string', minLength: 1, maxLength: 300 } },
} as const;

// No additionalProperties: false in the branches: fastify's Ajv removes additional properties, and
// would strip one branch's fields while trying another. The service keeps only the known fields.
export const heldOperationSchema = {
  oneOf: [
    {
      type: 'object', required: ['kind', 'text', 'params'],
      properties: {
        kind: { type: 'string', enum: ['sql'] },
        text: { type: 'string', maxLength: 1_048_576 },
        params: { type: 'array', items: { type: ['string', 'null'] } },
      },
    },
    {
      type: 'object', required: ['kind', 'command'],
      properties: { kind: { type: 'string', enum: ['command'] }, command: { type: 'string', maxLength: 1_048_576 } },
    },
    {
      type: 'object', required: ['kind', 'verb', 'path', 'resource'],
      properties: {
        kind: { type: 'string', enum: ['kubernetes'] },
        verb: { type: 'string' }, path: { type: 'string' }, resource: { type: 'string' },
        namespace: { type: 'string' }, name: { type: 'string' }, body: { type: 'string', maxLength: 4_194_304 },
      },
    },
  ],
} as const;

export const approvalCreateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['session', 'protocol', 'connection', 'operation', 'rule', 'approvers', 'timeoutSeconds', 'message'],
  properties: {
    session: { type: 'string', minLength: 1, maxLength: 200 },
    protocol: { type: 'string', enum: ['postgres', 'ssh', 'kubernetes'] },
    connection: { type: 'string', minLength: 1, maxLength: 253 },
    operation: heldOperationSchema,
    rule: ruleRefSchema,
    approvers: { type: 'array', maxItems: 100, items: { type: 'string', pattern: '^(group|user):.+$' } },
    timeoutSeconds: { type: 'number', exclusiveMinimum: 0, maximum: MAX_APPROVAL_TIMEOUT_SECONDS },
    message: { type: 'string', maxLength: 4096 },
  },
} as const;

const transitionSchema = {
  type: 'object',
  required: ['state', 'at', 'by'],
  properties: {
    state: { type: 'string', enum: APPROVAL_STATES },
    at: { type: 'string', format: 'date-time' },
    by: { type: 'string' },
    reason: { type: 'string' },
  },
} as const;

const nullableString = { type: ['string', 'null'] } as const;

export const approvalSchema = {
  type: 'object',
  required: ['id', 'state', 'session', 'protocol', 'connection', 'identity', 'operation', 'fingerprint', 'rule', 'approvers',
    'message', 'requestedAt', 'expiresAt', 'decidedAt', 'decidedBy', 'reason', 'history'],
  properties: {
    id: { type: 'string' },
    state: { type: 'string', enum: APPROVAL_STATES },
    session: { type: 'string' },
    protocol: { type: 'string' },
    connection: { type: 'string' },
    identity: identitySchema,
    // Serialised whole: the held operation goes back exactly as submitted.
    operation: { type: 'object', additionalProperties: true },
    fingerprint: { type: 'string', description: 'sha256 hex of the canonical JSON of {session, operation}' },
    rule: ruleRefSchema,
    approvers: { type: 'array', items: { type: 'string' } },
    message: { type: 'string' },
    requestedAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
    decidedAt: { ...nullableString, format: 'date-time' },
    decidedBy: nullableString,
    reason: nullableString,
    history: { type: 'array', items: transitionSchema },
    url: { type: 'string' },
  },
} as const;

export const approvalDecisionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['decision'],
  properties: {
    decision: { type: 'string', enum: ['approve', 'deny'] },
    reason: { type: 'string', minLength: 1, maxLength: 4096 },
  },
} as const;

export const approvalIdParams = {
  type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
} as const;
