// The demo database: a small, realistic shop (customers with e-mails and card numbers, orders).
// Generated deterministically so every demo shows the same rows.

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

function quote(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

export function demoSeedSql(customers = 40, ordersPerCustomer = 3): string {
  const out = [
    'CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL UNIQUE, card_number text NOT NULL, country char(2) NOT NULL, created_at timestamptz NOT NULL);',
    'CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers(id), total_cents integer NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL);',
  ];
  const epoch = Date.UTC(2026, 0, 1);
  const cust: string[] = [];
  const ord: string[] = [];
  let orderId = 1;
  for (let i = 1; i <= customers; i++) {
    const first = FIRST[i % FIRST.length]!;
    const last = LAST[(i * 7) % LAST.length]!;
    const email = `${first}.${last}${i}@example.com`.toLowerCase().replace(/[^a-z0-9.@-]/g, '');
    const created = new Date(epoch + i * 86_400_000).toISOString();
    cust.push(`(${i}, ${quote(`${first} ${last}`)}, ${quote(email)}, ${quote(luhnCardNumber(i))}, ${quote(COUNTRIES[i % COUNTRIES.length]!)}, ${quote(created)})`);
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
