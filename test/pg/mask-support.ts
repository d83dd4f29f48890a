// Shared set-up for the masking tests: a customers table with sensitive columns on the harness
// server, the mask policy under test compiled as the sidecar does, and a proxy with masking on.
import { randomBytes } from 'node:crypto';
import { LineageAnalyzer } from '@chaperone/core/sql/lineage-cache';
import { compileMasks } from '@chaperone/core/mask/rules';
import { API_VERSION } from '@chaperone/core/policy/types';
import type { AccessPolicyDoc, Rule } from '@chaperone/core/policy/types';
import { coreLineage } from '@chaperone/sidecar/pg/mask-lineage';
import { maskPolicyOf } from '@chaperone/sidecar/pg/mask-rules';
import type { MaskCounters } from '@chaperone/sidecar/pg/mask-session';
import type { PostgresServer } from '../harness/postgres.js';
import { startProxy } from './support.js';
import type { ProxyUnderTest } from './support.js';

export const KEY = randomBytes(32);

export const MASK_RULES: Rule[] = [
  { action: 'mask', name: 'emails', match: { columns: ['customers.email'] }, strategy: 'redact' },
  { action: 'mask', name: 'cards', match: { columns: ['public.customers.card_number'] }, strategy: 'partial', keep: 4 },
  { action: 'mask', name: 'ssns', match: { columns: ['*.ssn'] }, strategy: 'hash' },
  { action: 'mask', name: 'phones', match: { columns: ['customers.phone'] }, strategy: 'null' },
  { action: 'mask', name: 'free-text', match: { detectors: ['email', 'credit_card', 'us_ssn', 'iban', 'jwt', 'phone'] } },
];

export function maskPolicyDoc(rules: Rule[] = MASK_RULES): AccessPolicyDoc {
  return {
    apiVersion: API_VERSION, kind: 'AccessPolicy', metadata: { name: 'mask-test' },
    spec: { subjects: [{ namespace: 'agents' }], connections: ['test-db'], default: 'allow', rules },
  };
}

/** Counts what the metric would get, by `rule|detector`. */
export class CountingCounters implements MaskCounters {
  readonly counts = new Map<string, number>();
  add(rule: string, detector: string, n: number): void {
    const k = `${rule}|${detector}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + n);
  }
}

export async function startMaskingProxy(pg: PostgresServer, rules: Rule[] = MASK_RULES, catalogTtlMs?: number): Promise<ProxyUnderTest & { counters: CountingCounters }> {
  const counters = new CountingCounters();
  const policy = maskPolicyOf(compileMasks([maskPolicyDoc(rules)], 'test-db', KEY));
  const p = await startProxy(pg, { masking: { policy, lineage: coreLineage(new LineageAnalyzer()), counters, ...(catalogTtlMs === undefined ? {} : { catalogTtlMs }) } });
  return { ...p, counters };
}

export const CUSTOMERS_SQL = `
create table customers(id int primary key, name text, email text, card_number text, ssn text, phone text, notes text, balance numeric, profile jsonb);
insert into customers values
  (1, 'Ann', 'ann@example.com', '4111 1111 1111 1111', '123-45-6789', '+1 415 555 0100', 'call me at ann.b@corp.example', 10.5, '{"k": "v"}'),
  (2, 'Bob', 'bob@example.com', '5500-0000-0000-0004', '234-56-7890', null, 'card 4012888888881881 on file', 20, null),
  (3, 'Cy', null, null, null, null, 'nothing to see', 0, null);
create view customer_contacts as select id, email as contact, upper(name) as who from customers;
create table orders(id int, customer_id int, total numeric);
insert into orders values (1, 1, 99), (2, 2, 5);
create function first_email() returns text language sql as $$ select email from customers order by id limit 1 $$;
grant all on all tables in schema public to public;
`;
