// Credential sources: static maps, YAML/JSON files read on every lookup, and chaining.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ChainedCredentialSource, CREDENTIALS_ERR_FILE, FileCredentialSource, StaticCredentialSource } from './source.js';

let dir: string;
before(async () => { dir = await mkdtemp(join(tmpdir(), 'chaperone-creds-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

test('static: by name, namespaced name first', async () => {
  const s = new StaticCredentialSource({ db: { username: 'a', password: '1' }, 'prod/db': { username: 'b', password: '2' } });
  assert.deepEqual(await s.get({ name: 'db' }), { type: 'password', username: 'a', password: '1' });
  assert.deepEqual(await s.get({ name: 'db', namespace: 'prod' }), { type: 'password', username: 'b', password: '2' });
  assert.deepEqual(await s.get({ name: 'db', namespace: 'dev' }), { type: 'password', username: 'a', password: '1' });
  assert.equal(await s.get({ name: 'nope' }), undefined);
});

test('files: YAML and JSON, re-read on every lookup', async () => {
  const yamlFile = join(dir, 'creds.yaml');
  await writeFile(yamlFile, 'orders-db-admin:\n  username: orders\n  password: one\n');
  const source = new FileCredentialSource(yamlFile);
  assert.deepEqual(await source.get({ name: 'orders-db-admin' }), { type: 'password', username: 'orders', password: 'one' });
  await writeFile(yamlFile, 'orders-db-admin: { username: orders, password: two }\n');
  assert.deepEqual(await source.get({ name: 'orders-db-admin' }), { type: 'password', username: 'orders', password: 'two' });
  const jsonFile = join(dir, 'creds.json');
  await writeFile(jsonFile, JSON.stringify({ other: { username: 'o', password: 'p' } }));
  const chain = new ChainedCredentialSource([new StaticCredentialSource({}), source, new FileCredentialSource(jsonFile)]);
  assert.deepEqual(await chain.get({ name: 'other' }), { type: 'password', username: 'o', password: 'p' });
  assert.equal(await chain.get({ name: 'missing' }), undefined);
});

test('unreadable or malformed files are CREDENTIALS_ERR_FILE', async () => {
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'db: { username: 3 }\n');
  for (const file of [bad, join(dir, 'absent.yaml')]) {
    await assert.rejects(new FileCredentialSource(file).get({ name: 'db' }), { code: CREDENTIALS_ERR_FILE });
  }
});

test('ssh-privatekey (kubernetes.io/ssh-auth) makes an ssh-key credential; a key wins over a password', async () => {
  const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n';
  const file = join(dir, 'ssh.yaml');
  await writeFile(file, JSON.stringify({ bastion: { username: 'ops', 'ssh-privatekey': key, passphrase: 'pp' }, both: { username: 'u', password: 'p', 'ssh-privatekey': key } }));
  const source = new FileCredentialSource(file);
  assert.deepEqual(await source.get({ name: 'bastion' }), { type: 'ssh-key', username: 'ops', privateKey: key, passphrase: 'pp' });
  assert.deepEqual(await new StaticCredentialSource({ both: { username: 'u', password: 'p', 'ssh-privatekey': key } }).get({ name: 'both' }), { type: 'ssh-key', username: 'u', privateKey: key });
  const keyless = join(dir, 'keyless.yaml');
  await writeFile(keyless, 'none: { username: u }\n');
  await assert.rejects(new FileCredentialSource(keyless).get({ name: 'none' }), { code: CREDENTIALS_ERR_FILE });
});
