// The OIDC approver verifier against a real OpenID Provider (oidc-provider on loopback): claims
// mapped to name and groups; expired, foreign, wrong-audience and malformed tokens refused.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isChaperoneError } from '@chaperone/core/errors';
import { OidcApproverVerifier } from './oidc.js';
import { startTestIssuer, type TestIssuer } from './testing/oidc-issuer.js';

let idp: TestIssuer;
let foreign: TestIssuer;
const accounts = {
  alice: { email: 'alice@example.test', groups: ['dba', 'oncall'] },
  bob: { groups: ['support'] },
  // Claims someone else's address, which the IdP has not verified.
  mallory: { email: 'alice@example.test', emailVerified: false, groups: [] },
  carol: { email: 'carol@example.test', emailVerified: true, groups: [] },
};

before(async () => {
  idp = await startTestIssuer(accounts);
  foreign = await startTestIssuer(accounts, { clientId: 'chaperone-approvals' });
});
after(async () => {
  await idp?.close();
  await foreign?.close();
});

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(isChaperoneError(err), String(err));
    return err.code;
  }
  assert.fail('expected a refusal');
}

test('an ID token gives the approver: subject, name from email (else sub), groups', async () => {
  const v = new OidcApproverVerifier({ issuer: idp.issuer, audience: idp.clientId });
  assert.deepEqual(await v.verify(await idp.idToken('alice')), {
    kind: 'oidc', subject: `oidc:${idp.issuer}#alice`, sub: 'alice', name: 'alice@example.test', groups: ['dba', 'oncall'],
  });
  const bob = await v.verify(await idp.idToken('bob'));
  assert.equal(bob.name, 'bob');
  assert.deepEqual(bob.kind === 'oidc' && bob.groups, ['support']);
});

test('the claims for name and groups are configurable', async () => {
  const v = new OidcApproverVerifier({ issuer: idp.issuer, audience: idp.clientId, usernameClaim: 'sub', groupsClaim: 'roles' });
  const alice = await v.verify(await idp.idToken('alice'));
  assert.equal(alice.name, 'alice');
  assert.deepEqual(alice.kind === 'oidc' && alice.groups, []);
});

test('expired, foreign-issuer, wrong-audience and malformed tokens are refused', async () => {
  const token = await idp.idToken('alice');
  const later = new OidcApproverVerifier({ issuer: idp.issuer, audience: idp.clientId, clock: () => new Date(Date.now() + 2 * 3600_000) });
  assert.equal(await refusal(later.verify(token)), 'AUTH_ERR_TOKEN_EXPIRED');
  const v = new OidcApproverVerifier({ issuer: idp.issuer, audience: idp.clientId });
  // Same client id, same accounts, another issuer with its own keys.
  assert.equal(await refusal(v.verify(await foreign.idToken('alice'))), 'AUTH_ERR_TOKEN_INVALID');
  const otherClient = new OidcApproverVerifier({ issuer: idp.issuer, audience: 'some-other-client' });
  assert.equal(await refusal(otherClient.verify(token)), 'AUTH_ERR_TOKEN_AUDIENCE');
  assert.equal(await refusal(v.verify('not-a-jwt')), 'AUTH_ERR_TOKEN_MALFORMED');
  const [h, p] = token.split('.');
  assert.equal(await refusal(v.verify(`${h}.${p}.${'A'.repeat(342)}`)), 'AUTH_ERR_TOKEN_INVALID');
});

test('an issuer that cannot be discovered is a 503-class refusal, retried on the next call', async () => {
  const gone = await startTestIssuer(accounts);
  const token = await gone.idToken('alice');
  await gone.close();
  const v = new OidcApproverVerifier({ issuer: gone.issuer, audience: gone.clientId });
  assert.equal(await refusal(v.verify(token)), 'APPROVALS_ERR_OIDC_UNAVAILABLE');
  const mislabelled = new OidcApproverVerifier({ issuer: `${idp.issuer}/`, audience: idp.clientId });
  assert.equal(await refusal(mislabelled.verify(token)), 'APPROVALS_ERR_OIDC_UNAVAILABLE');
});

test('an unverified e-mail address does not name the approver (it could match a user: entry); a verified one does', async () => {
  const v = new OidcApproverVerifier({ issuer: idp.issuer, audience: idp.clientId });
  const mallory = await v.verify(await idp.idToken('mallory'));
  assert.equal(mallory.name, 'mallory');
  assert.equal((await v.verify(await idp.idToken('carol'))).name, 'carol@example.test');
});
