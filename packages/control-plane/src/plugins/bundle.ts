// GET /v1/bundle: the sidecar's policy bundle, long-polled so updates arrive without a restart.
import type { FastifyPluginAsync } from 'fastify';
import type { PolicyBundle } from '@chaperone/core/policy/types';
import { isChaperoneError } from '@chaperone/core/errors';
import { cpError } from '../errors.js';
import type { GrantAuthority } from '../grants.js';
import type { PodLabelSource } from '../identity/pod-labels.js';
import { failureReason, type ControlPlaneMetrics } from '../metrics.js';
import type { PolicyState } from '../policies/state.js';
import { requireGrant } from './auth.js';
import { bearerSecurity, bundleSchema, errorResponses } from './schemas.js';

export interface BundleOptions {
  policies: PolicyState;
  grants: GrantAuthority;
  metrics: ControlPlaneMetrics;
  /** Aborted when the app closes, so waiting polls answer instead of holding shutdown. */
  shutdown: AbortSignal;
  /** As for exchange: the caller's pod labels when a policy selects pods. */
  podLabels?: PodLabelSource;
}

export const DEFAULT_WAIT_SECONDS = 30;
export const MAX_WAIT_SECONDS = 300;

export const bundlePlugin: FastifyPluginAsync<BundleOptions> = async (app, opts) => {
  const { policies, grants, metrics, shutdown, podLabels } = opts;

  app.get<{ Querystring: { version?: string; wait?: number } }>('/v1/bundle', {
    schema: {
      summary: 'The caller\'s policy bundle; waits up to `wait` seconds while it equals `version`',
      tags: ['sidecar'],
      security: bearerSecurity,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          version: { type: 'string', description: 'the bundle version the caller has' },
          wait: { type: 'integer', minimum: 0, maximum: MAX_WAIT_SECONDS, default: DEFAULT_WAIT_SECONDS },
        },
      },
      response: {
        200: bundleSchema,
        304: { type: 'null', description: 'unchanged: the caller\'s version is current' },
        ...errorResponses(400, 401, 403),
      },
    },
  }, async (request, reply): Promise<PolicyBundle | undefined> => {
    const grant = await requireGrant(request, grants, metrics);
    let labels;
    try {
      labels = podLabels && policies.needsPodLabels(grant.identity) ? await podLabels.labelsFor(grant.identity) : undefined;
    } catch (err) {
      if (isChaperoneError(err)) metrics.tokenFailures.inc({ reason: failureReason(err.code) });
      throw err;
    }
    const { version, wait = DEFAULT_WAIT_SECONDS } = request.query;
    const deadline = Date.now() + wait * 1000;
    // Stop waiting when the client goes away or the app shuts down.
    const gone = new AbortController();
    reply.raw.once('close', () => gone.abort());
    const signal = AbortSignal.any([gone.signal, shutdown]);
    for (;;) {
      const generation = policies.generation;
      const bundle = policies.bundleFor(grant.identity, grant.connections, labels);
      if (!bundle) throw cpError('EXCHANGE_ERR_NO_POLICY', 'no AccessPolicy names this grant\'s service account any more');
      if (bundle.version !== version) return bundle;
      const outcome = await policies.waitForChange(generation, deadline - Date.now(), signal);
      if (outcome !== 'changed') break;
    }
    void reply.code(304);
    return undefined;
  });
};
