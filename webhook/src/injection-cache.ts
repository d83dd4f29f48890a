// Per-server memo of what depends only on the config and the plan (the sidecar container, its volumes, and their JSON text), dropped when the config reloads.
import type { V1Container, V1Volume } from '@kubernetes/client-node';
import type { WebhookConfig } from './config.js';
import type { JsonPatchOp } from './json-patch.js';
import type { InjectionPlan } from './overrides.js';
import { sidecarContainer, sidecarVolumes } from './sidecar.js';

export interface InjectionCache {
  /** The same value as sidecarContainer(config, plan, native), built once per (config, plan, native); frozen. */
  sidecar(config: WebhookConfig, plan: InjectionPlan, native: boolean): Readonly<V1Container>;
  /** The same values as sidecarVolumes(config, plan), built once per (config, plan); frozen. */
  volumes(config: WebhookConfig, plan: InjectionPlan): readonly Readonly<V1Volume>[];
  /** JSON.stringify(patch), with the values this cache built serialised once. */
  patchText(patch: readonly JsonPatchOp[]): string;
}

/** Annotation values are the pod author's: bound the plans kept, so distinct values cannot grow memory without end. */
const MAX_PLANS = 256;

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** Every field of the plan the sidecar and its volumes are built from. */
function planKey(plan: InjectionPlan): string {
  const r = plan.resources;
  return [
    plan.connections.map((c) => `${c.name}=${c.type}:${c.port}`).join(','),
    plan.requested === undefined ? '*' : plan.requested.join(','),
    plan.logLevel, r.requests.cpu, r.requests.memory, r.limits.cpu, r.limits.memory,
  ].join('\0');
}

export function createInjectionCache(): InjectionCache {
  let forConfig: WebhookConfig | undefined;
  const containers = new Map<string, Readonly<V1Container>>();
  const volumeLists = new Map<string, readonly Readonly<V1Volume>[]>();
  // Keyed by the frozen objects above; they go when the maps drop them.
  const texts = new WeakMap<object, string>();

  /** A reloaded config is a new object: everything built from the old one goes. */
  function using(config: WebhookConfig): void {
    if (config === forConfig && containers.size + volumeLists.size < MAX_PLANS) return;
    forConfig = config;
    containers.clear();
    volumeLists.clear();
  }
  function remember<T extends object>(value: T): T {
    deepFreeze(value);
    texts.set(value, JSON.stringify(value));
    return value;
  }

  return {
    sidecar(config, plan, native) {
      using(config);
      const key = `${native ? 'native' : 'fallback'}\0${planKey(plan)}`;
      let c = containers.get(key);
      if (c === undefined) containers.set(key, (c = remember(sidecarContainer(config, plan, native))));
      return c;
    },
    volumes(config, plan) {
      using(config);
      const key = planKey(plan);
      let v = volumeLists.get(key);
      if (v === undefined) volumeLists.set(key, (v = sidecarVolumes(config, plan).map(remember)));
      return v;
    },
    patchText(patch) {
      // Arrays are looked into: a pod without initContainers gets the sidecar as `[sidecar]`.
      const text = (v: unknown): string => {
        if (typeof v !== 'object' || v === null) return JSON.stringify(v);
        if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : text(x))).join(',')}]`;
        return texts.get(v) ?? JSON.stringify(v);
      };
      // The key order of JsonPatchOp literals ({op, path, value}), so the text equals JSON.stringify(patch).
      const parts = patch.map((o) => {
        const head = `{"op":"${o.op}","path":${JSON.stringify(o.path)}`;
        return o.op === 'remove' || o.value === undefined ? `${head}}` : `${head},"value":${text(o.value)}}`;
      });
      return `[${parts.join(',')}]`;
    },
  };
}
