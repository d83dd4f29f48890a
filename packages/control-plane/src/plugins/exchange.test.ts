// POST /v1/exchange and POST /v1/dev/tokens against a real store: the happy path and each refusal.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ExchangeResponse } from '@chaperone/core/api';
import { loadMaskKey } from '../mask-key.js';
import { startTestPostgres, type TestPostgres } from '../testing/embedded.js';
import { buildTestApp, sampleDocs, type TestApp } from '../testing/app.js';

const bot = { namespace: 'agents', serviceAccount: 'support-bot' };
let pg: TestPostgres;
let t: TestApp;

before(async () => {
  pg = await startTestPostgres();
  t = await buildTestApp(pg.url, { docs: sampleDocs(), secrets: { 'orders-db-admin': { username: 'orders_admin', password: 's3cret' } } });
});
after(async () => {
  await t?.close();
  await pg?.cleanup();
});

async function exchange(payload: unknown) {
  return t.app.inject({ method: 'POST', url: '/v1/exchange', payload: payload as Record<string, unknown> });
}

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const metric = await t.metrics.registry.getSingleMetric(name)?.get();
  const v = metric?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

describe('exchange', () => {
  test('a valid token gets a grant, its bundle and the credentials of its connections', async () => {
    const { token } = await t.issuer.issue(bot);
    const res = await exchange({ token });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as ExchangeResponse;
    assert.deepEqual(body.identity, bot);
    assert.match(body.bundle.version, /^[0-9a-f]{64}$/);
    assert.deepEqual(body.bundle.connections.map((c) => c.metadata.name), ['orders-db']);
    assert.deepEqual(body.bundle.policies.map((p) => p.metadata.name), ['support-agents']);
    assert.deepEqual(body.bundle.policies[0], sampleDocs()[1]);
    assert.deepEqual(body.credentials, { 'orders-db': { type: 'password', username: 'orders_admin', password: 's3cret' } });
    const claims = await t.grants.verifyGrant(body.grant);
    assert.deepEqual(claims.identity, bot);
    assert.equal(claims.connections, undefined);
    assert.equal(claims.expiresAt.toISOString(), body.expiresAt);
    assert.equal(await metricValue('chaperone_controlplane_exchanges_total', { result: 'ok' }), 1);
    // The hash mask key: always sent, the store's one, the same on every exchange.
    assert.deepEqual(Buffer.from(body.maskKey, 'base64'), await loadMaskKey(t.store));
  });

  test('the same documents give the same bundle version; a connection filter narrows the bundle', async () => {
    const { token } = await t.issuer.issue(bot);
    const a = (await exchange({ token })).json() as ExchangeResponse;
    const b = (await exchange({ token })).json() as ExchangeResponse;
    assert.equal(a.bundle.version, b.bundle.version);
    const res = await exchange({ token, connections: ['billing-db'] });
    assert.equal(res.statusCode, 200);
    const narrowed = res.json() as ExchangeResponse;
    assert.deepEqual(narrowed.bundle.connections, []);
    assert.deepEqual(narrowed.credentials, {});
    assert.notEqual(narrowed.bundle.version, a.bundle.version);
    assert.deepEqual((await t.grants.verifyGrant(narrowed.grant)).connections, ['billing-db']);
  });

  test('a wildcard subject name matches every service account of the namespace', async () => {
    const docs = sampleDocs({ name: '*' });
    await t.setDocs(docs);
    try {
      const { token } = await t.issuer.issue({ namespace: 'agents', serviceAccount: 'someone-else' });
      assert.equal((await exchange({ token })).statusCode, 200);
    } finally {
      await t.setDocs(sampleDocs());
    }
  });

  const refusals: { name: string; token: () => Promise<string>; status: number; code: string; reason?: string }[] = [
    { name: 'not a JWT', token: async () => 'not-a-jwt', status: 401, code: 'AUTH_ERR_TOKEN_MALFORMED', reason: 'malformed' },
    {
      name: 'a tampered signature',
      token: async () => {
        const { token } = await t.issuer.issue(bot);
        const [h, p, s] = token.split('.');
        return `${h}.${p}.${s!.slice(0, -4)}${s!.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
      },
      status: 401, code: 'AUTH_ERR_TOKEN_INVALID', reason: 'invalid',
    },
    {
      name: 'an expired token',
      token: async () => (await t.issuer.issue(bot, { ttlSeconds: 60, now: new Date(Date.now() - 3600_000) })).token,
      status: 401, code: 'AUTH_ERR_TOKEN_EXPIRED', reason: 'expired',
    },
    {
      name: 'a token for another audience',
      token: async () => (await t.issuer.issue(bot, { audience: 'kubernetes' })).token,
      status: 401, code: 'AUTH_ERR_TOKEN_AUDIENCE', reason: 'audience',
    },
    {
      name: 'our own grant instead of a service-account token',
      token: async () => (await t.grants.issueGrant(bot)).grant,
      status: 401, code: 'AUTH_ERR_TOKEN_INVALID',
    },
    {
      name: 'an identity no policy names',
      token: async () => (await t.issuer.issue({ namespace: 'agents', serviceAccount: 'intruder' })).token,
      status: 403, code: 'EXCHANGE_ERR_NO_POLICY',
    },
  ];
  for (const r of refusals) {
    test(`refuses ${r.name} with ${r.code}`, async () => {
      const before = r.reason ? await metricValue('chaperone_controlplane_token_failures_total', { reason: r.reason }) : 0;
      const res = await exchange({ token: await r.token() });
      assert.equal(res.statusCode, r.status, res.body);
      assert.equal((res.json() as { error: { code: string } }).error.code, r.code);
      if (r.reason) assert.equal(await metricValue('chaperone_controlplane_token_failures_total', { reason: r.reason }), before + 1);
    });
  }

  test('a connection whose secret no source holds fails the exchange with 503', async () => {
    await t.setDocs(sampleDocs({ secret: 'nowhere' }));
    try {
      const { token } = await t.issuer.issue(bot);
      const res = await exchange({ token });
      assert.equal(res.statusCode, 503);
      assert.equal((res.json() as { error: { code: string } }).error.code, 'EXCHANGE_ERR_CREDENTIAL_MISSING');
    } finally {
      await t.setDocs(sampleDocs());
    }
  });

  test('malformed bodies are 400 API_ERR_VALIDATION', async () => {
    for (const payload of [{}, { token: '' }, { token: 'x', connections: [{}] }, { token: { a: 1 } }]) {
      const res = await exchange(payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.equal((res.json() as { error: { code: string } }).error.code, 'API_ERR_VALIDATION');
    }
    const res = await t.app.inject({ method: 'POST', url: '/v1/exchange', headers: { 'content-type': 'application/json' }, payload: '{"token":' });
    assert.equal(res.statusCode, 400);
    assert.equal((res.json() as { error: { code: string } }).error.code, 'API_ERR_BAD_REQUEST');
  });
});

describe('dev tokens', () => {
  test('POST /v1/dev/tokens issues a token the exchange accepts', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/dev/tokens', payload: { namespace: 'agents', serviceAccount: 'support-bot', ttlSeconds: 120 } });
    assert.equal(res.statusCode, 200, res.body);
    const { token, expiresAt } = res.json() as { token: string; expiresAt: string };
    const ttl = (Date.parse(expiresAt) - Date.now()) / 1000;
    assert.ok(ttl > 0 && ttl <= 120, `ttl ${ttl}`);
    assert.deepEqual(await t.issuer.verify(token), bot);
    assert.equal((await exchange({ token })).statusCode, 200);
  });

  test('names that are not Kubernetes names are refused', async () => {
    for (const payload of [{ namespace: 'Agents', serviceAccount: 'x' }, { namespace: 'a', serviceAccount: 'a:b' }, { namespace: 'a', serviceAccount: 'b', ttlSeconds: 0 }]) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/dev/tokens', payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
    }
  });
});
