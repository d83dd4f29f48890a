// Replay tickets: bound to kind and session, one use, expiry, tampering, and a key per admin token.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplayTickets, TICKET_TTL_MS, VIEW_TTL_MS } from './tickets.js';

test('a ticket works once, for its session, until it expires', () => {
  let now = 1_000_000;
  const tickets = new ReplayTickets('admin', () => now);
  const a = tickets.issue('ticket', 's1');
  assert.equal(a.expiresAt, now + TICKET_TTL_MS);
  assert.deepEqual(tickets.check(a.token, 'ticket', 's2'), { ok: false, reason: 'session' });
  assert.deepEqual(tickets.check(a.token, 'view', 's1'), { ok: false, reason: 'kind' });
  assert.deepEqual(tickets.check(a.token, 'ticket', 's1'), { ok: true, expiresAt: a.expiresAt });
  assert.deepEqual(tickets.check(a.token, 'ticket', 's1'), { ok: false, reason: 'used' });
  const b = tickets.issue('ticket', 's1');
  now += TICKET_TTL_MS;
  assert.deepEqual(tickets.check(b.token, 'ticket', 's1'), { ok: false, reason: 'expired' });
});

test('a view cookie is reusable until it expires', () => {
  let now = 0;
  const tickets = new ReplayTickets('admin', () => now);
  const v = tickets.issue('view', 's1');
  assert.ok(tickets.check(v.token, 'view', 's1').ok);
  assert.ok(tickets.check(v.token, 'view', 's1').ok);
  now += VIEW_TTL_MS;
  assert.deepEqual(tickets.check(v.token, 'view', 's1'), { ok: false, reason: 'expired' });
});

test('tickets from another admin token, tampered or malformed ones are refused', () => {
  const mine = new ReplayTickets('admin');
  const { token } = new ReplayTickets('other-admin').issue('ticket', 's1');
  assert.deepEqual(mine.check(token, 'ticket', 's1'), { ok: false, reason: 'signature' });
  const other = new ReplayTickets('admin').issue('view', 's1');
  assert.ok(mine.check(other.token, 'view', 's1').ok, 'replicas sharing the admin token accept each other\'s');
  const [body, sig] = other.token.split('.') as [string, string];
  assert.deepEqual(mine.check(`${body}x.${sig}`, 'view', 's1'), { ok: false, reason: 'signature' });
  for (const bad of ['', 'abc', 'a.b.c', '.', `${'a'.repeat(3000)}.b`]) assert.deepEqual(mine.check(bad, 'view', 's1'), { ok: false, reason: 'malformed' }, bad);
  // Random keys (no admin token): two instances do not trust each other.
  assert.equal(new ReplayTickets(undefined).check(new ReplayTickets(undefined).issue('view', 's1').token, 'view', 's1').ok, false);
});
