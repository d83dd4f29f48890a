// Mask rules compiled per connection: names, specs, column patterns, which list each rule joins.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { API_VERSION, type AccessPolicyDoc, type Rule } from '../policy/types.js';
import { columnRule, compileColumns, compileMasks, globMatch } from './rules.js';

const KEY = new Uint8Array(32).fill(9);

function policy(name: string, connections: string[], rules: Rule[]): AccessPolicyDoc {
  return { apiVersion: API_VERSION, kind: 'AccessPolicy', metadata: { name }, spec: { subjects: [{ namespace: 'agents' }], connections, rules, default: 'allow' } };
}

const POLICIES = [
  policy('support', ['orders-db'], [
    { action: 'deny', match: { statements: ['drop'] } },
    { action: 'mask', match: { columns: ['customers.email', '*.card_number'] }, strategy: 'hash' },
    { action: 'mask', name: 'pii-text', match: { detectors: ['email', 'credit_card'] } },
    { action: 'mask', match: { columns: ['billing.accounts.iban'], detectors: ['iban'] }, strategy: 'partial', keep: 6 },
  ]),
  policy('ops', ['orders-db', 'cluster'], [
    { action: 'mask', match: { columns: ['customers.*'] }, strategy: 'null' },
    { action: 'mask', match: { resources: ['secrets'] } },
  ]),
  policy('other', ['billing-db'], [{ action: 'mask', match: { columns: ['*.*'] } }]),
];

describe('compileMasks', () => {
  test('rules of the covering policies, named as decide.ts names them, in document order', () => {
    const m = compileMasks(POLICIES, 'orders-db', KEY);
    assert.equal(m.any, true);
    assert.deepEqual(m.columnRules.map((r) => r.rule), ['support#1', 'support#3', 'ops#0']);
    assert.deepEqual(m.detectorRules.map((r) => r.rule), ['pii-text']);
    assert.deepEqual(m.resourceRules.map((r) => r.rule), ['ops#1']);
    assert.deepEqual(m.columnRules.map((r) => r.policy), ['support', 'support', 'ops']);
  });

  test('specs: strategy (redact by default), keep, the key; detectors as a set', () => {
    const m = compileMasks(POLICIES, 'orders-db', KEY);
    assert.deepEqual(m.columnRules[0]?.spec, { strategy: 'hash', key: KEY });
    assert.deepEqual(m.columnRules[1]?.spec, { strategy: 'partial', keep: 6, key: KEY });
    assert.deepEqual(m.detectorRules[0]?.spec, { strategy: 'redact', key: KEY });
    assert.deepEqual(m.detectorRules[0]?.detectors, new Set(['email', 'credit_card']));
    assert.deepEqual(m.columnRules[1]?.detectors, new Set(['iban']));
    assert.deepEqual(m.resourceRules[0]?.resources, ['secrets']);
  });

  test('a connection no policy covers, or without mask rules, has none', () => {
    assert.deepEqual(compileMasks(POLICIES, 'nowhere', KEY), { columnRules: [], detectorRules: [], resourceRules: [], any: false });
    assert.equal(compileMasks([policy('p', ['c'], [{ action: 'allow', match: { statements: ['select'] } }])], 'c', KEY).any, false);
  });

  test('columnRule: the first matching rule; schema-qualified patterns need their schema', () => {
    const m = compileMasks(POLICIES, 'orders-db', KEY);
    assert.equal(columnRule(m, 'public', 'customers', 'email')?.rule, 'support#1');
    assert.equal(columnRule(m, 'sales', 'Customers', 'EMAIL')?.rule, 'support#1');
    assert.equal(columnRule(m, 'public', 'payments', 'card_number')?.rule, 'support#1');
    assert.equal(columnRule(m, 'public', 'customers', 'name')?.rule, 'ops#0');
    assert.equal(columnRule(m, 'billing', 'accounts', 'iban')?.rule, 'support#3');
    assert.equal(columnRule(m, 'public', 'accounts', 'iban'), undefined);
    assert.equal(columnRule(m, 'public', 'orders', 'total'), undefined);
  });
});

describe('column patterns', () => {
  test('table.column in any schema, schema.table.column in that one, wildcards, case-insensitive', () => {
    const match = compileColumns(['customers.email', 'Billing.*.IBAN', 'pay*.card_*']);
    assert.equal(match('public', 'customers', 'email'), true);
    assert.equal(match('other', 'CUSTOMERS', 'Email'), true);
    assert.equal(match('public', 'customers', 'email2'), false);
    assert.equal(match('public', 'xcustomers', 'email'), false);
    assert.equal(match('billing', 'accounts', 'iban'), true);
    assert.equal(match('public', 'accounts', 'iban'), false);
    assert.equal(match('s', 'payments', 'card_number'), true);
    assert.equal(match('s', 'payouts', 'card'), false);
  });

  test('a malformed pattern matches nothing', () => {
    const match = compileColumns(['email', 'a.b.c.d']);
    assert.equal(match('a', 'b', 'email'), false);
    assert.equal(match('b', 'c', 'd'), false);
  });

  test('globMatch', () => {
    const cases: [string, string, boolean][] = [
      ['*', '', true], ['*', 'abc', true], ['a*c', 'abc', true], ['a*c', 'ac', true], ['a*c', 'abd', false],
      ['*_id', 'customer_id', true], ['*_id', 'customer_idx', false], ['a**b', 'ab', true], ['a*b*c', 'aXbYc', true],
      ['a*b*c', 'aXcYb', false], ['abc', 'abc', true], ['abc', 'ab', false], ['', '', true], ['', 'a', false],
    ];
    for (const [p, t, want] of cases) assert.equal(globMatch(p, t), want, `${p} ~ ${t}`);
  });
});
