// The demo database: a small, realistic shop (customers with e-mails, card numbers and free-text
// notes that sometimes quote a card or an e-mail; orders). Generated deterministically so every
// demo shows the same rows.

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Radia', 'Linus', 'Margaret', 'Dennis', 'Katherine', 'John', 'Hedy', 'Tim', 'Shafi', 'Leslie', 'Sophie', 'Niklaus'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Perlman', 'Torvalds', 'Hamilton', 'Ritchie', 'Johnson', 'McCarthy', 'Lamarr', 'Berners-Lee', 'Goldwasser', 'Lamport', 'Wilson', 'Wirth'];
const COUNTRIES = ['GB', 'US', 'NL', 'DE', 'FR', 'SE', 'JP', 'CA'];
const STATUSES = ['paid', 'paid', 'paid', 'shipped', 'refunded', 'pending'];

/** A test card number (issuer prefix 4, valid Luhn check digit) — never a real card. */
export function luhnCardNumber(seed: number): string {
  const digits = `4000${String(31_000_000_007 + seed * 7919).slice(-11)}`;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return `${digits}${(10 - (sum % 10)) % 10}`;
}

/**
 * Bumped whenever the seed changes: the stack re-creates a demo database seeded by another version
 * (it is demo data, never the user's).
 */
export const DEMO_SEED_VERSION = 'chaperone demo seed v2';

export interface DemoCustomer {
  id: number;
  name: string;
  email: string;
  cardNumber: string;
  country: string;
  createdAt: string;
  /** Free text an operator typed; some quote a card number (grouped) or an e-mail address. */
  notes: string | null;
}

/** The card number as people type it, in groups of four. */
function grouped(card: string): string {
  return card.replace(/(\d{4})(?=\d)/g, '$1 ');
}

export function demoCustomers(customers = 40): DemoCustomer[] {
  const epoch = Date.UTC(2026, 0, 1);
  const out: DemoCustomer[] = [];
  for (let i = 1; i <= customers; i++) {
    const first = FIRST[i % FIRST.length]!;
    const last = LAST[(i * 7) % LAST.length]!;
    const email = `${first}.${last}${i}@example.com`.toLowerCase().replace(/[^a-z0-9.@-]/g, '');
    const cardNumber = luhnCardNumber(i);
    const notes = [
      'Prefers deliveries after 5 pm',
      null,
      `Phoned to pay, card ${grouped(cardNumber)}`,
      `Send invoices to accounts@${last.toLowerCase().replace(/[^a-z]/g, '')}.example.org`,
    ][i % 4]!;
    out.push({ id: i, name: `${first} ${last}`, email, cardNumber, country: COUNTRIES[i % COUNTRIES.length]!, createdAt: new Date(epoch + i * 86_400_000).toISOString(), notes });
  }
  return out;
}

/**
 * Every sensitive value in the seed, as stored and as quoted in notes: what masking must keep
 * from the agent and from the records (the demo checks its output and the session record).
 */
export function demoSensitiveValues(customers = 40): string[] {
  return [...new Set(demoCustomers(customers).flatMap((c) => [
    c.email, c.cardNumber, grouped(c.cardNumber),
    ...(c.notes?.match(/[\w.]+@[\w.]+\w/g) ?? []),
  ]))];
}

function quote(s: string | null): string {
  return s === null ? 'NULL' : `'${s.replace(/'/g, "''")}'`;
}

export function demoSeedSql(customers = 40, ordersPerCustomer = 3): string {
  const out = [
    'CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE, card_number text NOT NULL, country char(2) NOT NULL, created_at timestamptz NOT NULL, notes text);',
    'CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers(id), total_cents integer NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL);',
  ];
  const epoch = Date.UTC(2026, 0, 1);
  const cust: string[] = [];
  const ord: string[] = [];
  let orderId = 1;
  for (const c of demoCustomers(customers)) {
    const i = c.id;
    cust.push(`(${i}, ${quote(c.name)}, ${quote(c.email)}, ${quote(c.cardNumber)}, ${quote(c.country)}, ${quote(c.createdAt)}, ${quote(c.notes)})`);
    for (let j = 0; j < ordersPerCustomer; j++) {
      const total = 500 + ((i * 131 + j * 977) % 25_000);
      const when = new Date(epoch + i * 86_400_000 + (j + 1) * 3_600_000 * 13).toISOString();
      ord.push(`(${orderId++}, ${i}, ${total}, ${quote(STATUSES[(i + j) % STATUSES.length]!)}, ${quote(when)})`);
    }
  }
  out.push(`INSERT INTO customers VALUES\n  ${cust.join(',\n  ')};`);
  out.push(`INSERT INTO orders VALUES\n  ${ord.join(',\n  ')};`);
  return out.join('\n');
}
