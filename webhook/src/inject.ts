// The injection pipeline, pure: shouldInject → plan (parse + validate annotations) → check conflicts → build the JSON patch.
import * as A from './annotations.js';
import type { WebhookConfig } from './config.js';
import { isObj, objArray, serviceAccountVolumes, wireAgent, type Obj } from './agent-wiring.js';
import { appendAll, escapePointer, prepend, removeIndices, type JsonPatchOp } from './json-patch.js';
import { planInjection, type InjectionPlan } from './overrides.js';
import { buildRewirePatch, sidecarPlan } from './reinvocation.js';
import { scrapeAnnotationOps } from './scrape-annotations.js';
import type { InjectionCache } from './injection-cache.js';
import { SIDECAR_NAME, sidecarContainer, sidecarVolumes } from './sidecar.js';

export type InjectResult =
  | { kind: 'skip'; reason: string }
  | { kind: 'patch'; patch: JsonPatchOp[]; warnings: string[] }
  /** An opted-in pod that cannot be patched safely, under failureMode `deny`. */
  | { kind: 'refuse'; reason: string }
  /** The same under failureMode `allow`: admitted without the sidecar. */
  | { kind: 'allow-unchanged'; reason: string };

export interface InjectOptions {
  config: WebhookConfig;
  /** Resolved at start from config.nativeSidecars and the cluster version (see resolveNativeSidecars). */
  nativeSidecars: boolean;
  /** The server's memo of the config-only parts; without it they are built on every call (same values). */
  cache?: InjectionCache;
}

/** The parts of an admitted pod the pipeline reads, after its shape was checked. */
interface PodView {
  annotations: Readonly<Record<string, string>>;
  spec: Obj;
  containers: Obj[];
  initContainers: Obj[] | undefined;
  volumes: Obj[] | undefined;
}

/** kubectl picks this container for logs/exec when the sidecar is the first one (fallback mode). */
const DEFAULT_CONTAINER = 'kubectl.kubernetes.io/default-container';

type Decision =
  | { kind: 'skip'; reason: string }
  | { kind: 'malformed'; reason: string }
  | { kind: 'inject'; pod: PodView }
  /** Injected before (re-invocation, or a copy of an injected pod): only unwired agents are wired. */
  | { kind: 'rewire'; pod: PodView; sidecar: Obj };

/** Opted in and shaped like a pod; then injected already (rewire) or not (inject). */
export function shouldInject(pod: unknown): Decision {
  const metadata = isObj(pod) && isObj(pod.metadata) ? pod.metadata : {};
  const raw = isObj(metadata.annotations) ? metadata.annotations : {};
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') annotations[k] = v;
  if (annotations[A.INJECT] !== 'true') return { kind: 'skip', reason: `not opted in (${A.INJECT} is not "true")` };
  const spec = isObj(pod) ? pod.spec : undefined;
  if (!isObj(spec)) return { kind: 'malformed', reason: 'the pod has no spec' };
  const containers = objArray(spec.containers);
  const initContainers = objArray(spec.initContainers);
  const volumes = objArray(spec.volumes);
  if (containers === undefined || containers === 'malformed' || containers.length === 0) return { kind: 'malformed', reason: 'spec.containers is not a list of containers' };
  if (initContainers === 'malformed') return { kind: 'malformed', reason: 'spec.initContainers is not a list of containers' };
  if (volumes === 'malformed') return { kind: 'malformed', reason: 'spec.volumes is not a list of volumes' };
  const view: PodView = { annotations, spec, containers, initContainers, volumes };
  const sidecar = [...(initContainers ?? []), ...containers].find((c) => c.name === SIDECAR_NAME);
  if (annotations[A.STATUS] === A.STATUS_INJECTED) {
    if (sidecar === undefined) return { kind: 'skip', reason: `already injected (${A.STATUS}: ${A.STATUS_INJECTED}) but without a ${SIDECAR_NAME} container to wire agents to` };
    return { kind: 'rewire', pod: view, sidecar };
  }
  // Without our status annotation a container of that name is someone else's (or a copy): leave the pod alone.
  if (sidecar !== undefined) return { kind: 'skip', reason: `already injected (a ${SIDECAR_NAME} container exists)` };
  return { kind: 'inject', pod: view };
}

/** The sidecar's volumes, from the server's memo when there is one. */
function volumesFor(plan: InjectionPlan, o: InjectOptions): readonly { name: string }[] {
  return o.cache ? o.cache.volumes(o.config, plan) : sidecarVolumes(o.config, plan);
}

/** Why the pod cannot take the sidecar as planned, or undefined. */
function findConflict(pod: PodView, plan: InjectionPlan, o: InjectOptions): string | undefined {
  const config = o.config;
  if (pod.spec.hostNetwork === true) return 'the pod uses hostNetwork: the sidecar\'s localhost ports would be the node\'s';
  const ours = [{ what: 'the sidecar admin port', port: config.sidecar.adminPort }, ...plan.connections.map((c) => ({ what: `connection ${c.name}`, port: c.port }))];
  for (const [i, a] of ours.entries()) {
    const b = ours.slice(0, i).find((o) => o.port === a.port);
    if (b) return `${b.what} and ${a.what} both use port ${a.port}`;
  }
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    for (const p of objArray(c.ports) === 'malformed' ? [] : (c.ports as Obj[] | undefined) ?? []) {
      const clash = ours.find((o) => o.port === p.containerPort);
      if (clash) return `container ${String(c.name)} declares port ${clash.port}, which ${clash.what} needs`;
    }
  }
  const names = new Set((pod.volumes ?? []).map((v) => v.name));
  const taken = volumesFor(plan, o).find((v) => names.has(v.name));
  if (taken) return `the pod already has a volume named ${taken.name}`;
  return undefined;
}

export function buildPatch(pod: PodView, plan: InjectionPlan, o: InjectOptions): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [{ op: 'add', path: `/metadata/annotations/${escapePointer(A.STATUS)}`, value: A.STATUS_INJECTED }];
  const firstAgent = pod.containers[0]?.name;
  if (!o.nativeSidecars && pod.annotations[DEFAULT_CONTAINER] === undefined && typeof firstAgent === 'string') {
    ops.push({ op: 'add', path: `/metadata/annotations/${escapePointer(DEFAULT_CONTAINER)}`, value: firstAgent });
  }
  if (o.config.sidecar.scrapeAnnotations) ops.push(...scrapeAnnotationOps(pod.annotations, o.config.sidecar.adminPort));
  ops.push({ op: 'add', path: '/spec/automountServiceAccountToken', value: false });
  // Agents first, at their original indices; the sidecar is inserted last so no index shifts under them.
  for (const [i, c] of (pod.initContainers ?? []).entries()) ops.push(...wireAgent(`/spec/initContainers/${i}`, c, plan));
  for (const [i, c] of pod.containers.entries()) ops.push(...wireAgent(`/spec/containers/${i}`, c, plan));
  ops.push(...removeIndices('/spec/volumes', serviceAccountVolumes(pod.volumes)));
  ops.push(...appendAll('/spec/volumes', pod.volumes, volumesFor(plan, o)));
  const sidecar = o.cache ? o.cache.sidecar(o.config, plan, o.nativeSidecars) : sidecarContainer(o.config, plan, o.nativeSidecars);
  ops.push(o.nativeSidecars ? prepend('/spec/initContainers', pod.initContainers, sidecar) : prepend('/spec/containers', pod.containers, sidecar));
  return ops;
}

function failed(config: WebhookConfig, reason: string): InjectResult {
  return config.failureMode === 'deny' ? { kind: 'refuse', reason } : { kind: 'allow-unchanged', reason };
}

/** Re-invocation: the agents a later webhook added are wired to the sidecar that is already there. */
function rewire(pod: PodView, sidecar: Obj, config: WebhookConfig): InjectResult {
  const planned = sidecarPlan(sidecar, config);
  if (!planned.ok) return failed(config, planned.reason);
  const agents = [
    ...(pod.initContainers ?? []).map((container, i) => ({ path: `/spec/initContainers/${i}`, container })),
    ...pod.containers.map((container, i) => ({ path: `/spec/containers/${i}`, container })),
  ].filter((c) => c.container !== sidecar);
  const r = buildRewirePatch(pod.spec, agents, sidecar, planned.plan);
  switch (r.kind) {
    case 'nothing-to-do': return { kind: 'skip', reason: `already injected (${A.STATUS}: ${A.STATUS_INJECTED}), every container wired` };
    case 'cannot': return failed(config, r.reason);
    case 'patch': return { kind: 'patch', patch: r.patch, warnings: [] };
  }
}

export function injectPod(pod: unknown, o: InjectOptions): InjectResult {
  const decided = shouldInject(pod);
  if (decided.kind === 'skip') return decided;
  if (decided.kind === 'malformed') return failed(o.config, decided.reason);
  if (decided.kind === 'rewire') return rewire(decided.pod, decided.sidecar, o.config);
  const planned = planInjection(decided.pod.annotations, o.config);
  if (!planned.ok) return failed(o.config, planned.reason);
  const conflict = findConflict(decided.pod, planned.plan, o);
  if (conflict) return failed(o.config, conflict);
  const warnings = o.nativeSidecars ? [] : [
    `chaperone: ${SIDECAR_NAME} runs as a regular container (no native sidecars): it starts beside the agent, not before it, and keeps a Job's pod running`,
  ];
  return { kind: 'patch', patch: buildPatch(decided.pod, planned.plan, o), warnings };
}
