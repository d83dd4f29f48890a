// Re-invocation (reinvocationPolicy: IfNeeded): on an injected pod, wire the containers a later webhook added, and touch nothing else.
import { objArray, serviceAccountVolumes, wireAgent, type Obj } from './agent-wiring.js';
import type { WebhookConfig } from './config.js';
import { removeIndices, type JsonPatchOp } from './json-patch.js';
import type { ExposedConnection } from './overrides.js';
import { SIDECAR_NAME, type AgentPlan } from './sidecar.js';

/** The pod's containers as the pipeline sees them, each with the JSON pointer it is patched at. */
export interface PlacedContainer { path: string; container: Obj }

export type RewireResult =
  | { kind: 'nothing-to-do' }
  | { kind: 'patch'; patch: JsonPatchOp[] }
  | { kind: 'cannot'; reason: string };

const PORT_ARG = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)=([0-9]{1,5})$/;

/**
 * The connections the injected sidecar serves, read back from its `--port name=port` arguments:
 * the agents must agree with the sidecar, even if the config was reloaded since it was injected.
 * Types come from the config (the sidecar's arguments do not carry them).
 */
export function sidecarPlan(sidecar: Obj, config: WebhookConfig): { ok: true; plan: AgentPlan } | { ok: false; reason: string } {
  const args = Array.isArray(sidecar.args) ? sidecar.args : [];
  const connections: ExposedConnection[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== '--port') continue;
    const m = PORT_ARG.exec(String(args[i + 1]));
    if (!m) return { ok: false, reason: `the ${SIDECAR_NAME} container's argument --port ${String(args[i + 1])} is not name=port` };
    const name = m[1]!;
    const known = config.connections[name];
    if (!known) return { ok: false, reason: `the ${SIDECAR_NAME} container serves connection ${name}, which the webhook's config no longer knows` };
    connections.push({ name, type: known.type, port: Number(m[3]) });
    i++;
  }
  return { ok: true, plan: { connections } };
}

/** Ports the sidecar needs: its connections and the ports its container declares (the admin port). */
function sidecarPorts(sidecar: Obj, plan: AgentPlan): Map<number, string> {
  const ports = new Map<number, string>(plan.connections.map((c) => [c.port, `connection ${c.name}`]));
  const declared = objArray(sidecar.ports);
  for (const p of declared === 'malformed' ? [] : declared ?? []) {
    if (typeof p.containerPort === 'number') ports.set(p.containerPort, `the sidecar's port ${String(p.name ?? p.containerPort)}`);
  }
  return ports;
}

/**
 * Wires every agent container (init containers included) that is not wired yet. The pod-wide
 * credential rules hold again too: no `kube-api-access-*` volume, no automounted token. A pod
 * where all of that already holds gets no patch.
 */
export function buildRewirePatch(spec: Obj, agents: readonly PlacedContainer[], sidecar: Obj, plan: AgentPlan): RewireResult {
  const ops: JsonPatchOp[] = [];
  const taken = sidecarPorts(sidecar, plan);
  for (const { path, container } of agents) {
    const wiring = wireAgent(path, container, plan);
    if (wiring.length === 0) continue;
    const declared = objArray(container.ports);
    for (const p of declared === 'malformed' ? [] : declared ?? []) {
      const clash = typeof p.containerPort === 'number' ? taken.get(p.containerPort) : undefined;
      if (clash) return { kind: 'cannot', reason: `container ${String(container.name)} declares port ${String(p.containerPort)}, which ${clash} needs` };
    }
    ops.push(...wiring);
  }
  if (spec.automountServiceAccountToken !== false) ops.push({ op: 'add', path: '/spec/automountServiceAccountToken', value: false });
  const volumes = objArray(spec.volumes);
  ops.push(...removeIndices('/spec/volumes', serviceAccountVolumes(volumes === 'malformed' ? undefined : volumes)));
  return ops.length === 0 ? { kind: 'nothing-to-do' } : { kind: 'patch', patch: ops };
}
