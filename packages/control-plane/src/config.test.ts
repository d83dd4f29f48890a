// Configuration parsing: defaults, durations and refusals as values.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultDataDir, parseControlPlaneConfig, parseDurationSeconds } from './config.js';

test('an empty configuration gets the local-stack defaults', () => {
  const r = parseControlPlaneConfig({});
  assert.ok(r.ok);
  assert.deepEqual(r.config.listen, { host: '127.0.0.1', port: 7443 });
  assert.equal(r.config.grantTtl, 900);
  assert.equal(r.config.devIssuer, false);
  assert.equal(r.config.databaseUrl, undefined);
  assert.equal(r.config.tls, undefined);
  assert.equal(r.config.bodyLimitBytes, 8 * 1024 * 1024);
  assert.deepEqual(r.config.credentials, { static: {}, files: [] });
  assert.equal(r.config.identity.mode, 'dev');
});

test('the data dir follows XDG_DATA_HOME, else HOME (or /var/lib/chaperone as root)', () => {
  assert.equal(defaultDataDir({ XDG_DATA_HOME: '/x/share' }), '/x/share/chaperone/control-plane');
  const want = process.getuid?.() === 0 ? '/var/lib/chaperone/control-plane' : join('/h', '.local', 'share', 'chaperone', 'control-plane');
  assert.equal(defaultDataDir({ HOME: '/h' }), want);
});

test('durations', () => {
  const table: [string | number, number | undefined][] = [
    ['15m', 900], ['30s', 30], ['1h', 3600], ['500ms', 0.5], ['90', 90], [120, 120],
    ['', undefined], ['15 minutes', undefined], ['-1m', undefined], [0, undefined], ['0s', undefined], [Number.NaN, undefined],
  ];
  for (const [input, want] of table) assert.equal(parseDurationSeconds(input), want, String(input));
  const r = parseControlPlaneConfig({ grantTtl: '1h' });
  assert.ok(r.ok && r.config.grantTtl === 3600);
});

test('malformed configuration is a value naming each bad field', () => {
  const r = parseControlPlaneConfig({ listen: { port: -1 }, tls: { certFile: 'c' }, adminToken: 'short', credentials: { static: { x: { password: 'p' } } } });
  assert.equal(r.ok, false);
  if (r.ok) return;
  for (const field of ['listen.port', 'tls.keyFile', 'adminToken', 'credentials.static.x.username']) assert.match(r.error, new RegExp(field.replace(/\./g, '\\.')), field);
});

test('identity: dev by default; tokenreview and jwks with their options; bad combinations named', () => {
  const d = parseControlPlaneConfig({});
  assert.ok(d.ok);
  assert.deepEqual(d.config.identity, { mode: 'dev', audience: 'chaperone', podLabelTtl: 10 });
  const tr = parseControlPlaneConfig({ identity: { mode: 'tokenreview', kubeconfig: '/k' }, credentials: { kubernetes: { namespace: 'cp' } } });
  assert.ok(tr.ok && tr.config.identity.mode === 'tokenreview' && tr.config.credentials.kubernetes?.namespace === 'cp');
  const jw = parseControlPlaneConfig({ identity: { mode: 'jwks', jwksUrl: 'https://issuer.example/openid/v1/jwks', issuer: 'https://issuer.example', podLabelTtl: '1m' } });
  assert.ok(jw.ok && jw.config.identity.podLabelTtl === 60);
  const refused: [unknown, string][] = [
    [{ identity: { mode: 'oidc' } }, 'identity.mode'],
    [{ identity: { mode: 'tokenreview', issuer: 'x' } }, 'identity.issuer: issuer is only for mode jwks'],
    [{ identity: { mode: 'jwks', jwksUrl: 'https://i/jwks' } }, 'identity.issuer: jwksUrl and jwksFile need the issuer'],
    [{ identity: { mode: 'jwks', jwksUrl: 'ftp://i/jwks', issuer: 'i' } }, 'identity.jwksUrl: must be an http(s) URL'],
    [{ identity: { mode: 'jwks', jwksUrl: 'https://i/jwks', jwksFile: '/f', issuer: 'i' } }, 'identity.jwksFile: give jwksUrl or jwksFile, not both'],
    [{ devIssuer: true, identity: { mode: 'tokenreview' } }, 'devIssuer: devIssuer needs identity.mode dev'],
  ];
  for (const [input, want] of refused) {
    const r = parseControlPlaneConfig(input);
    assert.ok(!r.ok, JSON.stringify(input));
    assert.ok(r.error.includes(want), `${r.error} names ${want}`);
  }
});
