// The hash mask key: decoded from configuration, else created once in a real store and shared.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isChaperoneError } from '@chaperone/core/errors';
import { parseControlPlaneConfig } from './config.js';
import { decodeMaskKey, loadMaskKey, MASK_KEY_BYTES } from './mask-key.js';
import { PostgresStore } from './store/postgres-store.js';
import { startTestPostgres, type TestPostgres } from './testing/embedded.js';

let pg: TestPostgres;
before(async () => { pg = await startTestPostgres(); });
after(async () => { await pg?.cleanup(); });

test('decodeMaskKey takes base64 and base64url of exactly 32 bytes', () => {
  const key = randomBytes(32);
  assert.deepEqual(decodeMaskKey(key.toString('base64')), key);
  assert.deepEqual(decodeMaskKey(` ${key.toString('base64url')}\n`), key);
  assert.equal(decodeMaskKey(randomBytes(31).toString('base64')), undefined);
  assert.equal(decodeMaskKey(randomBytes(33).toString('base64')), undefined);
  assert.equal(decodeMaskKey('not a key at all'), undefined);
  assert.equal(decodeMaskKey(''), undefined);
});

test('without configuration the key is created once in the store; concurrent replicas agree', async () => {
  const [a, b] = await Promise.all([PostgresStore.open(pg.url), PostgresStore.open(pg.url)]);
  try {
    const [ka, kb] = await Promise.all([loadMaskKey(a), loadMaskKey(b)]);
    assert.equal(ka.length, MASK_KEY_BYTES);
    assert.deepEqual(ka, kb);
    assert.deepEqual(await loadMaskKey(a), ka, 'the same key on the next start');
    assert.equal((await a.signingKeys('grant')).some((k) => k.privateJwk['kty'] === 'oct'), false, 'not among the grant keys');
  } finally {
    await a.close();
    await b.close();
  }
});

test('a configured key (inline or from a file) wins over the store; a malformed one is refused', async () => {
  const store = await PostgresStore.open(pg.url);
  const dir = mkdtempSync(join(tmpdir(), 'mask-key-'));
  try {
    const key = randomBytes(32);
    assert.deepEqual(await loadMaskKey(store, { maskKey: key.toString('base64') }), key);
    writeFileSync(join(dir, 'key'), `${key.toString('base64')}\n`);
    assert.deepEqual(await loadMaskKey(store, { maskKeyFile: join(dir, 'key') }), key);
    await assert.rejects(loadMaskKey(store, { maskKey: 'c2hvcnQ=' }), (err) => isChaperoneError(err, 'CONFIG_ERR_INVALID'));
    writeFileSync(join(dir, 'bad'), 'short\n');
    await assert.rejects(loadMaskKey(store, { maskKeyFile: join(dir, 'bad') }), (err) => isChaperoneError(err, 'CONFIG_ERR_INVALID'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await store.close();
  }
});

test('configuration: maskKey must be 32 bytes of base64; maskKey and maskKeyFile exclude each other', () => {
  const key = randomBytes(32).toString('base64');
  assert.equal(parseControlPlaneConfig({ maskKey: key }).ok, true);
  assert.equal(parseControlPlaneConfig({ maskKeyFile: '/etc/chaperone/mask-key' }).ok, true);
  const short = parseControlPlaneConfig({ maskKey: 'c2hvcnQ=' });
  assert.equal(short.ok, false);
  assert.match(short.ok ? '' : short.error, /maskKey: must be the base64 of 32 bytes/);
  const both = parseControlPlaneConfig({ maskKey: key, maskKeyFile: '/k' });
  assert.match(both.ok ? '' : both.error, /maskKeyFile: give maskKey or maskKeyFile, not both/);
});
