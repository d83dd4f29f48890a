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

export interface SshTarget {
  host: string;
  port: number;
  /** The login name on the target. A credential's own username, when it has one, wins. */
  user: string;
  /**
   * The target's public host key as in known_hosts/`*.pub` (`ssh-ed25519 AAAA…`). The sidecar
   * refuses a target presenting any other key.
   */
  hostKey: string;
}

export interface KubernetesTarget {
  /** The API server, `https://host[:port]`. */
  server: string;
  /** PEM CA bundle for the API server's certificate; the system roots when absent. */
  caBundle?: string;
}

/**
 * Where the control plane gets a connection's credential; never sent to the agent.
 * - secretRef: a Secret (postgres/ssh: `username` with `password` or `ssh-privatekey`;
 *   kubernetes: `token`).
 * - serviceAccount (kubernetes only): a short-lived TokenRequest token for that account.
 */
export type CredentialsRef =
  | { secretRef: { name: string; namespace?: string } }
  | { serviceAccount: { namespace: string; name: string; expirationSeconds?: number } };

export interface ConnectionSpec {
  type: ConnectionType;
  target: PostgresTarget | SshTarget | KubernetesTarget;
  credentials: CredentialsRef;
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
  /** Matches no sidecar identity today (those are service accounts); people and their groups appear as approvers (`approvers: [group:…]`), verified through OIDC. */
  group?: string;
}

export interface PodSelector {
  matchLabels: Record<string, string>;
}

/**
 * What a rule matches. Its fields come in families, one family per rule (policy/schema.ts):
 * - sql (postgres connections): statements, tables, functions;
 * - shell (ssh connections, and kubernetes pods/exec): commands, operations;
 * - kubernetes (kubernetes connections): verbs, resources, namespaces, names;
 * - mask rules: columns (postgres), detectors (postgres results, ssh output, kubernetes logs),
 *   resources (kubernetes: the Secrets whose data is masked).
 * A rule applies only to the connections its family speaks for; the others ignore it.
 */
export interface RuleMatch {
  /** Statement kinds or kind groups (sql/kinds.ts). */
  statements?: string[];
  /** Table names, `*` wildcards, optionally schema-qualified. */
  tables?: string[];
  /** Function names, `*` wildcards, optionally schema-qualified. */
  functions?: string[];
  /**
   * Shell commands: a program name, optionally followed by argument patterns, `*` wildcards
   * (`rm`, `systemctl restart *`, `kubectl delete *`). Matched against every simple command a
   * shell-syntax parser finds in a command line, wrappers (sh -c, sudo, env, xargs…) unwrapped.
   * The program is matched by base name (`/bin/rm` is `rm`); a program alone matches any
   * arguments. Deny and approve rules catch a line when ANY of its commands matches, the
   * pattern's arguments appearing in order among the command's (others may come between);
   * allow rules must cover ALL of them, argument by argument, a trailing `*` for the rest. A
   * program that cannot be known before it runs (`$X`) is matched only by `*` and otherwise
   * denied. shell/policy.ts decides.
   */
  commands?: string[];
  /**
   * SSH session operations (ShellOperation). With commands, the rule applies to command lines
   * arriving by these operations (exec, or a line typed at a shell); alone, it decides the
   * operation itself (and every command line of an exec or shell it names).
   */
  operations?: ShellOperation[];
  /** Kubernetes verbs: get, list, watch, create, update, patch, delete, deletecollection, or `*`. */
  verbs?: string[];
  /** Kubernetes `[group/]resource[/subresource]`, `*` wildcards; the core group is empty: `pods`, `apps/deployments`, `pods/exec`. */
  resources?: string[];
  /** Kubernetes namespaces, `*` wildcards. */
  namespaces?: string[];
  /** Kubernetes object names, `*` wildcards. */
  names?: string[];
  /** Mask rules: `table.column` patterns. */
  columns?: string[];
  /** Mask rules: detector names (DETECTOR_NAMES). */
  detectors?: DetectorName[];
}

/**
 * What an SSH session may do besides running commands: an interactive shell, file transfer
 * (SFTP and scp) reading or writing, and forwarding. Forwarding is denied unless allowed.
 */
export const SHELL_OPERATIONS = ['exec', 'shell', 'file-read', 'file-write', 'port-forward', 'agent-forward'] as const;
export type ShellOperation = typeof SHELL_OPERATIONS[number];

/** The value detectors a mask rule may name. */
export const DETECTOR_NAMES = ['credit_card', 'email', 'phone', 'us_ssn', 'iban', 'jwt', 'cloud_key', 'private_key'] as const;
export type DetectorName = typeof DETECTOR_NAMES[number];

/** How a mask rule replaces a value. */
export const MASK_STRATEGIES = ['redact', 'partial', 'hash', 'null'] as const;
export type MaskStrategy = typeof MASK_STRATEGIES[number];

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
  /** mask: how values are replaced; `redact` when absent. */
  strategy?: MaskStrategy;
  /** mask, strategy partial: how many trailing characters stay visible (default 4). */
  keep?: number;
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
