// The enforcer with the real classifier and policy engine: deny, allow, fail closed, redaction
// flags, and one verdict object per statement shape.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AccessPolicyDoc } from '@chaperone/core/policy/types';
import { SqlClassifier } from '@chaperone/core/sql/classifier';
import { loadSqlParser } from '@chaperone/core/sql/classify';
import { buildEnforcer } from './sql-enforcement.js';

before(() => loadSqlParser());

const policy: AccessPolicyDoc = {
  apiVersion: 'chaperone.dev/v1alpha1', kind: 'AccessPolicy', metadata: { name: 'support' },
  spec: {
    subjects: [{ serviceAccount: { namespace: 'agents', name: 'bot' } }], connections: ['orders-db'], default: 'allow',
    rules: [
      { action: 'deny', match: { statements: ['drop', 'truncate'] }, message: 'no schema changes' },
      { action: 'mask', match: { columns: ['customers.email'] } },
    ],
  },
};

test('verdicts carry the decision, kinds, tables and the redaction flag', () => {
  const enforce = buildEnforcer([policy], 'orders-db', new SqlClassifier());
  const drop = enforce('DROP TABLE orders');
  assert.equal(drop.decision.action, 'deny');
  assert.equal(drop.decision.policy, 'support');
  assert.deepEqual(drop.kinds, ['drop']);
  const select = enforce('SELECT id FROM orders WHERE id = 1');
  assert.equal(select.decision.action, 'allow');
  assert.deepEqual(select.tables, ['orders']);
  assert.equal(select.redactLiterals, false);
  assert.equal(enforce("SELECT email FROM customers WHERE email = 'a@b.c'").redactLiterals, true);
  assert.equal(enforce('SELEC nonsense').decision.action, 'deny', 'unparseable text fails closed');
  assert.equal(enforce('DROP TABLE orders').decision.action, 'deny', 'the cache cannot launder a deny');
});

test('statements of one shape share one verdict object; another connection without policy is denied', () => {
  const classifier = new SqlClassifier();
  const enforce = buildEnforcer([policy], 'orders-db', classifier);
  assert.equal(enforce('SELECT id FROM orders WHERE id = 1'), enforce('SELECT id FROM orders WHERE id = 2'));
  const other = buildEnforcer([policy], 'billing-db', classifier);
  assert.equal(other('SELECT 1').decision.action, 'deny');
});
