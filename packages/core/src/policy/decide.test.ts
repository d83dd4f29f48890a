// Table-driven tests of policy decisions: precedence, criteria, wildcards, defaults, masking, caching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Classification, StatementFacts } from '../sql/facts.js';
import type { StatementKind } from '../sql/kinds.js';
import { compileNames, compilePolicies, decide } from './decide.js';
import type { SqlDecision } from './decide.js';
import { parsePolicyText } from './load.js';
import type { AccessPolicyDoc } from './types.js';

function policies(yaml: string): AccessPolicyDoc[] {
  return parsePolicyText(yaml, 'test.yaml').filter((d): d is AccessPolicyDoc => d.kind === 'AccessPolicy');
}

function policy(name: string, body: string, connections = '[orders-db]'): string {
  return `apiVersion: chaperone.dev/v1alpha1
kind: AccessPolicy
metadata: { name: ${name} }
spec:
  subjects: [{ serviceAccount: { namespace: agents, name: support-bot } }]
  connections: ${connections}
${body}
---
`;
}

/** `st('drop', ['orders'])`: one statement's facts. */
function st(kinds: StatementKind | StatementKind[], tables: string[] = [], functions: string[] = []): StatementFacts {
  return { kinds: Array.isArray(kinds) ? kinds : [kinds], tables, functions };
}
const q = (...statements: StatementFacts[]): Classification => ({ ok: true, statements });

const DESIGN_EXAMPLE = policy('support-agents', `  rules:
    - { action: deny,    match: { statements: [drop, truncate, alter] }, message: "no schema changes" }
    - { action: approve, match: { statements: [delete, update] }, approvers: ["group:dba"], timeout: 10m }
    - { action: mask,    match: { columns: ["customers.email", "*.card_number"] } }
  default: allow`);

type Expect = Partial<SqlDecision> & Pick<SqlDecision, 'action'>;
interface Case { name: string; yaml: string; connection?: string; c: Classification; expect: Expect }

const cases: Case[] = [
  // The design example: deny > approve > allow over every statement and nested kind.
  { name: 'plain select falls to default allow', yaml: DESIGN_EXAMPLE, c: q(st('select', ['orders'])), expect: { action: 'allow', policy: 'support-agents', rule: 'default', redactLiterals: true } },
  { name: 'a query touching no table is not redacted by column masks', yaml: DESIGN_EXAMPLE, c: q(st('select')), expect: { action: 'allow', redactLiterals: false } },
  { name: 'drop is denied with the rule message', yaml: DESIGN_EXAMPLE, c: q(st('drop', ['orders'])), expect: { action: 'deny', policy: 'support-agents', rule: 'support-agents#0', message: 'no schema changes' } },
  { name: 'delete needs approval', yaml: DESIGN_EXAMPLE, c: q(st('delete', ['orders'])), expect: { action: 'approve', rule: 'support-agents#1', approvers: ['group:dba'], timeoutSeconds: 600, message: 'statement kind "delete" needs approval under policy support-agents' } },
  { name: 'a delete nested in a select CTE needs approval', yaml: DESIGN_EXAMPLE, c: q(st(['select', 'delete'], ['orders'])), expect: { action: 'approve', rule: 'support-agents#1' } },
  { name: 'deny in a later statement wins over approve in an earlier one', yaml: DESIGN_EXAMPLE, c: q(st('delete'), st('select'), st('truncate')), expect: { action: 'deny', rule: 'support-agents#0' } },
  { name: 'approve in any statement wins over allow', yaml: DESIGN_EXAMPLE, c: q(st('select'), st('update')), expect: { action: 'approve' } },
  { name: 'unclassified is denied with the parser error', yaml: DESIGN_EXAMPLE, c: { ok: false, error: 'syntax error at or near "SELEC"' }, expect: { action: 'deny', policy: '', rule: 'unclassified', message: 'statement could not be classified and is denied: syntax error at or near "SELEC"', redactLiterals: true } },
  { name: 'no statements at all is allowed', yaml: DESIGN_EXAMPLE, c: q(), expect: { action: 'allow', rule: 'empty' } },

  // Which policies apply.
  { name: 'no policy covers the connection', yaml: DESIGN_EXAMPLE, connection: 'billing-db', c: q(st('select')), expect: { action: 'deny', policy: '', rule: 'no-policy', message: 'no access policy covers connection "billing-db" for this identity', redactLiterals: false } },
  { name: 'no policy even for unclassified text', yaml: '', c: { ok: false, error: 'x' }, expect: { action: 'deny', rule: 'no-policy' } },

  // Defaults.
  { name: 'default is deny when not given', yaml: policy('p', '  rules: [{ action: allow, match: { statements: [read] } }]'), c: q(st('insert', ['t'])), expect: { action: 'deny', policy: 'p', rule: 'default', message: 'statement kind "insert" is not allowed by any rule of policy p (default deny)' } },
  { name: 'a group name allows its kinds', yaml: policy('p', '  rules: [{ action: allow, match: { statements: [read] } }]'), c: q(st('copy_to', ['t'])), expect: { action: 'allow', rule: 'p#0' } },
  {
    name: 'rules of all policies count before any default',
    yaml: policy('a', '  rules: [{ action: allow, match: { statements: [select] } }]') + policy('b', '  rules: [{ action: allow, match: { statements: [insert] } }]'),
    c: q(st('select'), st('insert')), expect: { action: 'allow', policy: 'a', rule: 'a#0' },
  },
  {
    name: 'a deny default of any policy wins over an allow default',
    yaml: policy('open', '  default: allow') + policy('closed', '  rules: [{ action: allow, match: { statements: [select] } }]'),
    c: q(st('insert')), expect: { action: 'deny', policy: 'closed', rule: 'default' },
  },
  {
    name: 'an allow rule of a default-deny policy still allows',
    yaml: policy('open', '  default: allow') + policy('closed', '  rules: [{ action: allow, match: { statements: [select] } }]'),
    c: q(st('select')), expect: { action: 'allow', policy: 'closed', rule: 'closed#0' },
  },
  {
    name: 'a deny rule of one policy beats an allow rule of another',
    yaml: policy('a', '  rules: [{ action: allow, match: { statements: [ddl] } }]') + policy('b', '  rules: [{ name: no-drop, action: deny, match: { statements: [drop] } }]\n  default: allow'),
    c: q(st('drop')), expect: { action: 'deny', policy: 'b', rule: 'no-drop', message: 'statement kind "drop" denied by policy b' },
  },
  {
    name: 'policies for other connections are ignored',
    yaml: policy('other', '  rules: [{ action: deny, match: { statements: [select] } }]\n  default: allow', '[billing-db]') + policy('mine', '  default: allow'),
    c: q(st('select')), expect: { action: 'allow', policy: 'mine', rule: 'default' },
  },
  {
    name: 'the first matching approve rule gives approvers and timeout',
    yaml: policy('p', `  rules:
    - { action: approve, match: { tables: [payments] }, approvers: [alice], timeout: 30s }
    - { action: approve, match: { statements: [update] }, approvers: [bob] }
  default: allow`),
    c: q(st('update', ['payments'])), expect: { action: 'approve', rule: 'p#0', approvers: ['alice'], timeoutSeconds: 30, message: 'statement kind "update" on table "payments" needs approval under policy p' },
  },

  // Criteria combine with AND; tables and functions with wildcards and schemas.
  ...((): Case[] => {
    const yaml = policy('p', `  rules:
    - { action: deny, match: { statements: [delete], tables: [orders] } }
    - { action: deny, match: { tables: [public.secrets] } }
    - { action: deny, match: { functions: ["pg_catalog.pg_read_*", "dblink*"] } }
    - { action: allow, match: { tables: [public.reports] } }
    - { action: allow, match: { statements: [select, delete] } }`);
    const deny = (rule: string): Expect => ({ action: 'deny', rule });
    return ([
      ['delete on orders: both criteria match', q(st('delete', ['orders'])), deny('p#0')],
      ['delete on carts: table criterion fails', q(st('delete', ['public.carts'])), { action: 'allow', rule: 'p#4' }],
      ['select on orders: statement criterion fails', q(st('select', ['public.orders'])), { action: 'allow', rule: 'p#4' }],
      ['qualified pattern, qualified name', q(st('select', ['public.secrets'])), deny('p#1')],
      ['qualified deny pattern also catches the bare name', q(st('select', ['secrets'])), deny('p#1')],
      ['qualified pattern, other schema', q(st('select', ['staging.secrets'])), { action: 'allow', rule: 'p#4' }],
      ['matching is case-insensitive', q(st('select', ['Public.SECRETS'])), deny('p#1')],
      ['three-part names use the schema part', q(st('select', ['db.public.secrets'])), deny('p#1')],
      ['any touched table counts', q(st('select', ['orders', 'public.secrets'])), deny('p#1')],
      ['function wildcard, bare call', q(st('select', [], ['pg_read_file'])), { action: 'deny', rule: 'p#2', message: 'statement kind "select" calling function "pg_read_file" (unqualified, may resolve to "pg_catalog.pg_read_*") denied by policy p' }],
      ['function wildcard, qualified call', q(st('select', [], ['pg_catalog.pg_read_binary_file'])), deny('p#2')],
      ['unqualified function pattern', q(st('select', [], ['public.dblink_exec'])), deny('p#2')],
      ['harmless function', q(st('select', [], ['now'])), { action: 'allow', rule: 'p#4' }],
      ['qualified allow pattern does not catch the bare name', q(st('insert', ['reports'])), { action: 'deny', rule: 'default' }],
      ['qualified allow pattern, qualified name', q(st('insert', ['public.reports'])), { action: 'allow', rule: 'p#3' }],
    ] as const).map(([name, c, expect]) => ({ name, yaml, c, expect }));
  })(),

  // Allow rules must cover everything a statement does; deny rules catch anything it does.
  ...((): Case[] => {
    const yaml = policy('p', `  rules:
    - { action: allow, match: { statements: [select] } }
    - { action: allow, match: { tables: [stats, "report_*"] } }
    - { action: allow, match: { statements: [insert, select], functions: [now] } }`);
    return ([
      ['a nested delete is not covered by allow select', q(st(['select', 'delete'], ['orders'])), { action: 'deny', rule: 'default', message: 'statement kind "select" is not allowed by any rule of policy p (default deny)' }],
      ['insert … values (a nested select) needs insert and select', q(st(['insert', 'select'], ['t'], ['now'])), { action: 'allow', rule: 'p#2' }],
      ['every touched table must be allowed', q(st('update', ['stats', 'report_daily'])), { action: 'allow', rule: 'p#1' }],
      ['one table outside the allowed ones', q(st('update', ['stats', 'secrets'])), { action: 'deny', rule: 'default' }],
      ['an allow tables rule needs a table', q(st('create')), { action: 'deny', rule: 'default' }],
      ['every called function must be allowed', q(st('insert', ['t'], ['now', 'pg_sleep'])), { action: 'deny', rule: 'default' }],
      ['an allow functions rule needs a function call', q(st('insert', ['t'])), { action: 'deny', rule: 'default' }],
    ] as const).map(([name, c, expect]) => ({ name, yaml, c, expect }));
  })(),

  // A bare name may resolve to any schema on the search_path, which policy cannot see.
  ...((): Case[] => {
    const yaml = policy('p', '  rules: [{ action: deny, match: { tables: ["audit*.*"] } }]\n  default: allow');
    return ([
      ['schema wildcard, qualified name', q(st('select', ['audit_2024.log'])), { action: 'deny', message: 'statement kind "select" on table "audit_2024.log" denied by policy p' }],
      ['schema wildcard, other schema', q(st('select', ['public.log'])), { action: 'allow' }],
      ['schema wildcard, bare name: denied, and the message says why', q(st('select', ['log'])), { action: 'deny', message: 'statement kind "select" on table "log" (unqualified, may resolve to "audit*.*") denied by policy p' }],
    ] as const).map(([name, c, expect]) => ({ name, yaml, c, expect }));
  })(),

  // Masking sets redactLiterals without deciding.
  ...((): Case[] => {
    const columns = policy('m', `  rules:
    - { action: mask, match: { columns: ["customers.email", "*.card_number", "billing.accounts.iban"] } }
  default: allow`);
    const detectors = policy('d', '  rules: [{ action: mask, match: { detectors: [email] } }]\n  default: allow');
    const redact = (v: boolean): Expect => ({ action: 'allow', rule: 'default', redactLiterals: v });
    return ([
      ['mask column of a touched table', columns, q(st('select', ['public.customers'])), redact(true)],
      ['* table part matches any touched table', columns, q(st('select', ['orders'])), redact(true)],
      ['no table touched, no column mask', columns, q(st('select')), redact(false)],
      ['qualified column pattern, bare table', columns, q(st('select', ['accounts'])), redact(true)],
      ['detectors redact everything', detectors, q(st('select')), redact(true)],
      ['no mask rule, no redaction', policy('p', '  default: allow'), q(st('select', ['customers'])), redact(false)],
      ['no mask rule, unclassified', policy('p', '  default: allow'), { ok: false, error: 'e' }, { action: 'deny', rule: 'unclassified', redactLiterals: false }],
      ['a denied statement is still redacted', columns + policy('x', '  rules: [{ action: deny, match: { statements: [drop] } }]'), q(st('drop', ['customers'])), { action: 'deny', rule: 'x#0', redactLiterals: true }],
    ] as const).map(([name, yaml, c, expect]) => ({ name, yaml, c, expect }));
  })(),
];

test('decide', async (t) => {
  for (const c of cases) {
    await t.test(c.name, () => {
      const d = decide(compilePolicies(policies(c.yaml), c.connection ?? 'orders-db'), c.c);
      const picked = Object.fromEntries(Object.keys(c.expect).map((k) => [k, (d as unknown as Record<string, unknown>)[k]]));
      assert.deepEqual(picked, c.expect);
    });
  }
});

test('every decision carries a message when it is not allow, and redactLiterals always', () => {
  for (const c of cases) {
    const d = decide(compilePolicies(policies(c.yaml), c.connection ?? 'orders-db'), c.c);
    assert.equal(typeof d.redactLiterals, 'boolean', c.name);
    if (d.action !== 'allow') assert.ok(d.message.length > 0, c.name);
  }
});

test('decisions are cached per Classification object', () => {
  const compiled = compilePolicies(policies(DESIGN_EXAMPLE), 'orders-db');
  const c = q(st('delete', ['orders']));
  const first = decide(compiled, c);
  assert.equal(decide(compiled, c), first, 'same object on a hit');
  assert.ok(Object.isFrozen(first), 'a cached decision cannot be changed by a caller');
  const twin = q(st('delete', ['orders']));
  const other = decide(compiled, twin);
  assert.notEqual(other, first);
  assert.deepEqual(other, first);
  // A fresh compilation (a new bundle) has its own cache.
  const recompiled = compilePolicies(policies(policy('p', '  default: allow')), 'orders-db');
  assert.equal(decide(recompiled, c).action, 'allow');
});

test('compileNames returns the pattern that matched', () => {
  const m = compileNames(['public.secrets', 'audit.*', 'pg_*'], false);
  const table: [string, string | undefined][] = [
    ['public.secrets', 'public.secrets'], ['secrets', undefined], ['audit.x', 'audit.*'],
    ['pg_class', 'pg_*'], ['pg_catalog.pg_class', 'pg_*'], ['pgclass', undefined], ['a.b', undefined],
    ['pg_[x', 'pg_*'],
  ];
  for (const [name, expected] of table) assert.equal(m(name), expected, name);
  assert.equal(compileNames(['a.b'], true)('b'), 'a.b');
  assert.equal(compileNames(['x.y'], true)('x.y.z'), undefined);
  assert.equal(compileNames(['a+b'], true)('aab'), undefined, 'regex characters are literal');
});
