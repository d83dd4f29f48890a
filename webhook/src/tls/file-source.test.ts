// The file source on a real folder laid out like a mounted Secret (the kubelet's `..data` symlink swap).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isChaperoneError } from '@chaperone/core/errors';
import { generateCa, issueServingCertificate } from './generate.js';
import type { ServingCertificate } from './source.js';
import { startFileSource } from './file-source.js';

/** Writes a new `..<n>` folder and swaps `..data` to it atomically, as the kubelet's AtomicWriter does. */
function publish(dir: string, n: number, files: Record<string, string>): void {
  const ts = join(dir, `..${n}`);
  mkdirSync(ts);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(ts, name), text);
  symlinkSync(`..${n}`, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const name of Object.keys(files)) {
    try { symlinkSync(join('..data', name), join(dir, name)); } catch { /* already linked */ }
  }
}

async function pair(): Promise<ServingCertificate> {
  const ca = await generateCa();
  return issueServingCertificate(ca, { dnsNames: ['hook.ns.svc'] });
}

test('reads a mounted Secret and follows a ..data swap through fs.watch', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chaperone-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = await pair();
  publish(dir, 1, { 'tls.crt': a.cert, 'tls.key': a.key, 'ca.crt': a.ca });
  // A poll interval far beyond the test: the change must arrive through the folder watch.
  const source = await startFileSource({ dir, pollIntervalMs: 3_600_000 });
  t.after(() => source.close());
  assert.equal(source.current().cert, a.cert);
  assert.equal(source.current().ca, a.ca);
  assert.deepEqual(source.current().notAfter, a.notAfter);

  const b = await pair();
  const rotated = new Promise<ServingCertificate>((resolve) => source.onRotate(resolve));
  publish(dir, 2, { 'tls.crt': b.cert, 'tls.key': b.key, 'ca.crt': b.ca });
  assert.equal((await rotated).cert, b.cert);
  assert.equal(source.current().key, b.key);
});

test('the poll picks up a change when no watch event comes, and a mismatched pair is ignored', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chaperone-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const certDir = join(dir, 'certs');
  mkdirSync(certDir);
  const a = await pair();
  writeFileSync(join(certDir, 'tls.crt'), a.cert);
  writeFileSync(join(certDir, 'tls.key'), a.key);
  // No ca.crt: allowed, ca is ''.
  const source = await startFileSource({ dir: certDir, pollIntervalMs: 200 });
  t.after(() => source.close());
  assert.equal(source.current().ca, '');
  const seen: ServingCertificate[] = [];
  source.onRotate((c) => seen.push(c));

  // Half an update: a new certificate with the old key. It must never be served.
  const b = await pair();
  writeFileSync(join(certDir, 'tls.crt'), b.cert);
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(source.current().cert, a.cert);
  assert.equal(seen.length, 0);

  // Replace the whole folder (a new inode: fs.watch on the old one sees nothing); the poll finds it.
  const next = join(dir, 'next');
  mkdirSync(next);
  writeFileSync(join(next, 'tls.crt'), b.cert);
  writeFileSync(join(next, 'tls.key'), b.key);
  rmSync(certDir, { recursive: true });
  renameSync(next, certDir);
  while (seen.length === 0) await new Promise((r) => setTimeout(r, 100));
  assert.equal(seen[0]?.cert, b.cert);
  assert.equal(source.current().key, b.key);
});

test('start fails with a code when the files are missing or do not belong together', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chaperone-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await assert.rejects(startFileSource({ dir }), (err) => isChaperoneError(err, 'WEBHOOK_ERR_TLS_FILES') && /tls\.crt missing/.test(err.message));
  const a = await pair();
  const b = await pair();
  writeFileSync(join(dir, 'tls.crt'), a.cert);
  writeFileSync(join(dir, 'tls.key'), b.key);
  await assert.rejects(startFileSource({ dir }), (err) => isChaperoneError(err, 'WEBHOOK_ERR_TLS_FILES') && /does not match/.test(err.message));
});

test('a listener that throws does not stop the others', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chaperone-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = await pair();
  writeFileSync(join(dir, 'tls.crt'), a.cert);
  writeFileSync(join(dir, 'tls.key'), a.key);
  const errors: unknown[] = [];
  const source = await startFileSource({ dir, pollIntervalMs: 100, logger: { info() {}, warn() {}, error: (o) => errors.push(o) } });
  t.after(() => source.close());
  source.onRotate(() => { throw new Error('boom'); });
  const second = new Promise<ServingCertificate>((resolve) => source.onRotate(resolve));
  const b = await pair();
  writeFileSync(join(dir, 'tls.key'), b.key);
  writeFileSync(join(dir, 'tls.crt'), b.cert);
  assert.equal((await second).cert, b.cert);
  assert.equal(errors.length, 1);
});
