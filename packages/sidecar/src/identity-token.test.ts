// Token sources: the file is re-read on every call (kubelet rotation), bad files are errors
// with a stable code, and the development source asks its issuer each time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isChaperoneError } from '@chaperone/core/errors';
import { devTokenSource, fileTokenSource, SIDECAR_ERR_TOKEN_UNREADABLE } from './identity-token.js';

test('the token file is read again on each call, trimmed, and a missing or empty file is an error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'token-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'token');
  const source = fileTokenSource(path);
  await assert.rejects(source(), (e) => isChaperoneError(e, SIDECAR_ERR_TOKEN_UNREADABLE) && /ENOENT/.test(e.message));
  writeFileSync(path, 'first\n');
  assert.equal(await source(), 'first');
  writeFileSync(path, 'rotated');
  assert.equal(await source(), 'rotated');
  writeFileSync(path, '  \n');
  await assert.rejects(source(), (e) => isChaperoneError(e, SIDECAR_ERR_TOKEN_UNREADABLE));
});

// The issuer here is a plain object: the real one is the control plane (another package, used
// by the integration tests), and ControlPlaneClient.devToken has its own HTTP test.
test('the development source asks the issuer for the configured identity every time', async () => {
  const asked: string[] = [];
  let n = 0;
  const source = devTokenSource({ devToken: async (req) => { asked.push(`${req.namespace}/${req.serviceAccount}`); return { token: `t${++n}`, expiresAt: '' }; } },
    { namespace: 'agents', serviceAccount: 'bot' });
  assert.equal(await source(), 't1');
  assert.equal(await source(), 't2');
  assert.deepEqual(asked, ['agents/bot', 'agents/bot']);
});
