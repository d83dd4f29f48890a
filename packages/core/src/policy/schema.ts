// zod schemas that turn parsed YAML into exactly the policy documents of policy/types.ts.
import { z } from 'zod';
import { expandKinds } from '../sql/kinds.js';
import { DEFAULT_APPROVAL_TIMEOUT, MAX_APPROVAL_SECONDS, parseDuration, ruleFamilies } from './rule-terms.js';
import { API_VERSION, DETECTOR_NAMES, MASK_STRATEGIES, SHELL_OPERATIONS } from './types.js';
import type { AccessPolicyDoc, ConnectionDoc, PolicyDoc } from './types.js';

// Kubernetes object names (DNS-1123 subdomain) and namespaces (DNS-1123 label), so the same
// documents can later be served as CRDs.
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const objectName = z.string()
  .max(253, 'must be at most 253 characters')
  .regex(DNS_SUBDOMAIN, 'must be a DNS-1123 name: lower-case letters, digits, "-" and "."');
const namespaceName = z.string()
  .max(63, 'must be at most 63 characters')
  .regex(DNS_LABEL, 'must be a DNS-1123 label: lower-case letters, digits and "-"');
const port = z.number().int('must be an integer').min(1, 'must be 1..65535').max(65535, 'must be 1..65535');
const nonEmpty = z.string().min(1, 'must not be empty');

const metadata = z.strictObject({
  name: objectName,
  namespace: namespaceName.optional(),
  labels: z.record(nonEmpty, z.string()).optional(),
});

const postgresTarget = z.strictObject({
  host: nonEmpty.regex(/^\S+$/, 'must not contain whitespace'),
  port,
  database: nonEmpty,
  sslmode: z.enum(['disable', 'prefer', 'require', 'verify-full']).optional(),
});

const secretRef = z.strictObject({ secretRef: z.strictObject({ name: objectName, namespace: namespaceName.optional() }) });
const serviceAccountRef = z.strictObject({
  serviceAccount: z.strictObject({
    namespace: namespaceName,
    name: objectName,
    // The API server's own bounds for a TokenRequest.
    expirationSeconds: z.number().int().min(600, 'must be at least 600').max(86400, 'must be at most 86400').optional(),
  }),
});
const listen = z.strictObject({ port });

const sshTarget = z.strictObject({
  host: nonEmpty.regex(/^\S+$/, 'must not contain whitespace'),
  port,
  user: nonEmpty.regex(/^\S+$/, 'must not contain whitespace'),
  hostKey: z.string().regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,2}( .*)?$/,
    'must be an OpenSSH public key line like "ssh-ed25519 AAAA…"'),
});

const kubernetesTarget = z.strictObject({
  server: z.string().regex(/^https:\/\/[^\s/]+\/?$/, 'must be an https:// URL of the API server (scheme, host and port only)'),
  caBundle: z.string().includes('-----BEGIN CERTIFICATE-----', { message: 'must be a PEM certificate bundle' }).optional(),
});

const connectionSpec = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('postgres'), target: postgresTarget, credentials: secretRef, listen }),
  z.strictObject({ type: z.literal('ssh'), target: sshTarget, credentials: secretRef, listen }),
  z.strictObject({ type: z.literal('kubernetes'), target: kubernetesTarget, credentials: z.union([secretRef, serviceAccountRef], { error: 'must be secretRef or serviceAccount' }), listen }),
]);

export const ConnectionSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Connection'),
  metadata,
  spec: connectionSpec,
});

const duration = z.string().superRefine((v, ctx) => {
  const seconds = parseDuration(v);
  if (seconds === undefined) ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration like 30s, 10m or 1h` });
  else if (seconds > MAX_APPROVAL_SECONDS) ctx.addIssue({ code: 'custom', message: 'must be at most 24h' });
});

// One or two dot-separated parts (`table`, `schema.table`), `*` as a wildcard inside a part.
const qualifiedPattern = (what: string, minParts: number, maxParts: number) =>
  z.string().superRefine((v, ctx) => {
    const parts = v.split('.');
    if (/\s/.test(v) || parts.length < minParts || parts.length > maxParts || parts.some((p) => p === '')) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a ${what} pattern` });
    }
  });

// Kubernetes `[group/]resource[/subresource]`: one to three non-empty parts.
const qualifiedPatternSlash = z.string().superRefine((v, ctx) => {
  const parts = v.split('/');
  if (/\s/.test(v) || parts.length > 3 || parts.some((p) => p === '')) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a resource pattern ([group/]resource[/subresource])` });
  }
});

const statementKinds = z.array(z.string()).min(1, 'must list at least one statement kind').superRefine((names, ctx) => {
  names.forEach((name, i) => {
    if (expandKinds([name]).unknown.length > 0) ctx.addIssue({ code: 'custom', path: [i], message: `unknown statement kind "${name}"` });
  });
});

const patterns = (what: string) => z.array(z.string().min(1, 'must not be empty').regex(/^\S+$/, `must be a ${what} without whitespace`))
  .min(1, 'must not be empty');

const ruleMatch = z.strictObject({
  statements: statementKinds.optional(),
  tables: z.array(qualifiedPattern('table ([schema.]table)', 1, 2)).min(1, 'must not be empty').optional(),
  functions: z.array(qualifiedPattern('function ([schema.]function)', 1, 2)).min(1, 'must not be empty').optional(),
  commands: z.array(z.string().trim().min(1, 'must not be empty')).min(1, 'must not be empty').optional(),
  operations: z.array(z.enum(SHELL_OPERATIONS, { error: `must be one of ${SHELL_OPERATIONS.join(', ')}` })).min(1, 'must not be empty').optional(),
  verbs: patterns('verb').optional(),
  resources: z.array(qualifiedPatternSlash).min(1, 'must not be empty').optional(),
  namespaces: patterns('namespace').optional(),
  names: patterns('name').optional(),
  columns: z.array(qualifiedPattern('column ([schema.]table.column)', 2, 3)).min(1, 'must not be empty').optional(),
  detectors: z.array(z.enum(DETECTOR_NAMES, { error: `must be one of ${DETECTOR_NAMES.join(', ')}` })).min(1, 'must not be empty').optional(),
});

const RULE_NAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;

// One flat object checked field by field, then per action, so every message names the field.
const rule = z.strictObject({
  action: z.enum(['allow', 'deny', 'approve', 'mask']),
  match: ruleMatch,
  message: nonEmpty.optional(),
  name: z.string().max(63, 'must be at most 63 characters').regex(RULE_NAME, 'must be letters, digits, "-", "_" and "."').optional(),
  approvers: z.array(nonEmpty).min(1, 'must name at least one approver').optional(),
  timeout: duration.optional(),
  strategy: z.enum(MASK_STRATEGIES, { error: `must be one of ${MASK_STRATEGIES.join(', ')}` }).optional(),
  keep: z.number().int('must be an integer').min(1, 'must be at least 1').max(64, 'must be at most 64').optional(),
}).superRefine((r, ctx) => {
  const only = (field: 'approvers' | 'timeout' | 'strategy' | 'keep', action: string) => {
    if (r[field] !== undefined && r.action !== action) {
      ctx.addIssue({ code: 'custom', path: [field], message: `${field} is only for ${action} rules` });
    }
  };
  only('approvers', 'approve');
  only('timeout', 'approve');
  only('strategy', 'mask');
  only('keep', 'mask');
  if (r.keep !== undefined && r.strategy !== 'partial') ctx.addIssue({ code: 'custom', path: ['keep'], message: 'keep is only for the partial strategy' });
  if (r.action === 'approve' && r.approvers === undefined) {
    ctx.addIssue({ code: 'custom', path: ['approvers'], message: 'approve rules need approvers' });
  }
  const m = r.match;
  if (r.action === 'mask') {
    if (m.columns === undefined && m.detectors === undefined && m.resources === undefined) {
      ctx.addIssue({ code: 'custom', path: ['match'], message: 'mask rules need columns, detectors or resources' });
    }
    for (const field of ['statements', 'tables', 'functions', 'commands', 'operations', 'verbs', 'namespaces', 'names'] as const) {
      if (m[field] !== undefined) ctx.addIssue({ code: 'custom', path: ['match', field], message: `mask rules match on columns, detectors and resources, not ${field}` });
    }
  } else {
    for (const field of ['columns', 'detectors'] as const) {
      if (m[field] !== undefined) ctx.addIssue({ code: 'custom', path: ['match', field], message: `${field} is only for mask rules` });
    }
    const families = ruleFamilies(m);
    // An empty match would match everything; `default` says that more plainly.
    if (families.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['match'], message: `${r.action} rules need statements, tables or functions (SQL), commands or operations (SSH), or verbs, resources, namespaces or names (Kubernetes); use default for everything` });
    } else if (families.length > 1) {
      ctx.addIssue({ code: 'custom', path: ['match'], message: `a rule matches one kind of connection; this one mixes ${families.join(' and ')} fields` });
    }
  }
}).transform((r) => (r.action === 'approve' && r.timeout === undefined ? { ...r, timeout: DEFAULT_APPROVAL_TIMEOUT } : r));

// Kubernetes label syntax: key `[dns-subdomain-prefix/]name`, name and value up to 63 of
// [A-Za-z0-9-_.] starting and ending alphanumeric (a value may be empty).
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
function isLabelKey(k: string): boolean {
  const slash = k.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : k.slice(0, slash);
  return LABEL_NAME.test(slash < 0 ? k : k.slice(slash + 1)) && (prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix)));
}
const labelValue = z.string().regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, 'is not a label value');

const podSelector = z.strictObject({
  // Keys are checked here rather than by the record's key schema, whose issues lose their message.
  matchLabels: z.record(z.string(), labelValue).superRefine((m, ctx) => {
    const keys = Object.keys(m);
    if (keys.length === 0) ctx.addIssue({ code: 'custom', message: 'must name at least one label' });
    for (const k of keys) if (!isLabelKey(k)) ctx.addIssue({ code: 'custom', path: [k], message: `"${k}" is not a label key ([prefix/]name)` });
  }),
});

const subject = z.strictObject({
  serviceAccount: z.strictObject({
    namespace: namespaceName,
    name: z.union([z.literal('*'), objectName], { error: 'must be a service account name or "*"' }),
  }).optional(),
  namespace: namespaceName.optional(),
  podSelector: podSelector.optional(),
  group: nonEmpty.optional(),
}).superRefine((s, ctx) => {
  const kinds = [s.serviceAccount, s.namespace, s.group].filter((k) => k !== undefined).length;
  if (kinds !== 1) ctx.addIssue({ code: 'custom', message: 'a subject is exactly one of serviceAccount, namespace or group' });
  if (s.podSelector !== undefined && s.group !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['podSelector'], message: 'podSelector goes with serviceAccount or namespace, not group' });
  }
});

const accessPolicySpec = z.strictObject({
  subjects: z.array(subject).min(1, 'must name at least one subject'),
  connections: z.array(objectName).min(1, 'must name at least one connection'),
  rules: z.array(rule).default([]),
  // Fail closed: a policy that does not say otherwise denies what no rule matches.
  default: z.enum(['allow', 'deny']).default('deny'),
}).superRefine((spec, ctx) => {
  const seen = new Set<string>();
  spec.rules.forEach((r, i) => {
    if (r.name === undefined) return;
    if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `duplicate rule name "${r.name}"` });
    seen.add(r.name);
  });
});

export const AccessPolicySchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('AccessPolicy'),
  metadata,
  spec: accessPolicySpec,
});

export const PolicyDocSchema = z.discriminatedUnion('kind', [ConnectionSchema, AccessPolicySchema]);

// The schemas' output must be exactly the hand-written types, both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _connectionExact: Same<z.output<typeof ConnectionSchema>['spec']['type'], ConnectionDoc['spec']['type']> = true;
const _connectionFits: (d: z.output<typeof ConnectionSchema>) => ConnectionDoc = (d) => d;
const _policyFits: (d: z.output<typeof AccessPolicySchema>) => AccessPolicyDoc = (d) => d;
const _policyExact: Same<z.output<typeof AccessPolicySchema>['spec']['default'], AccessPolicyDoc['spec']['default']> = true;
const _docFits: (d: z.output<typeof PolicyDocSchema>) => PolicyDoc = (d) => d;
void _connectionExact; void _connectionFits; void _policyFits; void _policyExact; void _docFits;
