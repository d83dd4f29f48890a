// The `make tools` binaries work together: etcd + kube-apiserver start with the harness's flags,
// kubectl reads and writes, helm talks to the server, and a pod without a ServiceAccount
// controller can be created (the ServiceAccount admission plugin is off; see harness/kube.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../harness/postgres.js';
import { startKubeApiServer, type KubeApiServer } from '../harness/kube.js';
import { toolPath, toolVersion } from '../harness/tools.js';

let kube: KubeApiServer;
before(async () => { kube = await startKubeApiServer(); });
after(async () => { await kube?.stop(); });

test('the server reports the pinned version and its default namespaces', async () => {
  const version = await kube.kubectl(['version', '-o', 'json']);
  assert.equal(version.code, 0, version.stderr);
  const server = (JSON.parse(version.stdout) as { serverVersion?: { gitVersion?: string } }).serverVersion;
  assert.equal(server?.gitVersion, toolVersion('kube-apiserver'));
  const ns = await kube.kubectl(['get', 'ns', '-o', 'name']);
  assert.equal(ns.code, 0, ns.stderr);
  for (const name of ['default', 'kube-system', 'kube-public']) assert.match(ns.stdout, new RegExp(`^namespace/${name}$`, 'm'));
});

test('kubectl creates a namespace, a service account and a pod that stays Pending', async () => {
  assert.equal((await kube.kubectl(['create', 'ns', 'smoke'])).code, 0);
  assert.equal((await kube.kubectl(['-n', 'smoke', 'create', 'serviceaccount', 'agent'])).code, 0);
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'smoke' }, spec: { serviceAccountName: 'agent', containers: [{ name: 'c', image: 'busybox' }] } };
  const created = await kube.kubectl(['create', '-f', '-'], { input: JSON.stringify(pod) });
  assert.equal(created.code, 0, created.stderr);
  const phase = await kube.kubectl(['-n', 'smoke', 'get', 'pod', 'p', '-o', 'jsonpath={.status.phase}']);
  assert.equal(phase.stdout, 'Pending');
});

test('helm lists releases against the server', async () => {
  const helm = await run(toolPath('helm'), ['--kubeconfig', kube.kubeconfigPath, 'list', '--all-namespaces', '-o', 'json']);
  assert.equal(helm.code, 0, helm.stderr);
  assert.deepEqual(JSON.parse(helm.stdout), []);
});
