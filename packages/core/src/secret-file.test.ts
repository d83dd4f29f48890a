import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateSecret } from './secret-file.js';

test('a secret is created once, owner-only, and read back unchanged; an empty file gets a new one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'secret-'));
  const file = join(dir, 's');
  const first = await loadOrCreateSecret(file);
  assert.match(first, /^[\w-]{32}$/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(await loadOrCreateSecret(file), first);
  writeFileSync(join(dir, 'empty'), '', { mode: 0o644 });
  assert.match(await loadOrCreateSecret(join(dir, 'empty')), /^[\w-]{32}$/);
  assert.equal(statSync(join(dir, 'empty')).mode & 0o777, 0o600);
});
