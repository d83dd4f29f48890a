// POST /v1/exchange for a kubernetes Connection with credentials.serviceAccount: the bearer
// credential of the token source in the response, and a refusal without one. The token source
// here is an in-memory one; TokenRequestSource on a real API server is tested in test/kube.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Credential, ExchangeResponse } from '@chaperone/core/api';
import type { PolicyDoc } from '@chaperone/core/policy/types';
import type { CredentialSource, ServiceAccountRef } from '../credentials/source.js';
import { startTestPostgres, type TestPostgres } from '../testing/embedded.js';
import { buildTestApp, type TestApp } from '../testing/app.js';

const bot = { namespace: 'agents', serviceAccount: 'bot' };
const docs: PolicyDoc[] = [
  {
    apiVersion: 'chaperone.dev/v1alpha1', kind: 'Connection', metadata: { name: 'cluster' },
    spec: { type: 'kubernetes', target: { server: 'https://127.0.0.1:6443' }, credentials: { serviceAccount: { namespace: 'ops', name: 'agent-upstream', expirationSeconds: 900 } }, listen: { port: 6443 } },
  },
  {
    apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'p' },
    spec: { subjects: [{ serviceAccount: { namespace: 'agents', name: 'bot' } }], connections: ['cluster'], rules: [], default: 'allow' },
  },
];

const asked: ServiceAccountRef[] = [];
const tokens: CredentialSource = {
  get: async () => undefined,
  serviceAccountToken: async (ref) => {
    asked.push(ref);
    return { type: 'bearer', token: `token-for-${ref.name}`, expiresAt: '2030-01-01T00:00:00.000Z' };
  },
};

let pg: TestPostgres;
let withSource: TestApp;
let without: TestApp;

before(async () => {
  pg = await startTestPostgres();
  withSource = await buildTestApp(pg.url, { docs, credentialSources: [tokens] });
  without = await buildTestApp(pg.url, { docs });
});
after(async () => {
  await withSource?.close();
  await without?.close();
  await pg?.cleanup();
});

test('a serviceAccount connection gets the bearer token of the token source', async () => {
  const { token } = await withSource.issuer.issue(bot);
  const res = await withSource.app.inject({ method: 'POST', url: '/v1/exchange', payload: { token } });
  assert.equal(res.statusCode, 200, res.body);
  const credential: Credential | undefined = (res.json() as ExchangeResponse).credentials.cluster;
  assert.deepEqual(credential, { type: 'bearer', token: 'token-for-agent-upstream', expiresAt: '2030-01-01T00:00:00.000Z' });
  assert.deepEqual(asked, [{ namespace: 'ops', name: 'agent-upstream', expirationSeconds: 900 }]);
});

test('without a source that issues tokens the exchange is refused, saying why', async () => {
  const { token } = await without.issuer.issue(bot);
  const res = await without.app.inject({ method: 'POST', url: '/v1/exchange', payload: { token } });
  assert.notEqual(res.statusCode, 200);
  assert.match(res.body, /credentials for connection cluster: no credential source issues service-account tokens/);
});
