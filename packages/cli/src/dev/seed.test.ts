import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoCustomers, demoSeedSql, demoSensitiveValues, luhnCardNumber } from './seed.js';

function luhnValid(n: string): boolean {
  let sum = 0;
  for (let i = 0; i < n.length; i++) {
    let d = Number(n[n.length - 1 - i]);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

test('demo card numbers are 16 digits and pass the Luhn check', () => {
  for (let i = 1; i <= 200; i++) {
    const n = luhnCardNumber(i);
    assert.match(n, /^4\d{15}$/);
    assert.ok(luhnValid(n), n);
  }
  assert.ok(!luhnValid('4000000000000001'));
});

test('the seed is deterministic and holds the requested rows', () => {
  const sql = demoSeedSql(5, 2);
  assert.equal(sql, demoSeedSql(5, 2));
  assert.equal((sql.match(/@example\.com/g) ?? []).length, 5);
  assert.match(sql, /\(10, 5, \d+, '\w+', '2026-/);
});

test('notes quote a card (grouped) or an e-mail for some customers, and the sensitive list holds them', () => {
  const customers = demoCustomers(8);
  const sensitive = demoSensitiveValues(8);
  const cardNote = customers.find((c) => c.notes?.includes('card'));
  const mailNote = customers.find((c) => c.notes?.includes('@'));
  assert.ok(cardNote && mailNote && customers.some((c) => c.notes === null));
  const quotedCard = /\d{4}( \d{4}){3}/.exec(cardNote.notes ?? '')?.[0];
  assert.equal(quotedCard?.replace(/ /g, ''), cardNote.cardNumber);
  for (const c of customers) {
    assert.ok(sensitive.includes(c.email) && sensitive.includes(c.cardNumber), `customer ${c.id}`);
  }
  assert.ok(sensitive.includes(quotedCard ?? ''));
  assert.ok(sensitive.includes(/\S+@\S+/.exec(mailNote.notes ?? '')?.[0] ?? ''));
  assert.match(demoSeedSql(8, 1), /notes text\)/);
});
