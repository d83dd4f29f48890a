// The chaperone.dev/* override annotations of an opted-in pod, parsed and validated into a plan.
import * as A from './annotations.js';
import { CONNECTION_NAME, type WebhookConfig } from './config.js';
import { parseQuantity } from './quantity.js';

export type ConnectionType = 'postgres' | 'ssh' | 'kubernetes';
export interface ExposedConnection { name: string; type: ConnectionType; port: number }

export interface Resources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

/** What the patch is built from: the pod's choices over the config's defaults. */
export interface InjectionPlan {
  /** In the annotation's order, else the config's. */
  connections: ExposedConnection[];
  /** The connections annotation, as given; undefined means all the identity is granted. */
  requested: string[] | undefined;
  logLevel: string;
  resources: Resources;
}

export type PlanResult = { ok: true; plan: InjectionPlan } | { ok: false; annotation: string; reason: string };

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);

type ResourceKey = { annotation: string; kind: 'requests' | 'limits'; resource: 'cpu' | 'memory' };
const RESOURCE_ANNOTATIONS: readonly ResourceKey[] = [
  { annotation: A.CPU_REQUEST, kind: 'requests', resource: 'cpu' },
  { annotation: A.CPU_LIMIT, kind: 'limits', resource: 'cpu' },
  { annotation: A.MEMORY_REQUEST, kind: 'requests', resource: 'memory' },
  { annotation: A.MEMORY_LIMIT, kind: 'limits', resource: 'memory' },
];

function bad(annotation: string, reason: string): PlanResult {
  return { ok: false, annotation, reason: `annotation ${annotation}: ${reason}` };
}

export function planInjection(annotations: Readonly<Record<string, string>>, config: WebhookConfig): PlanResult {
  const known = Object.entries(config.connections).map(([name, c]) => ({ name, type: c.type, port: c.port }));
  let connections = known;
  let requested: string[] | undefined;
  const list = annotations[A.CONNECTIONS];
  if (list !== undefined) {
    requested = list.split(',').map((s) => s.trim());
    if (requested.length === 0 || requested.some((n) => n === '')) return bad(A.CONNECTIONS, `"${list}" is not a comma-separated list of connection names`);
    const invalid = requested.find((n) => !CONNECTION_NAME.test(n));
    if (invalid !== undefined) return bad(A.CONNECTIONS, `"${invalid}" is not a connection name`);
    const dup = requested.find((n, i) => requested!.indexOf(n) !== i);
    if (dup !== undefined) return bad(A.CONNECTIONS, `"${dup}" is listed twice`);
    const unknown = requested.filter((n) => config.connections[n] === undefined);
    if (unknown.length > 0) return bad(A.CONNECTIONS, `unknown connection ${unknown.map((n) => `"${n}"`).join(', ')} (the webhook knows: ${known.map((c) => c.name).join(', ') || 'none'})`);
    connections = requested.map((n) => ({ name: n, type: config.connections[n]!.type, port: config.connections[n]!.port }));
  }

  const logLevel = annotations[A.LOG_LEVEL] ?? config.sidecar.logLevel;
  if (!LOG_LEVELS.has(logLevel)) return bad(A.LOG_LEVEL, `"${logLevel}" is not one of ${[...LOG_LEVELS].join('|')}`);

  const d = config.sidecar.resources;
  const resources: Resources = { requests: { ...d.requests }, limits: { ...d.limits } };
  for (const r of RESOURCE_ANNOTATIONS) {
    const value = annotations[r.annotation];
    if (value === undefined) continue;
    const n = parseQuantity(value);
    if (n === undefined || n <= 0) return bad(r.annotation, `"${value}" is not a positive quantity like 50m, 0.5 or 64Mi`);
    resources[r.kind][r.resource] = value;
  }
  // The API server refuses a request above its limit; say which annotation made it so.
  for (const resource of ['cpu', 'memory'] as const) {
    if (parseQuantity(resources.requests[resource])! > parseQuantity(resources.limits[resource])!) {
      const culprit = RESOURCE_ANNOTATIONS.find((r) => r.resource === resource && annotations[r.annotation] !== undefined);
      return bad(culprit?.annotation ?? (resource === 'cpu' ? A.CPU_REQUEST : A.MEMORY_REQUEST),
        `${resource} request ${resources.requests[resource]} exceeds its limit ${resources.limits[resource]}`);
    }
  }
  return { ok: true, plan: { connections, requested, logLevel, resources } };
}
