// Table-driven tests of the policy document schemas: what is accepted, defaults, and each refusal's path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from './rule-terms.js';
import { AccessPolicySchema, ConnectionSchema, PolicyDocSchema } from './schema.js';

const API = 'chaperone.dev/v1alpha1';

function connection(spec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: API, kind: 'Connection', metadata: { name: 'orders-db' },
    spec: {
      type: 'postgres', target: { host: 'orders-db.prod.svc', port: 5432, database: 'orders' },
      credentials: { secretRef: { name: 'orders-db-admin' } }, listen: { port: 5432 }, ...spec,
    },
    ...extra,
  };
}

function policy(spec: Record<string, unknown> = {}, rules: unknown[] = []) {
  return {
    apiVersion: API, kind: 'AccessPolicy', metadata: { name: 'support-agents' },
    spec: { subjects: [{ serviceAccount: { namespace: 'agents', name: 'support-bot' } }], connections: ['orders-db'], rules, ...spec },
  };
}

/** Paths and messages of the issues, formatted like the loader does. */
function issues(schema: { safeParse(v: unknown): { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } }, value: unknown): string[] {
  const r = schema.safeParse(value);
  return r.success ? [] : r.error!.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`);
}

test('the design brief example is accepted as written', () => {
  const c = ConnectionSchema.parse(connection());
  assert.equal(c.spec.type, 'postgres');
  const p = AccessPolicySchema.parse(policy({ default: 'allow' }, [
    { action: 'deny', match: { statements: ['drop', 'truncate', 'alter'] }, message: 'no schema changes' },
    { action: 'approve', match: { statements: ['delete', 'update'] }, approvers: ['group:dba'], timeout: '10m' },
    { action: 'mask', match: { columns: ['customers.email', '*.card_number'] } },
    { action: 'mask', match: { detectors: ['credit_card', 'email'] } },
  ]));
  assert.equal(p.spec.rules.length, 4);
  assert.equal(p.spec.default, 'allow');
});

test('defaults: default is deny (fail closed), rules empty, approve timeout 10m', () => {
  const p = AccessPolicySchema.parse(policy({}, [{ action: 'approve', match: { statements: ['write'] }, approvers: ['group:dba'] }]));
  assert.equal(p.spec.default, 'deny');
  assert.equal(p.spec.rules[0]!.timeout, '10m');
  const bare = AccessPolicySchema.parse({ ...policy(), spec: { subjects: policy().spec.subjects, connections: ['x'] } });
  assert.deepEqual(bare.spec.rules, []);
  assert.equal(bare.spec.rules.length, 0);
});

test('ssh and kubernetes targets: their own shapes; kubernetes may take a service-account token', () => {
  const hostKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl bastion';
  assert.deepEqual(issues(ConnectionSchema, connection({ type: 'ssh', target: { host: 'bastion', port: 22, user: 'ops', hostKey } })), []);
  assert.deepEqual(issues(ConnectionSchema, connection({ type: 'ssh', target: { host: 'bastion', port: 22, user: 'ops', hostKey: 'AAAA' } })),
    ['spec.target.hostKey: must be an OpenSSH public key line like "ssh-ed25519 AAAA…"']);
  assert.deepEqual(issues(ConnectionSchema, connection({ type: 'kubernetes', target: { server: 'https://10.0.0.1:6443' }, credentials: { serviceAccount: { namespace: 'agents', name: 'reader' } } })), []);
  assert.deepEqual(issues(ConnectionSchema, connection({ type: 'kubernetes', target: { server: 'http://10.0.0.1' } })),
    ['spec.target.server: must be an https:// URL of the API server (scheme, host and port only)']);
  assert.deepEqual(issues(ConnectionSchema, connection({ type: 'ssh', target: { host: 'b', port: 22, user: 'u', hostKey }, credentials: { serviceAccount: { namespace: 'a', name: 'b' } } })),
    ['spec.credentials.secretRef: Invalid input: expected object, received undefined', 'spec.credentials: Unrecognized key: "serviceAccount"']);
});

test('rules: one family of match fields each; shell and kubernetes fields', () => {
  const ok = [
    { action: 'deny', match: { commands: ['rm', 'systemctl restart *'] } },
    { action: 'allow', match: { operations: ['file-read'] } },
    { action: 'approve', match: { verbs: ['delete'], resources: ['apps/deployments', 'pods/exec'], namespaces: ['prod-*'] }, approvers: ['group:sre'] },
    { action: 'mask', match: { resources: ['secrets'] } },
    { action: 'mask', match: { columns: ['customers.email'] }, strategy: 'partial', keep: 4 },
  ];
  assert.deepEqual(issues(AccessPolicySchema, policy({}, ok)), []);
  assert.deepEqual(issues(AccessPolicySchema, policy({}, [{ action: 'deny', match: { statements: ['drop'], commands: ['rm'] } }])),
    ['spec.rules.0.match: a rule matches one kind of connection; this one mixes sql and shell fields']);
  assert.deepEqual(issues(AccessPolicySchema, policy({}, [{ action: 'allow', match: { operations: ['teleport'] } }])),
    ['spec.rules.0.match.operations.0: must be one of exec, shell, file-read, file-write, port-forward, agent-forward']);
  assert.deepEqual(issues(AccessPolicySchema, policy({}, [{ action: 'mask', match: { columns: ['a.b'] }, keep: 2 }])),
    ['spec.rules.0.keep: keep is only for the partial strategy']);
});

test('subjects: a service account (name may be *), a namespace or a group, exactly one; podSelector with the first two', () => {
  const ok = [
    [{ serviceAccount: { namespace: 'agents', name: '*' } }],
    [{ group: 'dba' }],
    [{ namespace: 'agents' }],
    [{ namespace: 'agents', podSelector: { matchLabels: { app: 'support', 'chaperone.dev/tier': '' } } }],
    [{ serviceAccount: { namespace: 'agents', name: 'bot' }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'x-1.2_b' } } }],
  ];
  for (const subjects of ok) assert.deepEqual(issues(AccessPolicySchema, policy({ subjects })), [], JSON.stringify(subjects));
});

const refused: { name: string; schema: typeof ConnectionSchema | typeof AccessPolicySchema | typeof PolicyDocSchema; value: unknown; expect: string[] }[] = [
  { name: 'wrong apiVersion', schema: ConnectionSchema, value: connection({}, { apiVersion: 'v1' }), expect: ['apiVersion: Invalid input: expected "chaperone.dev/v1alpha1"'] },
  { name: 'unknown kind', schema: PolicyDocSchema, value: { ...connection(), kind: 'Secret' }, expect: ['kind: Invalid discriminator value. Expected \'Connection\' | \'AccessPolicy\''] },
  { name: 'not DNS name', schema: ConnectionSchema, value: { ...connection(), metadata: { name: 'Orders_DB' } }, expect: ['metadata.name: must be a DNS-1123 name: lower-case letters, digits, "-" and "."'] },
  { name: 'unknown top-level field', schema: ConnectionSchema, value: connection({}, { status: {} }), expect: [': Unrecognized key: "status"'] },
  { name: 'unknown connection type', schema: ConnectionSchema, value: connection({ type: 'mysql' }), expect: ['spec.type: Invalid discriminator value. Expected \'postgres\' | \'ssh\' | \'kubernetes\''] },
  { name: 'postgres target without database', schema: ConnectionSchema, value: connection({ target: { host: 'h', port: 5432 } }), expect: ['spec.target.database: Invalid input: expected string, received undefined'] },
  { name: 'port 0', schema: ConnectionSchema, value: connection({ listen: { port: 0 } }), expect: ['spec.listen.port: must be 1..65535'] },
  { name: 'port 65536', schema: ConnectionSchema, value: connection({ target: { host: 'h', port: 65536, database: 'd' } }), expect: ['spec.target.port: must be 1..65535'] },
  { name: 'port as string', schema: ConnectionSchema, value: connection({ listen: { port: '5432' } }), expect: ['spec.listen.port: Invalid input: expected number, received string'] },
  { name: 'fractional port', schema: ConnectionSchema, value: connection({ listen: { port: 54.5 } }), expect: ['spec.listen.port: must be an integer'] },
  { name: 'bad sslmode', schema: ConnectionSchema, value: connection({ target: { host: 'h', port: 1, database: 'd', sslmode: 'allow' } }), expect: ['spec.target.sslmode: Invalid option: expected one of "disable"|"prefer"|"require"|"verify-full"'] },
  { name: 'no subjects', schema: AccessPolicySchema, value: policy({ subjects: [] }), expect: ['spec.subjects: must name at least one subject'] },
  { name: 'subject with both', schema: AccessPolicySchema, value: policy({ subjects: [{ group: 'g', serviceAccount: { namespace: 'a', name: 'b' } }] }), expect: ['spec.subjects.0: a subject is exactly one of serviceAccount, namespace or group'] },
  { name: 'subject with neither', schema: AccessPolicySchema, value: policy({ subjects: [{}] }), expect: ['spec.subjects.0: a subject is exactly one of serviceAccount, namespace or group'] },
  { name: 'namespace and service account', schema: AccessPolicySchema, value: policy({ subjects: [{ namespace: 'a', serviceAccount: { namespace: 'a', name: 'b' } }] }), expect: ['spec.subjects.0: a subject is exactly one of serviceAccount, namespace or group'] },
  { name: 'podSelector alone', schema: AccessPolicySchema, value: policy({ subjects: [{ podSelector: { matchLabels: { app: 'x' } } }] }), expect: ['spec.subjects.0: a subject is exactly one of serviceAccount, namespace or group'] },
  { name: 'podSelector with group', schema: AccessPolicySchema, value: policy({ subjects: [{ group: 'g', podSelector: { matchLabels: { app: 'x' } } }] }), expect: ['spec.subjects.0.podSelector: podSelector goes with serviceAccount or namespace, not group'] },
  { name: 'empty matchLabels', schema: AccessPolicySchema, value: policy({ subjects: [{ namespace: 'a', podSelector: { matchLabels: {} } }] }), expect: ['spec.subjects.0.podSelector.matchLabels: must name at least one label'] },
  { name: 'bad label key and value', schema: AccessPolicySchema, value: policy({ subjects: [{ namespace: 'a', podSelector: { matchLabels: { 'Bad Key': 'x', app: '-x' } } }] }), expect: ['spec.subjects.0.podSelector.matchLabels.app: is not a label value', 'spec.subjects.0.podSelector.matchLabels.Bad Key: "Bad Key" is not a label key ([prefix/]name)'] },
  { name: 'podSelector matchExpressions', schema: AccessPolicySchema, value: policy({ subjects: [{ namespace: 'a', podSelector: { matchExpressions: [] } }] }), expect: ['spec.subjects.0.podSelector.matchLabels: Invalid input: expected record, received undefined', 'spec.subjects.0.podSelector: Unrecognized key: "matchExpressions"'] },
  { name: 'bad namespace subject', schema: AccessPolicySchema, value: policy({ subjects: [{ namespace: 'Agents' }] }), expect: ['spec.subjects.0.namespace: must be a DNS-1123 label: lower-case letters, digits and "-"'] },
  { name: 'no connections', schema: AccessPolicySchema, value: policy({ connections: [] }), expect: ['spec.connections: must name at least one connection'] },
  { name: 'bad default', schema: AccessPolicySchema, value: policy({ default: 'approve' }), expect: ['spec.default: Invalid option: expected one of "allow"|"deny"'] },
  { name: 'bad action', schema: AccessPolicySchema, value: policy({}, [{ action: 'permit', match: { statements: ['select'] } }]), expect: ['spec.rules.0.action: Invalid option: expected one of "allow"|"deny"|"approve"|"mask"'] },
  { name: 'unknown statement kind', schema: AccessPolicySchema, value: policy({}, [{ action: 'deny', match: { statements: ['drop', 'dropp'] } }]), expect: ['spec.rules.0.match.statements.1: unknown statement kind "dropp"'] },
  { name: 'empty statements', schema: AccessPolicySchema, value: policy({}, [{ action: 'deny', match: { statements: [] } }]), expect: ['spec.rules.0.match.statements: must list at least one statement kind'] },
  { name: 'empty match', schema: AccessPolicySchema, value: policy({}, [{ action: 'allow', match: {} }]), expect: ['spec.rules.0.match: allow rules need statements, tables or functions (SQL), commands or operations (SSH), or verbs, resources, namespaces or names (Kubernetes); use default for everything'] },
  { name: 'approve without approvers', schema: AccessPolicySchema, value: policy({}, [{ action: 'approve', match: { statements: ['delete'] } }]), expect: ['spec.rules.0.approvers: approve rules need approvers'] },
  { name: 'approvers on deny', schema: AccessPolicySchema, value: policy({}, [{ action: 'deny', match: { statements: ['delete'] }, approvers: ['x'], timeout: '1m' }]), expect: ['spec.rules.0.approvers: approvers is only for approve rules', 'spec.rules.0.timeout: timeout is only for approve rules'] },
  { name: 'bad timeout', schema: AccessPolicySchema, value: policy({}, [{ action: 'approve', match: { statements: ['delete'] }, approvers: ['x'], timeout: '10 minutes' }]), expect: ['spec.rules.0.timeout: "10 minutes" is not a duration like 30s, 10m or 1h'] },
  { name: 'timeout too long', schema: AccessPolicySchema, value: policy({}, [{ action: 'approve', match: { statements: ['delete'] }, approvers: ['x'], timeout: '25h' }]), expect: ['spec.rules.0.timeout: must be at most 24h'] },
  { name: 'mask without columns or detectors', schema: AccessPolicySchema, value: policy({}, [{ action: 'mask', match: { tables: ['customers'] } }]), expect: ['spec.rules.0.match: mask rules need columns, detectors or resources', 'spec.rules.0.match.tables: mask rules match on columns, detectors and resources, not tables'] },
  { name: 'columns on allow', schema: AccessPolicySchema, value: policy({}, [{ action: 'allow', match: { statements: ['select'], columns: ['a.b'] } }]), expect: ['spec.rules.0.match.columns: columns is only for mask rules'] },
  { name: 'strategy on deny', schema: AccessPolicySchema, value: policy({}, [{ action: 'deny', match: { statements: ['select'] }, strategy: 'hash' }]), expect: ['spec.rules.0.strategy: strategy is only for mask rules'] },
  { name: 'column pattern without table', schema: AccessPolicySchema, value: policy({}, [{ action: 'mask', match: { columns: ['email'] } }]), expect: ['spec.rules.0.match.columns.0: "email" is not a column ([schema.]table.column) pattern'] },
  { name: 'table pattern with three parts', schema: AccessPolicySchema, value: policy({}, [{ action: 'deny', match: { tables: ['a.b.c'] } }]), expect: ['spec.rules.0.match.tables.0: "a.b.c" is not a table ([schema.]table) pattern'] },
  { name: 'bad detector name', schema: AccessPolicySchema, value: policy({}, [{ action: 'mask', match: { detectors: ['Credit Card'] } }]), expect: ['spec.rules.0.match.detectors.0: must be one of credit_card, email, phone, us_ssn, iban, jwt, cloud_key, private_key'] },
  { name: 'unknown match field', schema: AccessPolicySchema, value: policy({}, [{ action: 'deny', match: { statement: ['drop'] } }]), expect: ['spec.rules.0.match: Unrecognized key: "statement"', 'spec.rules.0.match: deny rules need statements, tables or functions (SQL), commands or operations (SSH), or verbs, resources, namespaces or names (Kubernetes); use default for everything'] },
  { name: 'duplicate rule names', schema: AccessPolicySchema, value: policy({}, [{ name: 'r', action: 'deny', match: { statements: ['drop'] } }, { name: 'r', action: 'allow', match: { statements: ['select'] } }]), expect: ['spec.rules.1.name: duplicate rule name "r"'] },
];

test('refusals name the path and the reason', async (t) => {
  for (const c of refused) {
    await t.test(c.name, () => assert.deepEqual(issues(c.schema, c.value), c.expect));
  }
});

test('parseDuration reads s, m and h and nothing else', () => {
  const table: [string, number | undefined][] = [['30s', 30], ['10m', 600], ['1h', 3600], ['0s', undefined], ['1d', undefined], ['1h30m', undefined], ['', undefined], [' 1s', undefined]];
  for (const [text, seconds] of table) assert.equal(parseDuration(text), seconds, text);
});
