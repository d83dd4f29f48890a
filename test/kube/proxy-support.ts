// Set-up for the Kubernetes API proxy tests: the harness's real kube-apiserver, the service
// accounts and RBAC the TokenRequest path needs, the real control plane (buildTestApp) issuing
// TokenRequest credentials, a real sidecar with its kubernetes listener, and an agent kubeconfig.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { PolicyDoc } from '@chaperone/core/policy/types';
import { TokenRequestSource } from '@chaperone/control-plane/credentials/token-request-source';
import { startTestPostgres } from '@chaperone/control-plane/testing/embedded';
import type { TestPostgres } from '@chaperone/control-plane/testing/embedded';
import { buildTestApp } from '@chaperone/control-plane/testing/app';
import type { TestApp } from '@chaperone/control-plane/testing/app';
import { runSidecar } from '@chaperone/sidecar/sidecar';
import type { RunningSidecar } from '@chaperone/sidecar/sidecar';
import { run } from '../harness/postgres.js';
import { startKubeApiServer } from '../harness/kube.js';
import type { KubeApiServer } from '../harness/kube.js';
import { toolPath } from '../harness/tools.js';

export const ADMIN_TOKEN = 'kube-proxy-test-admin-token-0123456789';
export const CONNECTION = 'cluster';
export const NS = 'work';
/** The account whose TokenRequest tokens the sidecar uses upstream (cluster-admin: policy is chaperone's). */
export const UPSTREAM_SA = { namespace: 'chaperone-sys', name: 'kube-agent' };

const RBAC = `
apiVersion: v1
kind: Namespace
metadata: { name: chaperone-sys }
---
apiVersion: v1
kind: Namespace
metadata: { name: ${NS} }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: kube-agent, namespace: chaperone-sys }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: control-plane, namespace: chaperone-sys }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: nobody, namespace: chaperone-sys }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: kube-agent-admin }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin }
subjects: [{ kind: ServiceAccount, name: kube-agent, namespace: chaperone-sys }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: token-minter, namespace: chaperone-sys }
rules: [{ apiGroups: [""], resources: [serviceaccounts/token], verbs: [create], resourceNames: [kube-agent] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: token-minter, namespace: chaperone-sys }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: token-minter }
subjects: [{ kind: ServiceAccount, name: control-plane, namespace: chaperone-sys }]
`;

export function policyDocs(server: string, caBundle: string): PolicyDoc[] {
  return [
    {
      apiVersion: 'chaperone.dev/v1alpha1', kind: 'Connection', metadata: { name: CONNECTION },
      spec: { type: 'kubernetes', target: { server, caBundle }, credentials: { serviceAccount: { ...UPSTREAM_SA, expirationSeconds: 600 } }, listen: { port: 6443 } },
    },
    {
      apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'agents-kube' },
      spec: {
        subjects: [{ serviceAccount: { namespace: 'agents', name: 'bot' } }],
        connections: [CONNECTION],
        rules: [
          { action: 'deny', match: { verbs: ['delete'], resources: ['namespaces'] }, message: 'no namespace deletes' },
          { action: 'deny', match: { resources: ['configmaps'], names: ['forbidden-*'] } },
          { action: 'approve', match: { verbs: ['delete'], resources: ['configmaps'], names: ['held-*'] }, approvers: ['group:sre'], timeout: '60s' },
          { action: 'approve', match: { verbs: ['delete'], resources: ['configmaps'], names: ['quick-*'] }, approvers: ['group:sre'], timeout: '1s' },
          { action: 'mask', match: { resources: ['secrets'] }, name: 'secrets' },
        ],
        default: 'allow',
      },
    },
  ];
}

export interface Stack {
  kube: KubeApiServer;
  /** The control plane's own Kubernetes identity (may mint tokens for kube-agent only). */
  controlPlaneKube: KubeConfig;
  pg: TestPostgres;
  cp: TestApp;
  sidecar: RunningSidecar;
  dir: string;
  port: number;
  /** The local endpoint's CA, as the sidecar wrote it. */
  caPath: string;
  /** A token of `nobody` (no RBAC): what the agent presents; it must never reach the API server. */
  agentToken: string;
  agentKubeconfig: string;
  agentKubectl(args: string[], o?: { input?: string }): ReturnType<typeof run>;
  stop(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'chaperone-kube-proxy-'));
  const kube = await startKubeApiServer();
  const applied = await kube.kubectl(['apply', '-f', '-'], { input: RBAC });
  if (applied.code !== 0) throw new Error(`RBAC set-up: ${applied.stderr}`);
  const token = async (sa: string) => {
    const r = await kube.kubectl(['-n', 'chaperone-sys', 'create', 'token', sa, '--duration', '1h']);
    if (r.code !== 0) throw new Error(`create token ${sa}: ${r.stderr}`);
    return r.stdout.trim();
  };
  // The control plane's own identity: allowed only to mint tokens for kube-agent.
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: kube.url, caFile: kube.caCertPath, skipTLSVerify: false }],
    users: [{ name: 'control-plane', token: await token('control-plane') }],
    contexts: [{ name: 'cp', cluster: 'test', user: 'control-plane' }],
    currentContext: 'cp',
  });
  const pg = await startTestPostgres();
  const cp = await buildTestApp(pg.url, {
    docs: policyDocs(kube.url, await readFile(kube.caCertPath, 'utf8')), adminToken: ADMIN_TOKEN,
    credentialSources: [new TokenRequestSource(kc)],
  });
  const url = await cp.app.listen({ host: '127.0.0.1', port: 0 });
  const sidecar = await runSidecar({
    controlPlane: { url }, token: { type: 'dev', namespace: 'agents', serviceAccount: 'bot' },
    spoolDir: join(dir, 'spool'), admin: { host: '127.0.0.1', port: 0 }, ports: { [CONNECTION]: 0 },
    kubeCaDir: join(dir, 'ca'), logLevel: 'silent',
  });
  await sidecar.ready;
  const port = sidecar.ports[CONNECTION];
  if (port === undefined) throw new Error('the sidecar has no kubernetes listener');
  const caPath = join(dir, 'ca', 'ca.crt');
  const agentToken = await token('nobody');
  const agentKubeconfig = join(dir, 'agent.kubeconfig');
  await writeFile(agentKubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'agent',
    clusters: [{ name: 'sidecar', cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority': caPath } }],
    users: [{ name: 'agent', user: { token: agentToken } }],
    contexts: [{ name: 'agent', context: { cluster: 'sidecar', user: 'agent', namespace: NS } }],
  }));
  return {
    kube, controlPlaneKube: kc, pg, cp, sidecar, dir, port, caPath, agentToken, agentKubeconfig,
    agentKubectl: (args, o = {}) => run(toolPath('kubectl'), ['--kubeconfig', agentKubeconfig, ...args], o),
    async stop() {
      await sidecar.close();
      await cp.close();
      await pg.cleanup();
      await kube.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
