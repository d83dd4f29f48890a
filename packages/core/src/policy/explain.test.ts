// Tests of the human-readable explanations, with SQL classified by the real parser (libpg-query).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainAccess, explainStatement } from './explain.js';
import { parsePolicyText } from './load.js';

const DOCS = parsePolicyText(`apiVersion: chaperone.dev/v1alpha1
kind: Connection
metadata: { name: orders-db }
spec:
  type: postgres
  target: { host: orders-db.prod.svc, port: 5432, database: orders }
  credentials: { secretRef: { name: orders-db-admin } }
  listen: { port: 5432 }
---
apiVersion: chaperone.dev/v1alpha1
kind: AccessPolicy
metadata: { name: support-agents }
spec:
  subjects: [{ serviceAccount: { namespace: agents, name: "*" } }]
  connections: [orders-db]
  rules:
    - { action: allow, match: { statements: [select] } }
    - { action: mask, match: { columns: ["customers.email"] } }
    - { action: approve, match: { statements: [delete, update] }, approvers: ["group:dba"] }
    - { name: no-ddl, action: deny, match: { statements: [ddl] }, message: "no schema changes" }
  default: allow
---
apiVersion: chaperone.dev/v1alpha1
kind: AccessPolicy
metadata: { name: no-files }
spec:
  subjects: [{ serviceAccount: { namespace: agents, name: support-bot } }]
  connections: [orders-db]
  rules:
    - { action: deny, match: { functions: ["pg_catalog.pg_read_*"] } }
`, 'policies.yaml');

const bot = { namespace: 'agents', serviceAccount: 'support-bot' };
const other = { namespace: 'agents', serviceAccount: 'report-bot' };

test('explainAccess lists the applicable policies, rules in precedence order, masks and the default', () => {
  const a = explainAccess(DOCS, bot, 'orders-db');
  assert.deepEqual(a.policies, ['support-agents', 'no-files']);
  assert.deepEqual(a.rules.map((r) => [r.action, r.rule]), [
    ['deny', 'no-ddl'], ['deny', 'no-files#0'], ['approve', 'support-agents#2'], ['allow', 'support-agents#0'], ['mask', 'support-agents#1'],
  ]);
  assert.deepEqual(a.default, { action: 'deny', policy: 'no-files' });
  assert.equal(a.connectionDefined, true);
  assert.equal(a.text, [
    'identity agents/support-bot on connection orders-db',
    'policies: support-agents, no-files',
    'rules, the first match decides (deny before approve before allow):',
    '  1. deny    no-ddl: statements ddl "no schema changes"',
    '  2. deny    no-files#0: functions pg_catalog.pg_read_*',
    '  3. approve support-agents#2: statements delete, update (approvers group:dba, timeout 10m)',
    '  4. allow   support-agents#0: statements select',
    'masking (matching values in results are replaced; literals of statements touching these columns are kept out of records):',
    '  - support-agents#1: columns customers.email → redact',
    'default for anything else: deny (policy no-files; deny from any policy wins)',
  ].join('\n'));
});

test('explainAccess: another identity sees only its policies; unknown connections say so', () => {
  const a = explainAccess(DOCS, other, 'orders-db');
  assert.deepEqual(a.policies, ['support-agents']);
  assert.deepEqual(a.default, { action: 'allow', policy: 'support-agents' });
  const none = explainAccess(DOCS, bot, 'billing-db');
  assert.equal(none.default, 'no-policy');
  assert.equal(none.connectionDefined, false);
  assert.match(none.text, /no Connection named billing-db is defined/);
  assert.match(none.text, /every statement is denied \(no-policy\)/);
});

const statements: { sql: string; who?: typeof bot; action: string; rule: string; text: RegExp[] }[] = [
  { sql: 'select email from customers', action: 'allow', rule: 'support-agents#0', text: [/literals redacted in the session record: yes/] },
  { sql: 'drop table customers', action: 'deny', rule: 'no-ddl', text: [/decision: deny by rule no-ddl of policy support-agents: no schema changes/] },
  { sql: "select pg_read_file('/etc/passwd')", action: 'deny', rule: 'no-files#0', text: [/matches deny no-files#0\n {2}matches allow support-agents#0\n {2}→ deny \(no-files#0\)/] },
  { sql: "select pg_read_file('/etc/passwd')", who: other, action: 'allow', rule: 'support-agents#0', text: [/→ allow/] },
  { sql: 'select 1; delete from orders where id = 1', action: 'approve', rule: 'support-agents#2', text: [/statement 2: kinds delete; tables orders/, /approvers group:dba, timeout 600s/] },
  // A bare VALUES list reads nothing: the insert is its only kind, and `allow select` does not cover it.
  { sql: 'insert into orders values (1)', action: 'deny', rule: 'default', text: [/kinds insert\b/, /no rule matches/, /default deny/] },
  { sql: 'with d as (delete from orders returning *) select * from d', action: 'approve', rule: 'support-agents#2', text: [/matches approve support-agents#2\n {2}→ approve/] },
  { sql: 'insert into orders values (1)', who: other, action: 'allow', rule: 'default', text: [/no rule matches/] },
  { sql: 'selec 1', action: 'deny', rule: 'unclassified', text: [/the parser could not classify the text: /] },
];

test('explainStatement classifies with the real parser and gives the decision with its reasons', async (t) => {
  for (const s of statements) {
    await t.test(`${s.who === undefined ? 'support-bot' : 'report-bot'}: ${s.sql}`, async () => {
      const e = await explainStatement(DOCS, s.who ?? bot, 'orders-db', s.sql);
      assert.equal(e.decision.action, s.action, e.text);
      assert.equal(e.decision.rule, s.rule, e.text);
      for (const re of s.text) assert.match(e.text, re);
    });
  }
});
