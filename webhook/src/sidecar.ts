// The objects the webhook adds to a pod: the sidecar container, its volumes, and the agents' environment.
import type { V1Container, V1EnvVar, V1Probe, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { WebhookConfig } from './config.js';
import type { ExposedConnection, InjectionPlan } from './overrides.js';

export const SIDECAR_NAME = 'chaperone-sidecar';
export const TOKEN_VOLUME = 'chaperone-token';
export const TOKEN_DIR = '/var/run/secrets/chaperone';
export const TOKEN_AUDIENCE = 'chaperone';
export const SPOOL_VOLUME = 'chaperone-spool';
export const SPOOL_DIR = '/var/run/chaperone/spool';
export const CONTROL_PLANE_CA_VOLUME = 'chaperone-control-plane-ca';
export const CONTROL_PLANE_CA_DIR = '/var/run/secrets/chaperone-control-plane-ca';
/** The sidecar writes the CA of its local Kubernetes API endpoint here; agents read it. */
export const AGENT_CA_VOLUME = 'chaperone-ca';
export const AGENT_CA_DIR = '/var/run/secrets/chaperone-ca';
/** Where the ServiceAccount admission plugin mounts the API credential into every container. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
export const SERVICE_ACCOUNT_VOLUME_PREFIX = 'kube-api-access-';
/**
 * The sidecar's runtime settings, the same wherever it runs (the benchmarks start it with these):
 * a young generation of 2 MB semi-spaces instead of V8's default 16 MB (idle and peak RSS, for a
 * scavenge a few times a second under load), and two malloc arenas instead of one per thread
 * (memory that V8's helper threads free goes back to a shared arena instead of staying resident;
 * PostgreSQL's peak under pgbench fell from ~149 to 101–117 MB). The arenas cost SFTP copies some
 * 30 % more CPU per MB: memory in every agent pod was judged worth more. A fixed 128 KiB mmap
 * threshold keeps glibc from raising its own after the first large free: SFTP's 255 KiB buffers
 * then go back to the system when freed instead of piling up in the arenas between V8's GCs (peak
 * during SSH copies 142–144 MB against 146–159 in the same runs; pgbench unchanged).
 */
export const SIDECAR_RUNTIME_ENV: readonly { name: string; value: string }[] = [
  { name: 'NODE_OPTIONS', value: '--max-semi-space-size=2' },
  { name: 'MALLOC_ARENA_MAX', value: '2' },
  { name: 'MALLOC_MMAP_THRESHOLD_', value: '131072' },
];
/** Container port names are at most 15 characters. */
const ADMIN_PORT_NAME = 'chaperone-admin';

/** What the agents' wiring depends on: the connections only (re-invocation reads them back from the sidecar). */
export type AgentPlan = Pick<InjectionPlan, 'connections'>;

/** The volumes the webhook adds, by name; a pod that already has one of these names is a conflict. */
export function sidecarVolumes(config: WebhookConfig, plan: InjectionPlan): V1Volume[] {
  const volumes: V1Volume[] = [
    {
      name: TOKEN_VOLUME,
      projected: {
        // The kubelet rotates the token at 80 % of its lifetime; the sidecar re-reads it on every exchange.
        sources: [{ serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: config.tokenExpirationSeconds, path: 'token' } }],
      },
    },
    { name: SPOOL_VOLUME, emptyDir: {} },
  ];
  const ca = config.controlPlane.ca;
  if (ca?.kind === 'configMap') volumes.push({ name: CONTROL_PLANE_CA_VOLUME, configMap: { name: ca.name, items: [{ key: ca.key, path: 'ca.crt' }] } });
  if (ca?.kind === 'secret') volumes.push({ name: CONTROL_PLANE_CA_VOLUME, secret: { secretName: ca.name, items: [{ key: ca.key, path: 'ca.crt' }] } });
  if (kubeConnection(plan)) volumes.push({ name: AGENT_CA_VOLUME, emptyDir: {} });
  return volumes;
}

export function kubeConnection(plan: AgentPlan): ExposedConnection | undefined {
  return plan.connections.find((c) => c.type === 'kubernetes');
}

/** `orders-db` → `ORDERS_DB` (connection names are RFC 1123 labels, so this is one-to-one). */
export function envName(connection: string): string {
  return connection.toUpperCase().replaceAll('-', '_');
}

/** The environment agent containers get: their tools reach the sidecar on localhost. */
export function agentEnv(plan: AgentPlan): V1EnvVar[] {
  const env: V1EnvVar[] = [];
  const firstPg = plan.connections.find((c) => c.type === 'postgres');
  if (firstPg) env.push({ name: 'PGHOST', value: '127.0.0.1' }, { name: 'PGPORT', value: String(firstPg.port) });
  for (const c of plan.connections) {
    if (c.type === 'postgres') env.push({ name: `CHAPERONE_${envName(c.name)}_PGPORT`, value: String(c.port) });
    if (c.type === 'ssh') env.push({ name: `CHAPERONE_${envName(c.name)}_SSH_PORT`, value: String(c.port) });
  }
  const kube = kubeConnection(plan);
  if (kube) {
    // client-go's in-cluster config and kubectl read these two; the kubelet's own values point at the real API server.
    env.push({ name: 'KUBERNETES_SERVICE_HOST', value: '127.0.0.1' }, { name: 'KUBERNETES_SERVICE_PORT', value: String(kube.port) });
  }
  return env;
}

/**
 * With a Kubernetes connection, agents read the sidecar's directory (ca.crt, a placeholder token,
 * namespace) at AGENT_CA_DIR and at SERVICE_ACCOUNT_DIR, where unchanged in-cluster clients
 * (client-go, kubectl, client-node) look for their credential; read-only, so no agent can replace
 * the CA its neighbours trust.
 */
export function agentMounts(plan: AgentPlan): V1VolumeMount[] {
  if (!kubeConnection(plan)) return [];
  return [
    { name: AGENT_CA_VOLUME, mountPath: AGENT_CA_DIR, readOnly: true },
    { name: AGENT_CA_VOLUME, mountPath: SERVICE_ACCOUNT_DIR, readOnly: true },
  ];
}

function probe(path: string, port: number, periodSeconds: number, failureThreshold: number): V1Probe {
  return { httpGet: { path, port }, periodSeconds, failureThreshold, timeoutSeconds: 1 };
}

export function sidecarContainer(config: WebhookConfig, plan: InjectionPlan, native: boolean): V1Container {
  const s = config.sidecar;
  const args = [
    'sidecar',
    // The kubelet probes the pod IP, so the admin endpoints listen on every address; the protocol
    // listeners stay on 127.0.0.1 (the sidecar's default), reachable only from inside the pod.
    '--admin-listen', `0.0.0.0:${s.adminPort}`,
    ...plan.connections.flatMap((c) => ['--port', `${c.name}=${c.port}`]),
  ];
  if (config.controlPlane.ca) args.push('--control-plane-ca', `${CONTROL_PLANE_CA_DIR}/ca.crt`);
  const env: V1EnvVar[] = [
    { name: 'CHAPERONE_CONTROL_PLANE', value: config.controlPlane.url },
    { name: 'CHAPERONE_TOKEN_FILE', value: `${TOKEN_DIR}/token` },
    { name: 'CHAPERONE_SPOOL_DIR', value: SPOOL_DIR },
    { name: 'CHAPERONE_LOG_LEVEL', value: plan.logLevel },
    ...SIDECAR_RUNTIME_ENV,
  ];
  if (plan.requested) env.push({ name: 'CHAPERONE_CONNECTIONS', value: plan.requested.join(',') });
  // Where the sidecar writes ca.crt, token and namespace (its mount of the agents' volume), said explicitly rather than left to its default.
  if (kubeConnection(plan)) env.push({ name: 'CHAPERONE_KUBE_CA_DIR', value: AGENT_CA_DIR });
  env.push(
    { name: 'CHAPERONE_POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'CHAPERONE_POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'CHAPERONE_POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
  );
  const mounts: V1VolumeMount[] = [
    { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
    { name: SPOOL_VOLUME, mountPath: SPOOL_DIR },
  ];
  if (config.controlPlane.ca) mounts.push({ name: CONTROL_PLANE_CA_VOLUME, mountPath: CONTROL_PLANE_CA_DIR, readOnly: true });
  if (kubeConnection(plan)) mounts.push({ name: AGENT_CA_VOLUME, mountPath: AGENT_CA_DIR });
  const container: V1Container = {
    name: SIDECAR_NAME,
    image: s.image,
    imagePullPolicy: s.imagePullPolicy,
    args,
    env,
    ports: [{ name: ADMIN_PORT_NAME, containerPort: s.adminPort, protocol: 'TCP' }],
    resources: { requests: { ...plan.resources.requests }, limits: { ...plan.resources.limits } },
    // Up to 60 s to exchange the token and open the listeners; the agent starts only after (native
    // mode: the kubelet waits for a native sidecar's startupProbe). /readyz answers only once the
    // listeners are up, and a Kubernetes listener writes ca.crt before it listens.
    startupProbe: probe('/readyz', s.adminPort, 1, 60),
    readinessProbe: probe('/readyz', s.adminPort, 5, 3),
    livenessProbe: probe('/healthz', s.adminPort, 10, 3),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: s.runAsUser,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: mounts,
  };
  // A restartable init container is a native sidecar: started before the agent, stopped after it, and a Job still completes.
  return native ? { ...container, restartPolicy: 'Always' } : container;
}
