// POST /v1/exchange: a sidecar trades its service-account token for a grant, its policy bundle
// and the credentials of its connections.
import type { FastifyPluginAsync } from 'fastify';
import type { Credential, ExchangeRequest, ExchangeResponse } from '@chaperone/core/api';
import { isChaperoneError } from '@chaperone/core/errors';
import type { CredentialSource } from '../credentials/source.js';
import { cpError } from '../errors.js';
import type { GrantAuthority } from '../grants.js';
import type { PodLabelSource } from '../identity/pod-labels.js';
import type { TokenVerifier } from '../identity/verifier.js';
import { failureReason, type ControlPlaneMetrics } from '../metrics.js';
import type { PolicyState } from '../policies/state.js';
import { bundleSchema, errorResponses, identitySchema } from './schemas.js';

export interface ExchangeOptions {
  verifier: TokenVerifier;
  policies: PolicyState;
  credentials: CredentialSource;
  grants: GrantAuthority;
  metrics: ControlPlaneMetrics;
  /** Reads the caller's pod labels when a policy selects pods; without it podSelector never matches. */
  podLabels?: PodLabelSource;
  /** The hash mask strategy's key (mask-key.ts), the same for every sidecar. */
  maskKey: Uint8Array;
}

const credentialSchema = {
  anyOf: [
    {
      type: 'object',
      required: ['type', 'username', 'password'],
      properties: { type: { type: 'string', enum: ['password'] }, username: { type: 'string' }, password: { type: 'string' } },
    },
    {
      type: 'object',
      required: ['type', 'token'],
      properties: { type: { type: 'string', enum: ['bearer'] }, token: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } },
    },
    {
      type: 'object',
      required: ['type', 'username', 'privateKey'],
      properties: { type: { type: 'string', enum: ['ssh-key'] }, username: { type: 'string' }, privateKey: { type: 'string' }, passphrase: { type: 'string' } },
    },
  ],
} as const;

export const exchangePlugin: FastifyPluginAsync<ExchangeOptions> = async (app, opts) => {
  const { verifier, policies, credentials, grants, metrics, podLabels } = opts;
  const maskKey = Buffer.from(opts.maskKey).toString('base64');

  app.post<{ Body: ExchangeRequest }>('/v1/exchange', {
    schema: {
      summary: 'Exchange a service-account token for a grant, a policy bundle and credentials',
      tags: ['sidecar'],
      body: {
        type: 'object',
        required: ['token'],
        additionalProperties: false,
        properties: {
          token: { type: 'string', minLength: 1 },
          connections: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'restrict to these connections' },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['grant', 'expiresAt', 'identity', 'bundle', 'credentials', 'maskKey'],
          properties: {
            grant: { type: 'string' },
            expiresAt: { type: 'string', format: 'date-time' },
            identity: identitySchema,
            bundle: bundleSchema,
            credentials: { type: 'object', additionalProperties: credentialSchema },
            maskKey: { type: 'string', description: 'key of the hash mask strategy, base64 of 32 bytes' },
          },
        },
        ...errorResponses(400, 401, 403, 503),
      },
    },
  }, async (request): Promise<ExchangeResponse> => {
    let identity, labels;
    try {
      identity = await verifier.verify(request.body.token);
      // Reading the pod also catches a pod deleted while the API server still caches its token.
      labels = podLabels && policies.needsPodLabels(identity) ? await podLabels.labelsFor(identity) : undefined;
    } catch (err) {
      metrics.exchanges.inc({ result: 'invalid_token' });
      if (isChaperoneError(err)) {
        metrics.tokenFailures.inc({ reason: failureReason(err.code) });
        request.log.warn({ code: err.code, identity }, `exchange refused: ${err.message}`);
      }
      throw err;
    }
    const bundle = policies.bundleFor(identity, request.body.connections, labels);
    if (!bundle) {
      metrics.exchanges.inc({ result: 'no_policy' });
      request.log.warn({ identity }, 'exchange refused: no AccessPolicy names this identity');
      throw cpError('EXCHANGE_ERR_NO_POLICY', `no AccessPolicy names service account ${identity.namespace}/${identity.serviceAccount}`);
    }
    const creds: Record<string, Credential> = {};
    for (const conn of bundle.connections) {
      const refs = conn.spec.credentials;
      if ('serviceAccount' in refs) {
        // kubernetes connections: a TokenRequest token for the named account (token-request-source.ts).
        try {
          if (!credentials.serviceAccountToken) throw new Error('this control plane has no Kubernetes identity to issue service-account tokens with');
          creds[conn.metadata.name] = await credentials.serviceAccountToken(refs.serviceAccount);
        } catch (err) {
          metrics.exchanges.inc({ result: 'credential_missing' });
          throw cpError('EXCHANGE_ERR_CREDENTIAL_MISSING', `credentials for connection ${conn.metadata.name}: ${(err as Error).message}`);
        }
        continue;
      }
      const ref = refs.secretRef;
      let credential: Credential | undefined;
      try {
        credential = await credentials.get(ref);
      } catch (err) {
        metrics.exchanges.inc({ result: 'credential_missing' });
        throw cpError('EXCHANGE_ERR_CREDENTIAL_MISSING', `credentials for connection ${conn.metadata.name}: ${(err as Error).message}`);
      }
      if (!credential) {
        metrics.exchanges.inc({ result: 'credential_missing' });
        throw cpError('EXCHANGE_ERR_CREDENTIAL_MISSING', `no credential source holds secret ${ref.name} of connection ${conn.metadata.name}`);
      }
      creds[conn.metadata.name] = credential;
    }
    const { grant, expiresAt } = await grants.issueGrant(identity, request.body.connections);
    metrics.exchanges.inc({ result: 'ok' });
    request.log.info({ identity, bundle: bundle.version, connections: Object.keys(creds) }, 'exchange');
    return { grant, expiresAt: expiresAt.toISOString(), identity, bundle, credentials: creds, maskKey };
  });
};
