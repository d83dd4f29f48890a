// Smoke check of the `make tools` binaries: etcd + kube-apiserver start, kubectl lists and creates
// namespaces, helm talks to the server. Run: node --conditions=source --import tsx test/kube/smoke.kube.ts
//
// Not a `*.test.ts` on purpose: `make test` does not build the tools yet, so the runner must not
// pick this up. Once `make test` depends on `make tools`, this becomes test/kube/smoke.test.ts
// (the steps below turn into `test(...)` cases unchanged).
import assert from 'node:assert/strict';
import { run } from '../harness/postgres.js';
import { startKubeApiServer } from '../harness/kube.js';
import { toolPath, toolVersion } from '../harness/tools.js';

/** Runs one step and says how long it took (this is a smoke run; timings are for the reader). */
async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t = Date.now();
  const out = await fn();
  console.log(`  ${name}: ${Date.now() - t} ms`);
  return out;
}

async function main(): Promise<void> {
  const started = Date.now();
  const kube = await startKubeApiServer();
  console.log(`kube-apiserver ready at ${kube.url} in ${Date.now() - started} ms (kubeconfig ${kube.kubeconfigPath})`);
  try {
    const version = await step('kubectl version', () => kube.kubectl(['version', '-o', 'json']));
    assert.equal(version.code, 0, version.stderr);
    const server = (JSON.parse(version.stdout) as { serverVersion?: { gitVersion?: string } }).serverVersion;
    assert.equal(server?.gitVersion, toolVersion('kube-apiserver'));

    const before = await step('kubectl get ns', () => kube.kubectl(['get', 'ns', '-o', 'name']));
    assert.equal(before.code, 0, before.stderr);
    // No controller-manager runs, but the apiserver itself creates these at start-up.
    for (const ns of ['default', 'kube-system', 'kube-public']) assert.match(before.stdout, new RegExp(`^namespace/${ns}$`, 'm'));
    assert.doesNotMatch(before.stdout, /^namespace\/x$/m);

    const created = await step('kubectl create ns x', () => kube.kubectl(['create', 'ns', 'x']));
    assert.equal(created.code, 0, created.stderr);
    const after = await step('kubectl get ns x', () => kube.kubectl(['get', 'ns', 'x', '-o', 'jsonpath={.metadata.name} {.status.phase}']));
    assert.equal(after.code, 0, after.stderr);
    assert.equal(after.stdout, 'x Active');

    const helm = await step('helm list', () => run(toolPath('helm'), ['--kubeconfig', kube.kubeconfigPath, 'list', '--all-namespaces', '-o', 'json']));
    assert.equal(helm.code, 0, helm.stderr);
    assert.deepEqual(JSON.parse(helm.stdout), []);
    console.log('smoke: kubectl get/create ns and helm list work');
  } finally {
    await step('stop', () => kube.stop());
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
