// Decides each Kubernetes API request against the kubernetes-family rules of one connection's
// policies: deny over approve over allow, then the policies' default (like policy/decide.ts).
import type { Decision } from '../decision.js';
import { compileRuleSet, defaultDecision, noPolicyDecision, ruleDecision } from '../policy/compile-common.js';
import type { CompiledRuleBase, CompiledRuleSet } from '../policy/compile-common.js';
import type { AccessPolicyDoc } from '../policy/types.js';
import type { RequestInfo } from './request-info.js';

type Matcher = (text: string) => boolean;

/** Matches a request's group, resource and subresource; built from `[group/]resource[/subresource]`. */
export type ResourceMatcher = (group: string, resource: string, subresource: string | undefined) => boolean;

export interface CompiledKubeRule extends CompiledRuleBase {
  readonly verbs: Matcher | undefined;
  readonly resources: ResourceMatcher | undefined;
  readonly namespaces: Matcher | undefined;
  readonly names: Matcher | undefined;
}

export type CompiledKubePolicy = CompiledRuleSet<CompiledKubeRule>;

export function compileKubePolicies(policies: readonly AccessPolicyDoc[], connection: string): CompiledKubePolicy {
  return compileRuleSet<CompiledKubeRule>(policies, connection, {
    family: 'kubernetes',
    compileRule: (match, base) => ({
      ...base,
      verbs: match.verbs === undefined ? undefined : anyOf(match.verbs.map((v) => glob(v, false))),
      resources: match.resources === undefined ? undefined : compileResources(match.resources, base.action !== 'allow'),
      namespaces: match.namespaces === undefined ? undefined : anyOf(match.namespaces.map((v) => glob(v, false))),
      names: match.names === undefined ? undefined : anyOf(match.names.map((v) => glob(v, false))),
    }),
  });
}

/**
 * Non-resource paths clients need (discovery, /version, /openapi, health, the issuer's
 * discovery documents) are allowed read-only, whatever the rules say: they carry no object.
 * Every other non-resource path (/logs, /metrics, /debug/pprof…) and every write is refused.
 */
const READABLE_NON_RESOURCE = /^\/(?:api|apis|version|openapi|healthz|livez|readyz|\.well-known\/openid-configuration|openid\/v1\/jwks)(?:\/|$)/;

export function decideKube(compiled: CompiledKubePolicy, info: RequestInfo): Decision {
  if (compiled.policies.length === 0) {
    return noPolicyDecision(compiled.connection);
  }
  if (info.kind === 'non-resource') {
    if (!READABLE_NON_RESOURCE.test(info.path)) {
      return { action: 'deny', policy: '', rule: 'non-resource', message: `${info.path} is not served through chaperone (only discovery, /version, /openapi and health paths)` };
    }
    if (info.verb === 'get' || info.verb === 'head') return { action: 'allow', policy: '', rule: 'non-resource-read' };
    return { action: 'deny', policy: '', rule: 'non-resource-write', message: `${info.verb.toUpperCase()} ${info.path} is not allowed: non-resource paths are read-only through chaperone` };
  }
  for (const r of compiled.rules) {
    if (matches(r, info)) return ruleDecision(r, () => describeRequest(info), 'rule-and-policy');
  }
  return defaultDecision(compiled, () => describeRequest(info));
}

/** `list secrets in namespace prod`, `delete apps/deployments "web" in namespace prod`. */
export function describeRequest(info: Extract<RequestInfo, { kind: 'resource' }>): string {
  let r = info.group === '' ? info.resource : `${info.group}/${info.resource}`;
  if (info.subresource !== undefined) r += `/${info.subresource}`;
  let out = `${info.verb} ${r}`;
  if (info.name !== undefined) out += ` "${info.name}"`;
  out += info.namespace === undefined ? ' (cluster-scoped)' : ` in namespace ${info.namespace}`;
  return out;
}

/**
 * Every criterion a rule gives must match. As in RBAC, `names` matches only requests that name
 * an object (a plain list is not caught by a names rule), and `namespaces` only namespaced ones.
 */
function matches(r: CompiledKubeRule, info: Extract<RequestInfo, { kind: 'resource' }>): boolean {
  if (r.verbs !== undefined && !r.verbs(info.verb)) return false;
  if (r.resources !== undefined && !r.resources(info.group, info.resource, info.subresource)) return false;
  if (r.namespaces !== undefined && (info.namespace === undefined || !r.namespaces(info.namespace))) return false;
  if (r.names !== undefined && (info.name === undefined || !r.names(info.name))) return false;
  return true;
}

/**
 * `[group/]resource[/subresource]`, `*` wildcards per part; `*` alone matches everything.
 * - `pods` is the resource without subresource (RBAC: `pods` does not cover `pods/log`);
 *   `pods/*` covers its subresources.
 * - two parts are either group/resource or resource/subresource of the core group (no API
 *   group is named like a core resource), and both readings are tried.
 * - no group given: deny, approve and mask rules catch the resource in any group (fail closed),
 *   allow rules only in the core group (the documented meaning of a bare name).
 */
export function compileResources(patterns: readonly string[], restrictive: boolean): ResourceMatcher {
  const tests = patterns.map((p): ResourceMatcher => {
    if (p === '*') return () => true;
    const parts = p.split('/').map((s) => glob(s, false));
    const [a, b, c] = parts;
    const core = (group: string) => group === '' || restrictive;
    if (parts.length === 1 && a) return (g, r, s) => core(g) && s === undefined && a(r);
    if (parts.length === 2 && a && b) {
      return (g, r, s) => (s === undefined ? a(g) && b(r) : core(g) && a(r) && b(s));
    }
    if (parts.length === 3 && a && b && c) return (g, r, s) => s !== undefined && a(g) && b(r) && c(s);
    return () => false;
  });
  return (g, r, s) => tests.some((t) => t(g, r, s));
}

function anyOf(ms: Matcher[]): Matcher {
  return (text) => ms.some((m) => m(text));
}

/** `*` matches any run of characters; Kubernetes names are case-sensitive. */
function glob(pattern: string, caseless: boolean): Matcher {
  if (pattern === '*') return () => true;
  if (!pattern.includes('*')) return caseless ? (t) => t.toLowerCase() === pattern.toLowerCase() : (t) => t === pattern;
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, caseless ? 'is' : 's');
  return (t) => re.test(t);
}
