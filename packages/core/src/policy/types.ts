// The policy documents of the design brief, as TypeScript types. policy/schema.ts validates
// YAML into exactly these shapes.

export const API_VERSION = 'chaperone.dev/v1alpha1';

export type ConnectionType = 'postgres' | 'ssh' | 'kubernetes';

export interface Metadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
}

export interface PostgresTarget {
  host: string;
  port: number;
  database: string;
  /** `disable` | `prefer` | `require` | `verify-full`, as libpq's sslmode. */
  sslmode?: 'disable' | 'prefer' | 'require' | 'verify-full';
}

export interface ConnectionSpec {
  type: ConnectionType;
  target: PostgresTarget | Record<string, unknown>;
  /** Where the control plane finds the credential; never sent to the agent. */
  credentials: { secretRef: { name: string; namespace?: string } };
  /** The localhost port inside the agent pod. */
  listen: { port: number };
}

export interface ConnectionDoc {
  apiVersion: typeof API_VERSION;
  kind: 'Connection';
  metadata: Metadata;
  spec: ConnectionSpec;
}

/** Exactly one of serviceAccount, namespace or group; podSelector narrows the first two. */
export interface Subject {
  serviceAccount?: { namespace: string; name: string };
  /** Every service account of this namespace. */
  namespace?: string;
  /** Only pods whose labels include all of these (Kubernetes identities, which name their pod). */
  podSelector?: PodSelector;
  /** `group:<name>`-style subjects come with OIDC in a later issue. */
  group?: string;
}

export interface PodSelector {
  matchLabels: Record<string, string>;
}

export interface RuleMatch {
  /** Statement kinds or kind groups (sql/kinds.ts). */
  statements?: string[];
  /** Table names, `*` wildcards, optionally schema-qualified. */
  tables?: string[];
  /** Function names, `*` wildcards, optionally schema-qualified. */
  functions?: string[];
  /** Mask rules: `table.column` patterns. */
  columns?: string[];
  /** Mask rules: detector names. */
  detectors?: string[];
}

export type RuleAction = 'allow' | 'deny' | 'approve' | 'mask';

export interface Rule {
  action: RuleAction;
  match: RuleMatch;
  message?: string;
  /** Optional name for messages and metrics; defaults to `<policy>#<index>`. */
  name?: string;
  /** approve: who may approve, e.g. `group:dba`. */
  approvers?: string[];
  /** approve: how long to wait, e.g. `10m`, `30s`. */
  timeout?: string;
  /** mask: strategy (later issue). */
  strategy?: string;
}

export interface AccessPolicySpec {
  subjects: Subject[];
  connections: string[];
  rules: Rule[];
  /** What no rule matches gets. Omitted in YAML it is `deny` (fail closed; policy/schema.ts). */
  default: 'allow' | 'deny';
}

export interface AccessPolicyDoc {
  apiVersion: typeof API_VERSION;
  kind: 'AccessPolicy';
  metadata: Metadata;
  spec: AccessPolicySpec;
}

export type PolicyDoc = ConnectionDoc | AccessPolicyDoc;

/** Everything one identity is subject to: what the control plane sends the sidecar. */
export interface PolicyBundle {
  /** Content hash of the bundle; changes whenever anything in it changes. */
  version: string;
  connections: ConnectionDoc[];
  policies: AccessPolicyDoc[];
}
