import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** .ts beside the sources (tsx), .js in dist. */
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/**
 * Every module a file reaches through value imports (static, re-exports and dynamic; type-only
 * imports are left out, as compiled code has none), relative ones by path and packages by name.
 */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [entry];
  const importRe = /^(?!import type|export type)(?:import|export)\b[^'"]*?from\s+'([^']+)'|^import\s+'([^']+)'|import\('([^']+)'\)/gm;
  while (todo.length > 0) {
    const file = todo.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!file.startsWith('/')) continue;
    for (const m of readFileSync(file, 'utf8').matchAll(importRe)) {
      const spec = m[1] ?? m[2] ?? m[3] ?? '';
      if (!spec.startsWith('.')) { seen.add(spec); continue; }
      const path = resolve(dirname(file), spec.replace(/\.js$/, ext));
      if (existsSync(path)) todo.push(path);
    }
  }
  return seen;
}

test('deciding on a policy loads neither the document schemas nor zod (the sidecar decides, the control plane validates)', () => {
  const modules = reachable(join(here, `decide${ext}`));
  assert.ok(modules.has(join(here, `rule-terms${ext}`)), 'the walk follows imports');
  assert.ok(!modules.has(join(here, `schema${ext}`)), 'decide reaches policy/schema');
  assert.ok(![...modules].some((m) => m === 'zod' || m.startsWith('zod/')), 'decide reaches zod');
});

test('loading policy documents does reach the schemas (the walk finds what is there)', () => {
  const modules = reachable(join(here, `load${ext}`));
  assert.ok(modules.has(join(here, `schema${ext}`)));
  assert.ok(modules.has('zod'));
});
