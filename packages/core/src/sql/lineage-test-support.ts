// Test support for lineage: a small catalog and a compact, complete text form of a lineage.
import type { LineageCatalog, ResultColumnLineage, StatementLineage } from './lineage-types.js';

const TABLES: Record<string, string[]> = {
  customers: ['id', 'email', 'name', 'card'],
  orders: ['id', 'customer_id', 'total', 'note'],
  'billing.invoices': ['id', 'customer_id', 'amount'],
  customer_emails: ['id', 'mail'],
  vip_emails: ['mail'],
};

const VIEWS: Record<string, string> = {
  customer_emails: 'SELECT customers.id, customers.email AS mail FROM customers;',
  vip_emails: 'SELECT upper(mail) FROM customer_emails WHERE id < 10',
};

const PURE = new Set(['my_pure']);

/** customers, orders, billing.invoices; customer_emails and vip_emails are views. */
export function testCatalog(opts: { views?: boolean } = {}): LineageCatalog {
  const catalog: LineageCatalog = {
    columns: (schema, table) => TABLES[schema === undefined || schema === 'public' ? table : `${schema}.${table}`],
    functionIsPure: (_schema, name) => (PURE.has(name) ? true : undefined),
  };
  if (opts.views === true) catalog.viewDefinition = (schema, table) => (schema === undefined ? VIEWS[table] : undefined);
  return catalog;
}

/**
 * One column as `name=sources` (direct) or `name~sources` (computed); a whole row is `table.*`;
 * a trailing ` ?` marks `unknown`. Everything of the value is in the text but the reason.
 */
export function columnText(c: ResultColumnLineage): string {
  const parts = [
    ...c.sources.map((s) => `${s.schema === undefined ? '' : `${s.schema}.`}${s.table}.${s.column}`),
    ...c.wholeRows.map((w) => `${w.schema === undefined ? '' : `${w.schema}.`}${w.table}.*`),
  ];
  return `${c.name}${c.direct ? '=' : '~'}${parts.join(',')}${c.unknown === undefined ? '' : ' ?'}`;
}

export function statementText(s: StatementLineage): string[] | 'none' | 'unknown' {
  if (s.kind === 'rows') return s.columns.map(columnText);
  return s.kind;
}
