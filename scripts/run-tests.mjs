// Runs the compiled test files with node's test runner: unit tests beside the code
// (packages/*/dist/**/*.test.js), then integration tests (test/dist/**/*.test.js).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const args = new Set(process.argv.slice(2));
const wantUnit = !args.has('--integration');
const wantIntegration = !args.has('--unit');

function findTests(dir) {
  let out = [];
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    const p = join(dir, name);
    if (name === 'node_modules') continue;
    if (statSync(p).isDirectory()) out = out.concat(findTests(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out.sort();
}

const files = [];
if (wantUnit) {
  for (const pkg of readdirSync('packages')) files.push(...findTests(join('packages', pkg, 'dist')));
  files.push(...findTests(join('webhook', 'dist')));
}
if (wantIntegration) files.push(...findTests(join('test', 'dist')));
if (files.length === 0) {
  console.error('no compiled test files found: run `make build` first');
  process.exit(1);
}
// Integration tests start real servers; run files one at a time so they do not fight for the two cores.
const r = spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
