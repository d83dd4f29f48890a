// wireAgent and the service-account directory: with a Kubernetes connection the sidecar's CA volume
// is mounted read-only where in-cluster clients look, any other mount there goes, and wiring twice adds nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import jsonPatch from 'fast-json-patch';
import { wireAgent, type Obj } from './agent-wiring.js';
import { AGENT_CA_DIR, AGENT_CA_VOLUME, SERVICE_ACCOUNT_DIR, type AgentPlan } from './sidecar.js';

const KUBE: AgentPlan = { connections: [{ name: 'cluster', type: 'kubernetes', port: 6443 }] };
const PG: AgentPlan = { connections: [{ name: 'orders-db', type: 'postgres', port: 5432 }] };

/** Wires container 0 of a one-container pod and returns it. */
function wired(container: Obj, plan: AgentPlan): Obj {
  const pod = { spec: { containers: [container] } };
  const ops = wireAgent('/spec/containers/0', container, plan);
  return jsonPatch.applyPatch(jsonPatch.deepClone(pod), ops as jsonPatch.Operation[], true, false).newDocument.spec.containers[0] as Obj;
}

const mounts = (c: Obj) => (c.volumeMounts as Obj[]).map((m) => [m.name, m.mountPath, m.readOnly]);

test('a Kubernetes connection mounts the CA volume read-only at both paths, replacing the API credential', () => {
  const c = wired({ name: 'agent', volumeMounts: [{ name: 'kube-api-access-x1', mountPath: SERVICE_ACCOUNT_DIR, readOnly: true }, { name: 'data', mountPath: '/data' }] }, KUBE);
  assert.deepEqual(mounts(c), [['data', '/data', undefined], [AGENT_CA_VOLUME, AGENT_CA_DIR, true], [AGENT_CA_VOLUME, SERVICE_ACCOUNT_DIR, true]]);
  assert.deepEqual(wireAgent('/spec/containers/0', c, KUBE), [], 'wiring a wired container again adds nothing');
});

test('a writable or other-volume mount at the service-account path is replaced by ours, then stable', () => {
  for (const there of [{ name: AGENT_CA_VOLUME, mountPath: SERVICE_ACCOUNT_DIR }, { name: 'my-token', mountPath: SERVICE_ACCOUNT_DIR, readOnly: true }, { name: AGENT_CA_VOLUME, mountPath: SERVICE_ACCOUNT_DIR, readOnly: true, subPath: 'x' }]) {
    const c = wired({ name: 'agent', volumeMounts: [there] }, KUBE);
    assert.deepEqual(mounts(c), [[AGENT_CA_VOLUME, AGENT_CA_DIR, true], [AGENT_CA_VOLUME, SERVICE_ACCOUNT_DIR, true]], JSON.stringify(there));
    assert.deepEqual(wireAgent('/spec/containers/0', c, KUBE), []);
  }
});

test('without a Kubernetes connection nothing is mounted at the service-account path', () => {
  const c = wired({ name: 'agent', volumeMounts: [{ name: 'kube-api-access-x1', mountPath: SERVICE_ACCOUNT_DIR, readOnly: true }] }, PG);
  assert.deepEqual(c.volumeMounts, []);
  assert.deepEqual(wireAgent('/spec/containers/0', c, PG), []);
});
