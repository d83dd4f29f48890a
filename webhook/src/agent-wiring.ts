// Wiring one agent container to the sidecar, as JSON patch ops that are empty when it is already wired (re-invocation relies on that).
import { appendAll, removeIndices, type JsonPatchOp } from './json-patch.js';
import { AGENT_CA_VOLUME, agentEnv, agentMounts, SERVICE_ACCOUNT_DIR, SERVICE_ACCOUNT_VOLUME_PREFIX, type AgentPlan } from './sidecar.js';

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function objArray(v: unknown): Obj[] | undefined | 'malformed' {
  if (v === undefined) return undefined;
  return Array.isArray(v) && v.every(isObj) ? v : 'malformed';
}

/** A mount of the API credential (any volume at its path, or a `kube-api-access-*` one), except our own CA volume there. */
function isServiceAccountMount(m: Obj): boolean {
  if (m.name === AGENT_CA_VOLUME && m.mountPath === SERVICE_ACCOUNT_DIR && m.readOnly === true && m.subPath === undefined) return false;
  return m.mountPath === SERVICE_ACCOUNT_DIR || (typeof m.name === 'string' && m.name.startsWith(SERVICE_ACCOUNT_VOLUME_PREFIX));
}

/** The indices of the `kube-api-access-*` volumes the ServiceAccount admission plugin added. */
export function serviceAccountVolumes(volumes: readonly Obj[] | undefined): number[] {
  return (volumes ?? []).flatMap((v, i) => (typeof v.name === 'string' && v.name.startsWith(SERVICE_ACCOUNT_VOLUME_PREFIX) ? [i] : []));
}

/** `{name, value}` exactly: a `valueFrom` or another value is not ours. */
function isSameEnv(e: Obj, v: { name: string; value?: string }): boolean {
  return e.value === v.value && e.valueFrom === undefined;
}

/**
 * Environment, CA mount, and no service-account credential. Ops only for what differs, so a
 * container that is already wired yields none.
 */
export function wireAgent(path: string, c: Obj, plan: AgentPlan): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  const env = objArray(c.env);
  const existing = env === 'malformed' ? undefined : env;
  const added = [];
  for (const v of agentEnv(plan)) {
    // An agent's own PGHOST would bypass the sidecar; ours replaces it in place (a later duplicate would also win, but the API server warns on duplicates).
    const at = (existing ?? []).flatMap((e, i) => (e.name === v.name ? [i] : []));
    for (const i of at) if (!isSameEnv(existing![i]!, v)) ops.push({ op: 'replace', path: `${path}/env/${i}`, value: v });
    if (at.length === 0) added.push(v);
  }
  ops.push(...appendAll(`${path}/env`, existing, added));
  const mounts = objArray(c.volumeMounts);
  const current = mounts === 'malformed' ? undefined : mounts;
  // The ServiceAccount admission plugin runs before webhooks and has already mounted the API
  // credential into every container; automountServiceAccountToken: false comes too late for that.
  ops.push(...removeIndices(`${path}/volumeMounts`, (current ?? []).flatMap((m, i) => (isServiceAccountMount(m) ? [i] : []))));
  const kept = (current ?? []).filter((m) => !isServiceAccountMount(m));
  const missing = agentMounts(plan).filter((m) => !kept.some((o) => o.name === m.name && o.mountPath === m.mountPath));
  ops.push(...appendAll(`${path}/volumeMounts`, current, missing));
  return ops;
}
