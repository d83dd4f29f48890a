// SCRAM-SHA-256 client against the RFC 7677 test vector, plus the failure values; MD5 password hash.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { md5Password } from './auth.js';
import { scramClientFinal, scramClientFirst, scramVerifyServerFinal } from './scram.js';

// RFC 7677 section 3: user "user", password "pencil".
const NONCE = 'rOprNGfwEbeRWgbNEkqO';
const SERVER_FIRST = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const CLIENT_FINAL = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

describe('SCRAM-SHA-256 client', () => {
  it('produces the RFC 7677 client messages and accepts the server signature', () => {
    const first = scramClientFirst(NONCE, 'user');
    assert.equal(first.message, 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    const final = scramClientFinal('pencil', first, SERVER_FIRST);
    assert.ok(final.ok);
    assert.equal(final.message, CLIENT_FINAL);
    assert.deepEqual(scramVerifyServerFinal(SERVER_FINAL, final.serverSignature), { ok: true });
  });

  it('sends an empty user name by default, as libpq does', () => {
    assert.match(scramClientFirst().message, /^n,,n=,r=[A-Za-z0-9+/=]{24}$/);
  });

  const first = scramClientFirst(NONCE, 'user');
  for (const [what, serverFirst, error] of [
    ['a nonce that does not extend ours', 'r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', /nonce/],
    ['a nonce equal to ours', `r=${NONCE},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`, /nonce/],
    ['no salt', `r=${NONCE}x,i=4096`, /malformed/],
    ['a zero iteration count', `r=${NONCE}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0`, /iteration/],
    ['a server error', 'e=other-error', /server error: other-error/],
  ] as const) {
    it(`refuses a server-first-message with ${what}`, () => {
      const r = scramClientFinal('pencil', first, serverFirst);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error, error);
    });
  }

  it('refuses a wrong server signature (an impostor server)', () => {
    const final = scramClientFinal('pencil', first, SERVER_FIRST);
    assert.ok(final.ok);
    const r = scramVerifyServerFinal('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', final.serverSignature);
    assert.deepEqual(r, { ok: false, error: 'SCRAM server signature mismatch' });
  });
});

describe('MD5 password', () => {
  it('is "md5" + md5(md5(password + user) + salt)', () => {
    assert.equal(md5Password('bob', 'secret', Buffer.from([1, 2, 3, 4])), 'md5f21dfe33ff3a9e03dbc3e008251fe5cc');
  });
});
