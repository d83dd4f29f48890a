// The Helm chart (charts/chaperone) on a real kube-apiserver: lint, every values variant's manifests
// accepted by a server-side dry run, the schema and template refusals, install/uninstall, and the
// RBAC it grants checked both with `auth can-i` and with the service accounts' own tokens.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicyFiles } from '@chaperone/core/policy/load';
import { loadWebhookConfigFile } from '@chaperone/webhook/config';
import { run, type RunResult } from '../harness/postgres.js';
import { startKubeApiServer, type KubeApiServer } from '../harness/kube.js';
import { repoRoot, toolPath, toolVersion } from '../harness/tools.js';

const CHART = join(repoRoot(), 'charts', 'chaperone');
const NS = 'chaperone-system';

/** A Connection whose credentials Secret the control plane must be allowed to read, and a policy
 *  with a podSelector subject (so the control plane may get pods). */
const POLICY_DOCUMENTS = [
  {
    apiVersion: 'chaperone.dev/v1alpha1', kind: 'Connection', metadata: { name: 'orders-db' },
    spec: { type: 'postgres', target: { host: 'orders-db.prod.svc', port: 5432, database: 'orders' }, credentials: { secretRef: { name: 'orders-db-admin' } }, listen: { port: 5432 } },
  },
  {
    apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'support-agents' },
    spec: {
      subjects: [{ namespace: 'agents', podSelector: { matchLabels: { team: 'support' } } }],
      connections: ['orders-db'],
      rules: [{ action: 'deny', match: { statements: ['drop', 'truncate'] }, message: 'no schema changes' }],
      default: 'allow',
    },
  },
];

/** A kubernetes Connection whose upstream credential is a TokenRequest token for a service account. */
const KUBE_CONNECTION = {
  apiVersion: 'chaperone.dev/v1alpha1', kind: 'Connection', metadata: { name: 'cluster' },
  spec: { type: 'kubernetes', target: { server: 'https://kubernetes.default.svc' }, credentials: { serviceAccount: { namespace: 'default', name: 'agent-upstream', expirationSeconds: 3600 } }, listen: { port: 6443 } },
};

const VARIANTS: Record<string, object> = {
  default: {},
  'policy documents': { controlPlane: { policy: { documents: POLICY_DOCUMENTS }, credentials: { secretNames: ['extra-creds'] } } },
  'external database, 3 replicas, TLS, admin token': {
    controlPlane: {
      replicas: 3, database: { mode: 'external', external: { secretName: 'chaperone-db', secretKey: 'url' } },
      tls: { secretName: 'chaperone-cp-tls' }, adminToken: { secretName: 'chaperone-admin' },
    },
  },
  'existing ConfigMap': { controlPlane: { policy: { existingConfigMap: 'my-policies' } } },
  'external database, 3 replicas, approvals (OIDC, notify Secret, public URL), mask key Secret': {
    controlPlane: {
      replicas: 3, database: { mode: 'external', external: { secretName: 'chaperone-db' } },
      approvals: {
        oidc: { issuer: 'https://login.example.com/realms/ops', clientId: 'chaperone-approvals', groupsClaim: 'roles', usernameClaim: 'preferred_username' },
        notify: { webhookUrlSecret: { name: 'chaperone-slack', key: 'webhook-url' } },
        publicUrl: 'https://chaperone.example.com',
      },
      maskKey: { secretName: 'chaperone-mask-key' },
    },
  },
  'kubernetes Connection tokens': {
    controlPlane: {
      policy: { documents: [...POLICY_DOCUMENTS, KUBE_CONNECTION] },
      credentials: { serviceAccounts: [{ namespace: NS, name: 'deployer' }, { namespace: 'default', name: 'reader' }, { namespace: 'default', name: 'agent-upstream' }] },
    },
  },
  'ServiceMonitor': { metrics: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } } },
  'NetworkPolicy': { networkPolicy: { enabled: true, metricsNamespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } } },
  'webhook from a cert-manager Secret, Fail, deny, jwks identity': {
    webhook: { failurePolicy: 'Fail', failureMode: 'deny', tls: { mode: 'secret', secretName: 'webhook-tls', certManagerCertificate: `${NS}/webhook` }, selector: { podLabel: false } },
    controlPlane: { identity: { mode: 'jwks', jwksUrl: 'https://kubernetes.default.svc/openid/v1/jwks', issuer: 'https://kubernetes.default.svc.cluster.local' } },
  },
};

/** A minimal Prometheus Operator CRD: enough for the API server to accept ServiceMonitor objects. */
const SERVICE_MONITOR_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition',
  metadata: { name: 'servicemonitors.monitoring.coreos.com' },
  spec: {
    group: 'monitoring.coreos.com', scope: 'Namespaced',
    names: { kind: 'ServiceMonitor', plural: 'servicemonitors', singular: 'servicemonitor', listKind: 'ServiceMonitorList' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
};

interface K8sObject { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } }

/** The parts of the rendered objects the assertions read. */
interface Container {
  image: string;
  args: string[];
  securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean; capabilities: { drop: string[] } };
  livenessProbe: { httpGet: { path: string } };
  readinessProbe: { httpGet: { path: string } };
  resources: { requests: Record<string, string> };
}
interface Deployment extends K8sObject {
  spec: {
    replicas: number;
    strategy: { type: string };
    template: { metadata: { annotations: Record<string, string> }; spec: { securityContext: { runAsNonRoot: boolean }; containers: Container[] } };
  };
}
interface Webhook {
  failurePolicy: string; sideEffects: string; admissionReviewVersions: string[]; timeoutSeconds: number; reinvocationPolicy: string;
  rules: object[];
  namespaceSelector: { matchLabels: Record<string, string>; matchExpressions: Array<{ values: string[] }> };
  objectSelector: object;
  clientConfig: { service: object };
}
interface WebhookConfiguration extends K8sObject { webhooks: Webhook[] }
interface ConfigMap extends K8sObject { data: Record<string, string> }
interface Role extends K8sObject { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }> }

let kube: KubeApiServer;
let helmBin: string;
let dir: string;

before(async () => {
  helmBin = toolPath('helm');
  dir = mkdtempSync(join(tmpdir(), 'chaperone-chart-'));
  kube = await startKubeApiServer();
  await ok(kube.kubectl(['create', 'namespace', NS]), 'create namespace');
});
after(async () => {
  await kube?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function ok(p: Promise<RunResult>, what: string): Promise<RunResult> {
  const r = await p;
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r;
}

function valuesFile(name: string, values: object): string {
  const path = join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.json`);
  writeFileSync(path, JSON.stringify(values)); // JSON is YAML
  return path;
}

function helm(args: string[]): Promise<RunResult> {
  return run(helmBin, ['--kubeconfig', kube.kubeconfigPath, ...args]);
}

/** Client-side render; --kube-version because no cluster is asked (the chart requires >= 1.29). */
function template(values: object, name = 'values'): Promise<RunResult> {
  return helm(['template', 'rel', CHART, '-n', NS, '--kube-version', toolVersion('kube-apiserver'), '-f', valuesFile(name, values)]);
}

/**
 * The API server's answer to a server-side dry-run apply: the objects as it would store them. No
 * `-n`: every namespaced object names its namespace (the release's, or an account's for TokenRequest Roles).
 */
async function dryRun(manifests: string): Promise<K8sObject[]> {
  const r = await ok(kube.kubectl(['apply', '--dry-run=server', '-o', 'json', '-f', '-'], { input: manifests }), 'server-side dry run');
  const out = JSON.parse(r.stdout) as K8sObject | { kind: 'List'; items: K8sObject[] };
  return 'items' in out ? out.items : [out as K8sObject];
}

function find<T extends K8sObject>(objects: K8sObject[], kind: T['kind'], name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `no ${kind} ${name} in ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found as T;
}

test('helm lint is clean, also with --strict, for every values variant', async () => {
  for (const [name, values] of Object.entries(VARIANTS)) {
    for (const strict of [[], ['--strict']]) {
      const r = await helm(['lint', CHART, ...strict, '--kube-version', toolVersion('kube-apiserver'), '-f', valuesFile(name, values)]);
      assert.equal(r.code, 0, `helm lint ${strict.join(' ')} (${name}):\n${r.stdout}\n${r.stderr}`);
      assert.doesNotMatch(r.stdout, /\[(WARNING|ERROR)\]/, `helm lint (${name}):\n${r.stdout}`);
    }
  }
});

test('every variant renders manifests the API server accepts (server-side dry run)', async () => {
  await ok(kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify(SERVICE_MONITOR_CRD) }), 'create ServiceMonitor CRD');
  await ok(kube.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/servicemonitors.monitoring.coreos.com']), 'CRD established');
  for (const [name, values] of Object.entries(VARIANTS)) {
    const rendered = await ok(template(values, name), `helm template (${name})`);
    const objects = await dryRun(rendered.stdout);
    for (const o of objects) {
      for (const label of ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/version', 'app.kubernetes.io/managed-by', 'helm.sh/chart']) {
        assert.ok(o.metadata.labels?.[label], `${name}: ${o.kind}/${o.metadata.name} lacks label ${label}`);
      }
    }
    const kinds = new Set(objects.map((o) => o.kind));
    assert.equal(kinds.has('ServiceMonitor'), name === 'ServiceMonitor', `${name}: ServiceMonitor only when enabled`);
    assert.equal(kinds.has('NetworkPolicy'), name === 'NetworkPolicy', `${name}: NetworkPolicy only when enabled`);
    assert.equal(kinds.has('PersistentVolumeClaim'), !name.startsWith('external database'), `${name}: a PVC only for the embedded store`);
  }
});

test('defaults: webhook registration, pod hardening, probes and scrape annotations', async () => {
  const objects = await dryRun((await ok(template({}), 'helm template')).stdout);
  const [hook] = find<WebhookConfiguration>(objects, 'MutatingWebhookConfiguration', 'rel-chaperone-webhook').webhooks;
  assert.ok(hook);
  assert.deepEqual(
    { failurePolicy: hook.failurePolicy, sideEffects: hook.sideEffects, versions: hook.admissionReviewVersions, timeout: hook.timeoutSeconds, reinvocation: hook.reinvocationPolicy },
    { failurePolicy: 'Ignore', sideEffects: 'None', versions: ['v1'], timeout: 5, reinvocation: 'IfNeeded' },
  );
  assert.deepEqual(hook.rules, [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }]);
  assert.deepEqual(hook.namespaceSelector.matchLabels, { 'chaperone.dev/inject': 'enabled' });
  assert.ok(hook.namespaceSelector.matchExpressions[0]?.values.includes(NS), 'the release namespace is excluded');
  assert.deepEqual(hook.objectSelector, { matchLabels: { 'chaperone.dev/inject': 'true' } });
  assert.deepEqual(hook.clientConfig.service, { name: 'rel-chaperone-webhook', namespace: NS, path: '/mutate', port: 443 });

  for (const name of ['rel-chaperone-control-plane', 'rel-chaperone-webhook']) {
    const pod = find<Deployment>(objects, 'Deployment', name).spec.template;
    assert.equal(pod.spec.securityContext.runAsNonRoot, true, name);
    assert.equal(pod.metadata.annotations['prometheus.io/scrape'], 'true', name);
    const [c] = pod.spec.containers;
    assert.ok(c, name);
    assert.equal(c.image, 'chaperone:0.1.0', `${name}: image tag defaults to appVersion`);
    assert.deepEqual(
      { ro: c.securityContext.readOnlyRootFilesystem, esc: c.securityContext.allowPrivilegeEscalation, drop: c.securityContext.capabilities.drop },
      { ro: true, esc: false, drop: ['ALL'] }, name);
    assert.equal(c.livenessProbe.httpGet.path, '/healthz', name);
    assert.equal(c.readinessProbe.httpGet.path, '/readyz', name);
    assert.ok(c.resources.requests.memory, `${name} has resource requests`);
  }
  const webhookArgs = find<Deployment>(objects, 'Deployment', 'rel-chaperone-webhook').spec.template.spec.containers[0]?.args ?? [];
  assert.ok(webhookArgs.includes('--config=/etc/chaperone/webhook/config.yaml'), webhookArgs.join(' '));
  assert.ok(webhookArgs.includes('--webhook-config=rel-chaperone-webhook'), webhookArgs.join(' '));
  const cp = find<Deployment>(objects, 'Deployment', 'rel-chaperone-control-plane');
  assert.equal(cp.spec.replicas, 1);
  assert.equal(cp.spec.strategy.type, 'Recreate', 'the embedded store must not run twice on one volume');
  // With no policy documents there is no Secret to read: no Role at all (empty resourceNames = every Secret).
  assert.equal(objects.filter((o) => o.kind === 'Role' && o.metadata.name.includes('credentials')).length, 0);
});

test('the rendered policy and webhook config are what the control plane and the webhook load', async () => {
  const values = { ...VARIANTS['policy documents'], webhook: { connections: { bastion: { type: 'ssh', port: 2222 } } } };
  const objects = await dryRun((await ok(template(values), 'helm template')).stdout);
  const policyFile = join(dir, 'policies.yaml');
  writeFileSync(policyFile, find<ConfigMap>(objects, 'ConfigMap', 'rel-chaperone-control-plane-policy').data['policies.yaml'] ?? '');
  const docs = await loadPolicyFiles([policyFile]);
  assert.deepEqual(docs.map((d) => `${d.kind}/${d.metadata.name}`), ['Connection/orders-db', 'AccessPolicy/support-agents']);

  const configFile = join(dir, 'webhook-config.yaml');
  writeFileSync(configFile, find<ConfigMap>(objects, 'ConfigMap', 'rel-chaperone-webhook-config').data['config.yaml'] ?? '');
  const loaded = loadWebhookConfigFile(configFile);
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.error);
  assert.deepEqual(loaded.config.connections, { 'orders-db': { type: 'postgres', port: 5432 }, bastion: { type: 'ssh', port: 2222 } });
  assert.equal(loaded.config.sidecar.image, 'chaperone:0.1.0');
  assert.equal(loaded.config.sidecar.runAsUser, 10001, 'the sidecar runs as the chart\'s user');
  assert.equal(loaded.config.controlPlane.url, `http://rel-chaperone-control-plane.${NS}.svc:7443`);
  assert.equal(loaded.config.failureMode, 'allow');

  // The Secrets the control plane may read: the Connection's secretRef plus the listed ones, by name.
  const role = find<Role>(objects, 'Role', 'rel-chaperone-control-plane-credentials');
  assert.deepEqual(role.rules, [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['extra-creds', 'orders-db-admin'], verbs: ['get', 'list', 'watch'] }]);
  const cluster = find<Role>(objects, 'ClusterRole', 'rel-chaperone-control-plane');
  assert.deepEqual(cluster.rules.map((r) => `${r.resources.join()}:${r.verbs.join()}`), ['tokenreviews:create', 'pods:get'], 'podSelector subjects → get pods');
});

test('kubernetes Connections: a Role per namespace lets the control plane create tokens for exactly the named service accounts; none without them', async () => {
  const tokens = 'rel-chaperone-control-plane-tokens';
  const objects = await dryRun((await ok(template(VARIANTS['kubernetes Connection tokens']!, 'tokens'), 'helm template')).stdout);
  const roles = (objects.filter((o) => o.kind === 'Role' && o.metadata.name === tokens) as Role[]).sort((a, b) => String(a.metadata.namespace).localeCompare(String(b.metadata.namespace)));
  const rule = (names: string[]) => [{ apiGroups: [''], resources: ['serviceaccounts/token'], resourceNames: names, verbs: ['create'] }];
  assert.deepEqual(roles.map((r) => [r.metadata.namespace, r.rules]), [[NS, rule(['deployer'])], ['default', rule(['agent-upstream', 'reader'])]].sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  const bindings = objects.filter((o) => o.kind === 'RoleBinding' && o.metadata.name === tokens) as Array<K8sObject & { roleRef: { name: string }; subjects: Array<{ name: string; namespace: string }> }>;
  assert.equal(bindings.length, 2);
  for (const b of bindings) {
    assert.equal(b.roleRef.name, tokens);
    assert.deepEqual(b.subjects.map((x) => [x.name, x.namespace]), [['rel-chaperone-control-plane', NS]]);
  }
  for (const name of ['default', 'policy documents', 'existing ConfigMap']) {
    const plain = await ok(template(VARIANTS[name]!, name), `helm template (${name})`);
    assert.doesNotMatch(plain.stdout, /serviceaccounts\/token/, `${name}: no TokenRequest permission without service accounts`);
  }
});

test('approvals and the mask key: OIDC flags, the webhook URL from a Secret, the key mounted from a Secret; none by default', async () => {
  interface CpPod {
    containers: Array<{ args: string[]; env?: Array<{ name: string; value?: string; valueFrom?: object }>; volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }> }>;
    volumes: Array<{ name: string; secret?: object }>;
  }
  const podOf = (objects: K8sObject[]) => (find<K8sObject & { spec: { template: { spec: CpPod } } }>(objects, 'Deployment', 'rel-chaperone-control-plane')).spec.template.spec;
  const name = 'external database, 3 replicas, approvals (OIDC, notify Secret, public URL), mask key Secret';
  const rendered = (await ok(template(VARIANTS[name]!, 'approvals'), 'helm template')).stdout;
  const pod = podOf(await dryRun(rendered));
  const [c] = pod.containers;
  assert.ok(c);
  const wanted = [
    '--oidc-issuer=https://login.example.com/realms/ops', '--oidc-client-id=chaperone-approvals', '--oidc-groups-claim=roles',
    '--oidc-username-claim=preferred_username', '--public-url=https://chaperone.example.com', '--mask-key-file=/etc/chaperone/mask-key/mask-key',
  ];
  for (const arg of wanted) assert.ok(c.args.includes(arg), `${arg} missing in ${c.args.join(' ')}`);
  const hook = c.env?.find((e) => e.name === 'CHAPERONE_APPROVALS_WEBHOOK');
  assert.deepEqual(hook, { name: 'CHAPERONE_APPROVALS_WEBHOOK', valueFrom: { secretKeyRef: { name: 'chaperone-slack', key: 'webhook-url' } } });
  assert.deepEqual(c.volumeMounts.find((m) => m.name === 'mask-key'), { name: 'mask-key', mountPath: '/etc/chaperone/mask-key', readOnly: true });
  assert.deepEqual(pod.volumes.find((v) => v.name === 'mask-key')?.secret, { secretName: 'chaperone-mask-key', defaultMode: 0o440, items: [{ key: 'mask-key', path: 'mask-key' }] });

  // Without the values: no approval flags, no webhook env, no key volume (the store keeps the key).
  const plain = podOf(await dryRun((await ok(template({}), 'helm template')).stdout));
  const [p] = plain.containers;
  assert.ok(p);
  assert.deepEqual(p.args.filter((a) => /^--(oidc|public-url|mask-key)/.test(a)), []);
  assert.equal(p.env?.find((e) => e.name === 'CHAPERONE_APPROVALS_WEBHOOK'), undefined);
  assert.equal(plain.volumes.find((v) => v.name === 'mask-key'), undefined);
  // The issuer alone with its client id: the claims stay the control plane's defaults.
  const minimal = (await ok(template({ controlPlane: { approvals: { oidc: { issuer: 'https://login.example.com', clientId: 'c' } } } }, 'oidc-only'), 'helm template')).stdout;
  const [m] = podOf(await dryRun(minimal)).containers;
  assert.deepEqual(m?.args.filter((a) => a.startsWith('--oidc')), ['--oidc-issuer=https://login.example.com', '--oidc-client-id=c']);
});

test('the schema and the template refuse bad values with a clear message', async () => {
  const cases: Array<[string, object, RegExp]> = [
    ['failurePolicy', { webhook: { failurePolicy: 'Sometimes' } }, /at '\/webhook\/failurePolicy': value must be one of 'Ignore', 'Fail'/],
    ['unknown key', { controlPlane: { replica: 2 } }, /at '\/controlPlane': additional properties 'replica' not allowed/],
    ['policy kind', { controlPlane: { policy: { documents: [{ apiVersion: 'chaperone.dev/v1alpha1', kind: 'Policy', metadata: { name: 'x' }, spec: {} }] } } }, /at '\/controlPlane\/policy\/documents\/0\/kind': value must be one of 'Connection', 'AccessPolicy'/],
    ['embedded store with 2 replicas', { controlPlane: { replicas: 2 } }, /controlPlane\.replicas is 2 but the embedded store/],
    ['external without Secret', { controlPlane: { database: { mode: 'external' } } }, /set controlPlane\.database\.external\.secretName/],
    ['both policy sources', { controlPlane: { policy: { documents: POLICY_DOCUMENTS, existingConfigMap: 'x' } } }, /not both/],
    ['secret TLS without Secret', { webhook: { tls: { mode: 'secret' } } }, /set webhook\.tls\.secretName/],
    ['jwksUrl without issuer', { controlPlane: { identity: { mode: 'jwks', jwksUrl: 'https://issuer.example/jwks' } } }, /jwksUrl needs controlPlane\.identity\.issuer/],
    ['service account without namespace', { controlPlane: { credentials: { serviceAccounts: [{ name: 'deployer' }] } } }, /at '\/controlPlane\/credentials\/serviceAccounts\/0': missing property 'namespace'/],
    ['OIDC issuer without client id', { controlPlane: { approvals: { oidc: { issuer: 'https://login.example.com' } } } }, /controlPlane\.approvals\.oidc: set issuer and clientId together/],
    ['OIDC claims without issuer', { controlPlane: { approvals: { oidc: { groupsClaim: 'roles' } } } }, /groupsClaim and usernameClaim need controlPlane\.approvals\.oidc\.issuer/],
    ['OIDC issuer not a URL', { controlPlane: { approvals: { oidc: { issuer: 'login.example.com', clientId: 'c' } } } }, /at '\/controlPlane\/approvals\/oidc\/issuer': 'login\.example\.com' does not match pattern/],
    // The webhook URL holds a token: there is no key for it inline, only a Secret reference.
    ['webhook URL inline', { controlPlane: { approvals: { notify: { webhookUrl: 'https://hooks.slack.com/services/T0/B0/secret' } } } }, /at '\/controlPlane\/approvals\/notify': additional properties 'webhookUrl' not allowed/],
    ['mask key Secret name', { controlPlane: { maskKey: { secretName: 'Mask_Key' } } }, /at '\/controlPlane\/maskKey\/secretName': 'Mask_Key' does not match pattern/],
    ['mask key without key', { controlPlane: { maskKey: { secretName: 'm', key: '' } } }, /at '\/controlPlane\/maskKey\/key': minLength: got 0, want 1/],
    ['sidecar token too short', { webhook: { sidecar: { tokenExpirationSeconds: 60 } } }, /at '\/webhook\/sidecar\/tokenExpirationSeconds': minimum: got 60, want 600/],
  ];
  for (const [name, values, message] of cases) {
    const r = await template(values, name);
    assert.notEqual(r.code, 0, `${name}: helm template should fail`);
    assert.match(r.stderr, message, `${name}: ${r.stderr}`);
  }
});

test('install creates the objects with least-privilege RBAC; uninstall removes them', async () => {
  const ns = 'chaperone-install';
  const values = valuesFile('install', { controlPlane: { policy: { documents: POLICY_DOCUMENTS }, credentials: { serviceAccounts: [{ namespace: ns, name: 'agent-upstream' }] } } });
  const installed = await ok(helm(['install', 'rel', CHART, '-n', ns, '--create-namespace', '-f', values]), 'helm install');
  assert.match(installed.stdout, /kubectl label namespace <agents-namespace> chaperone\.dev\/inject=enabled/, 'NOTES say the next step');

  const names = (await ok(kube.kubectl(['-n', ns, 'get', 'deploy,svc,sa,role,rolebinding,pdb,cm,pvc', '-o', 'name']), 'get')).stdout;
  for (const o of ['deployment.apps/rel-chaperone-control-plane', 'deployment.apps/rel-chaperone-webhook', 'service/rel-chaperone-control-plane',
    'service/rel-chaperone-webhook', 'serviceaccount/rel-chaperone-control-plane', 'serviceaccount/rel-chaperone-webhook',
    'role.rbac.authorization.k8s.io/rel-chaperone-control-plane-credentials', 'role.rbac.authorization.k8s.io/rel-chaperone-webhook-tls',
    'poddisruptionbudget.policy/rel-chaperone-webhook', 'configmap/rel-chaperone-control-plane-policy', 'configmap/rel-chaperone-webhook-config', 'persistentvolumeclaim/rel-chaperone-control-plane-data']) {
    assert.match(names, new RegExp(`^${o.replace(/\./g, '\\.')}$`, 'm'), `${o} missing in:\n${names}`);
  }
  await ok(kube.kubectl(['get', 'mutatingwebhookconfiguration/rel-chaperone-webhook', 'clusterrole/rel-chaperone-control-plane', 'clusterrole/rel-chaperone-webhook']), 'cluster-scoped objects');
  const policy = (await ok(kube.kubectl(['-n', ns, 'get', 'cm', 'rel-chaperone-control-plane-policy', '-o', 'jsonpath={.data.policies\\.yaml}']), 'policy')).stdout;
  assert.match(policy, /kind: Connection[\s\S]*---[\s\S]*kind: AccessPolicy/);

  // auth can-i, impersonating each service account.
  const cpSa = `system:serviceaccount:${ns}:rel-chaperone-control-plane`;
  const whSa = `system:serviceaccount:${ns}:rel-chaperone-webhook`;
  const canI = async (as: string, args: string[]): Promise<boolean> => {
    const r = await kube.kubectl(['auth', 'can-i', ...args, '--as', as]);
    assert.ok(r.stdout.trim() === 'yes' || r.stdout.trim() === 'no', `can-i ${args.join(' ')}: ${r.stdout} ${r.stderr}`);
    return r.stdout.trim() === 'yes';
  };
  const expectations: Array<[string, string[], boolean]> = [
    [cpSa, ['create', 'tokenreviews.authentication.k8s.io'], true],
    [cpSa, ['get', 'secret/orders-db-admin', '-n', ns], true],
    [cpSa, ['watch', 'secret/orders-db-admin', '-n', ns], true],
    [cpSa, ['get', 'secret/rel-chaperone-webhook-ca', '-n', ns], false],
    [cpSa, ['list', 'secrets', '-n', ns], false],
    [cpSa, ['get', 'secret/orders-db-admin', '-n', 'default'], false],
    [cpSa, ['get', 'pods', '-n', 'agents'], true],
    [cpSa, ['list', 'pods', '-n', 'agents'], false],
    [cpSa, ['patch', 'mutatingwebhookconfigurations.admissionregistration.k8s.io/rel-chaperone-webhook'], false],
    [cpSa, ['create', 'serviceaccounts/agent-upstream', '--subresource=token', '-n', ns], true],
    [cpSa, ['create', 'serviceaccounts/rel-chaperone-webhook', '--subresource=token', '-n', ns], false],
    [cpSa, ['create', 'serviceaccounts/agent-upstream', '--subresource=token', '-n', 'default'], false],
    [cpSa, ['get', 'serviceaccounts/agent-upstream', '-n', ns], false],
    [whSa, ['create', 'serviceaccounts/agent-upstream', '--subresource=token', '-n', ns], false],
    [whSa, ['patch', 'mutatingwebhookconfigurations.admissionregistration.k8s.io/rel-chaperone-webhook'], true],
    [whSa, ['patch', 'mutatingwebhookconfigurations.admissionregistration.k8s.io/someone-else'], false],
    [whSa, ['list', 'mutatingwebhookconfigurations.admissionregistration.k8s.io'], false],
    [whSa, ['get', 'secret/rel-chaperone-webhook-ca', '-n', ns], true],
    [whSa, ['get', 'secret/orders-db-admin', '-n', ns], false],
    [whSa, ['create', 'tokenreviews.authentication.k8s.io'], false],
  ];
  for (const [as, args, want] of expectations) assert.equal(await canI(as, args), want, `${as} can-i ${args.join(' ')}`);

  // The webhook's own token: it can write caBundle into its configuration, not into another one,
  // and a helm upgrade keeps what it wrote (the template looks the live value up).
  await ok(kube.kubectl(['apply', '-f', '-'], { input: JSON.stringify(otherWebhookConfig()) }), 'another webhook configuration');
  const token = (await ok(kube.kubectl(['-n', ns, 'create', 'token', 'rel-chaperone-webhook', '--duration', '10m']), 'create token')).stdout.trim();
  const asWebhook = tokenKubeconfig(token);
  const caBundle = readFileSync(kube.caCertPath).toString('base64');
  const patch = JSON.stringify([{ op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: caBundle }]);
  await ok(run(toolPath('kubectl'), ['--kubeconfig', asWebhook, 'patch', 'mutatingwebhookconfiguration', 'rel-chaperone-webhook', '--type', 'json', '-p', patch]), 'webhook patches its configuration');
  const refused = await run(toolPath('kubectl'), ['--kubeconfig', asWebhook, 'patch', 'mutatingwebhookconfiguration', 'someone-else', '--type', 'json', '-p', patch]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /forbidden/i);
  // The control plane's own token: a TokenRequest for the Connection's account works, for another account it is refused.
  await ok(kube.kubectl(['-n', ns, 'create', 'serviceaccount', 'agent-upstream']), 'create the Connection\'s service account');
  const cpToken = (await ok(kube.kubectl(['-n', ns, 'create', 'token', 'rel-chaperone-control-plane', '--duration', '10m']), 'create token')).stdout.trim();
  const asControlPlane = tokenKubeconfig(cpToken, 'control-plane-kubeconfig');
  const issued = await ok(run(toolPath('kubectl'), ['--kubeconfig', asControlPlane, '-n', ns, 'create', 'token', 'agent-upstream', '--duration', '10m']), 'control plane requests a token for agent-upstream');
  assert.match(issued.stdout.trim(), /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');
  const other = await run(toolPath('kubectl'), ['--kubeconfig', asControlPlane, '-n', ns, 'create', 'token', 'rel-chaperone-webhook', '--duration', '10m']);
  assert.notEqual(other.code, 0);
  assert.match(other.stderr, /forbidden/i);
  await ok(helm(['upgrade', 'rel', CHART, '-n', ns, '-f', values]), 'helm upgrade');
  const kept = await ok(kube.kubectl(['get', 'mutatingwebhookconfiguration', 'rel-chaperone-webhook', '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}']), 'caBundle');
  assert.equal(kept.stdout, caBundle, 'helm upgrade kept the caBundle the webhook wrote');

  await ok(helm(['uninstall', 'rel', '-n', ns]), 'helm uninstall');
  const left = (await ok(kube.kubectl(['-n', ns, 'get', 'deploy,svc,sa,role,rolebinding,pdb,cm,pvc', '-o', 'name']), 'get after uninstall')).stdout;
  assert.doesNotMatch(left, /rel-chaperone-(control-plane|webhook)(-tls|-credentials|-tokens|-policy|-config)?$/m, `left behind:\n${left}`);
  assert.match(left, /^persistentvolumeclaim\/rel-chaperone-control-plane-data$/m, 'the session store volume is kept (helm.sh/resource-policy: keep)');
  for (const o of ['mutatingwebhookconfiguration/rel-chaperone-webhook', 'clusterrole/rel-chaperone-control-plane', 'clusterrole/rel-chaperone-webhook', 'clusterrolebinding/rel-chaperone-webhook']) {
    const r = await kube.kubectl(['get', o]);
    assert.notEqual(r.code, 0, `${o} still exists`);
    assert.match(r.stderr, /NotFound/);
  }
});

function otherWebhookConfig(): object {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'someone-else' },
    webhooks: [{ name: 'other.example.com', admissionReviewVersions: ['v1'], sideEffects: 'None', clientConfig: { url: 'https://127.0.0.1:1/x' }, rules: [] }],
  };
}

/** A kubeconfig for a bearer token only (the admin kubeconfig's client certificate would win). */
function tokenKubeconfig(token: string, name = 'token-kubeconfig'): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'test', cluster: { server: kube.url, 'certificate-authority': kube.caCertPath } }],
    users: [{ name: 'sa', user: { token } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'sa' } }],
    'current-context': 'test',
  }));
  return path;
}
