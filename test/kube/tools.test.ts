// How the harness finds kube-apiserver, etcd, kubectl and helm: KUBEBUILDER_ASSETS, then the
// `make tools` cache keyed by the versions scripts/build-tools.sh pins. Needs no built tools.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { repoRoot, toolPath, toolVersion, toolsDir } from '../harness/tools.js';
import type { ToolName } from '../harness/tools.js';

const root = mkdtempSync(join(tmpdir(), 'chaperone-tools-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

function place(path: string, mode: number): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, mode);
  return path;
}

test('toolVersion reads the pins from build-tools.sh, and honours the same overrides', () => {
  const script = readFileSync(join(repoRoot(), 'scripts', 'build-tools.sh'), 'utf8');
  const pins: Array<[ToolName, string]> = [['kube-apiserver', 'KUBE_VERSION'], ['kubectl', 'KUBE_VERSION'], ['etcd', 'ETCD_VERSION'], ['helm', 'HELM_VERSION']];
  for (const [tool, variable] of pins) {
    const version = toolVersion(tool, {});
    assert.match(version, /^v\d+\.\d+\.\d+$/);
    assert.ok(script.includes(`${variable}=\${${variable}:-${version}}`), `${tool} ${version}`);
    assert.equal(toolVersion(tool, { [variable]: 'v9.9.9' }), 'v9.9.9');
  }
});

test('toolsDir: CHAPERONE_TOOLS_DIR, else XDG_CACHE_HOME, like the script', () => {
  assert.equal(toolsDir({ CHAPERONE_TOOLS_DIR: '/x/tools', XDG_CACHE_HOME: '/y' }), '/x/tools');
  assert.equal(toolsDir({ XDG_CACHE_HOME: '/y' }), '/y/chaperone/tools');
});

test('the cache is found by tool and version', () => {
  const env = { XDG_CACHE_HOME: join(root, 'cache'), HELM_VERSION: 'v3.0.1' };
  const helm = place(join(root, 'cache', 'chaperone', 'tools', 'helm-v3.0.1', 'helm'), 0o755);
  assert.equal(toolPath('helm', env), helm);
  // Another version of the same tool is not this one.
  assert.throws(() => toolPath('helm', { ...env, HELM_VERSION: 'v3.0.2' }), /helm-v3\.0\.2\/helm\): run `make tools`/);
});

test('KUBEBUILDER_ASSETS comes first for the envtest tools, never for helm', () => {
  const assets = join(root, 'assets');
  const cache = join(root, 'cache2');
  const env = { KUBEBUILDER_ASSETS: assets, CHAPERONE_TOOLS_DIR: cache, KUBE_VERSION: 'v1.0.0', HELM_VERSION: 'v3.0.0' };
  const fromAssets = place(join(assets, 'kube-apiserver'), 0o755);
  place(join(cache, 'kube-apiserver-v1.0.0', 'kube-apiserver'), 0o755);
  assert.equal(toolPath('kube-apiserver', env), fromAssets);
  place(join(assets, 'helm'), 0o755);
  assert.throws(() => toolPath('helm', env), (err: Error) => !err.message.includes(assets) && /run `make tools`/.test(err.message));
});

test('a missing or non-executable binary fails with how to get it', () => {
  const env = { KUBEBUILDER_ASSETS: join(root, 'assets3'), CHAPERONE_TOOLS_DIR: join(root, 'cache3'), ETCD_VERSION: 'v3.0.0' };
  place(join(root, 'assets3', 'etcd'), 0o644);
  assert.throws(() => toolPath('etcd', env), (err: Error) =>
    err.message === `etcd not found (looked in ${join(root, 'assets3', 'etcd')}, ${join(root, 'cache3', 'etcd-v3.0.0', 'etcd')}): run \`make tools\``);
});
