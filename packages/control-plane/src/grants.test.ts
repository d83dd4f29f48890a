// Grants: verified by anyone through the served JWKS, across restarts; refused when expired or absent.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { GrantAuthority, GRANT_AUDIENCE, GRANT_ISSUER } from './grants.js';
import { startTestPostgres, type TestPostgres } from './testing/embedded.js';
import { buildTestApp, sampleDocs, type TestApp } from './testing/app.js';

const bot = { namespace: 'agents', serviceAccount: 'support-bot' };
let pg: TestPostgres;
let t: TestApp;

before(async () => {
  pg = await startTestPostgres();
  t = await buildTestApp(pg.url, { docs: sampleDocs(), secrets: { 'orders-db-admin': { username: 'u', password: 'p' } } });
});
after(async () => {
  await t?.close();
  await pg?.cleanup();
});

test('a grant verifies against the JWKS served over HTTP', async () => {
  const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
  const grant = await t.grantFor(bot);
  const jwks = createRemoteJWKSet(new URL('/v1/jwks', url));
  const { payload, protectedHeader } = await jwtVerify(grant, jwks, { issuer: GRANT_ISSUER, audience: GRANT_AUDIENCE });
  assert.equal(payload.sub, 'system:serviceaccount:agents:support-bot');
  assert.equal(protectedHeader.alg, 'ES256');
  const wellKnown = await fetch(new URL('/.well-known/jwks.json', url));
  const v1 = await fetch(new URL('/v1/jwks', url));
  assert.deepEqual(await wellKnown.json(), await v1.json());
  const { keys } = (await (await fetch(new URL('/v1/jwks', url))).json()) as { keys: Record<string, unknown>[] };
  assert.ok(keys.length >= 1);
  for (const k of keys) assert.equal(k['d'], undefined, 'the JWKS must not carry private key material');
});

test('the signing key lives in the store: a restarted authority verifies earlier grants', async () => {
  const { grant } = await t.grants.issueGrant(bot, ['orders-db']);
  const restarted = await GrantAuthority.create(t.store, 900);
  const claims = await restarted.verifyGrant(grant);
  assert.deepEqual(claims.identity, bot);
  assert.deepEqual(claims.connections, ['orders-db']);
  assert.deepEqual(restarted.jwks(), t.grants.jwks());
});

test('an expired grant is AUTH_ERR_GRANT_EXPIRED, a dev token is not a grant', async () => {
  const { grant } = await t.grants.issueGrant(bot, undefined, new Date(Date.now() - 3600_000));
  await assert.rejects(t.grants.verifyGrant(grant), { code: 'AUTH_ERR_GRANT_EXPIRED' });
  const { token } = await t.issuer.issue(bot);
  await assert.rejects(t.grants.verifyGrant(token), { code: 'AUTH_ERR_GRANT_INVALID' });
});

test('grant-protected routes answer 401 without or with a bad bearer', async () => {
  const cases: [Record<string, string>, string][] = [
    [{}, 'AUTH_ERR_TOKEN_MISSING'],
    [{ authorization: 'Bearer nonsense' }, 'AUTH_ERR_GRANT_INVALID'],
    [{ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, 'AUTH_ERR_TOKEN_MISSING'],
  ];
  for (const [headers, code] of cases) {
    for (const [method, url] of [['GET', '/v1/bundle?wait=0'], ['POST', '/v1/records']] as const) {
      const res = await t.app.inject({ method, url, headers, ...(method === 'POST' ? { payload: { records: [] } } : {}) });
      assert.equal(res.statusCode, 401, `${method} ${url} ${JSON.stringify(headers)}`);
      assert.equal((res.json() as { error: { code: string } }).error.code, code);
    }
  }
});

test('a grant carries the pod of a pod-bound identity, so bundle refreshes can match podSelector', async () => {
  const withPod = { ...bot, pod: { name: 'agent-1', uid: '6b64d70a' } };
  assert.deepEqual((await t.grants.verifyGrant((await t.grants.issueGrant(withPod)).grant)).identity, withPod);
  assert.deepEqual((await t.grants.verifyGrant((await t.grants.issueGrant(bot)).grant)).identity, bot);
});
