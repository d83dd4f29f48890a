// The table of SQL → expected lineage (lineage.test.ts), in lineage-test-support.ts's notation,
// against its test catalog (tables and functionIsPure, no views).

export type Expected = (string[] | 'none' | 'unknown')[];

/** [sql, expected per statement]. */
export const LINEAGE_CASES: [string, Expected][] = [
  // Aliases, table aliases, schema-qualified names.
  ['SELECT email AS e FROM customers', [['e=customers.email']]],
  ['SELECT c.email FROM public.customers c', [['email=public.customers.email']]],
  ['SELECT public.customers.email, customers.name FROM public.customers', [['email=public.customers.email', 'name=public.customers.name']]],
  ['SELECT i.amount FROM billing.invoices i', [['amount=billing.invoices.amount']]],
  // Functions and operators.
  ["SELECT lower(email), email || '', email::text, CAST(email AS varchar(3)) FROM customers",
    [['lower~customers.email', '?column?~customers.email', 'email~customers.email', 'email~customers.email']]],
  ["SELECT CASE WHEN id > 1 THEN email ELSE 'x' END, COALESCE(card, name), NULLIF(email, ''), GREATEST(email, name) FROM customers",
    [['case~customers.id,customers.email', 'coalesce~customers.card,customers.name', 'nullif~customers.email', 'greatest~customers.email,customers.name']]],
  ["SELECT substring(email from 2), position('@' in email), email LIKE '%@x', (string_to_array(email, '@'))[1] FROM customers",
    [['substring~customers.email', 'position~customers.email', '?column?~customers.email', 'string_to_array~customers.email']]],
  ['SELECT ROW(email, id), ARRAY[email], email IS NULL FROM customers',
    [['row~customers.email,customers.id', 'array~customers.email', '?column?~customers.email']]],
  // Aggregates and windows: ORDER BY, FILTER and the window clause choose rows, carry no value.
  ["SELECT string_agg(email, ','), array_agg(name ORDER BY card), count(*) FILTER (WHERE email > ''), count(*) FROM customers",
    [['string_agg~customers.email', 'array_agg~customers.name', 'count~', 'count~']]],
  ['SELECT lag(email) OVER (ORDER BY id), row_number() OVER (PARTITION BY email), first_value(card) OVER w FROM customers WINDOW w AS (ORDER BY id)',
    [['lag~customers.email', 'row_number~', 'first_value~customers.card']]],
  ['SELECT mode() WITHIN GROUP (ORDER BY email), percentile_disc(0.5) WITHIN GROUP (ORDER BY card), rank(1) WITHIN GROUP (ORDER BY id) FROM customers',
    [['mode~customers.email', 'percentile_disc~customers.card', 'rank~customers.id']]],
  // Sub-queries in the target list.
  ['SELECT (SELECT email FROM customers c WHERE c.id = o.customer_id) FROM orders o', [['email=customers.email']]],
  ['SELECT (SELECT o.note) AS n FROM orders o', [['n=orders.note']]],
  ['SELECT ARRAY(SELECT email FROM customers)', [['array~customers.email']]],
  ["SELECT EXISTS (SELECT 1 FROM customers WHERE email = 'x'), id IN (SELECT customer_id FROM orders) FROM customers",
    [['exists~', '?column?~customers.id,orders.customer_id']]],
  // Sub-queries in FROM, LATERAL.
  ['SELECT s.m FROM (SELECT lower(email) AS m FROM customers) s', [['m~customers.email']]],
  ['SELECT x FROM (SELECT email FROM customers) s(x)', [['x=customers.email']]],
  ['SELECT * FROM (SELECT id, email FROM customers) s', [['id=customers.id', 'email=customers.email']]],
  ['SELECT l.m FROM customers c, LATERAL (SELECT upper(c.email) AS m) l', [['m~customers.email']]],
  ['SELECT * FROM customers c CROSS JOIN LATERAL (SELECT c.card AS k) l', [['id=customers.id', 'email=customers.email', 'name=customers.name', 'card=customers.card', 'k=customers.card']]],
  // CTEs, including a CTE that shadows a table and a recursive one.
  ['WITH c AS (SELECT email FROM customers) SELECT * FROM c', [['email=customers.email']]],
  ['WITH c(e) AS (SELECT email FROM customers) SELECT e, c.e FROM c', [['e=customers.email', 'e=customers.email']]],
  ['WITH customers AS (SELECT 1 AS email) SELECT email FROM customers', [['email~']]],
  ['WITH a AS (SELECT email FROM customers), b AS (SELECT upper(email) AS u FROM a) SELECT u FROM b', [['u~customers.email']]],
  ["WITH RECURSIVE t(n, e) AS (SELECT 1, email FROM customers UNION ALL SELECT n + 1, e || 'x' FROM t WHERE n < 3) SELECT * FROM t",
    [['n~', 'e~customers.email']]],
  ['WITH RECURSIVE t(a, b) AS (SELECT name, card FROM customers UNION SELECT b, a FROM t) SELECT a, b FROM t',
    [['a=customers.name,customers.card', 'b=customers.card,customers.name']]],
  // PostgreSQL rejects the next two; lineage still fails closed rather than guess.
  ['WITH RECURSIVE t(a) AS (SELECT id FROM customers UNION SELECT card FROM t) SELECT a FROM t', [['a~customers.id ?']]],
  ['SELECT nosuch FROM customers', [['nosuch~ ?']]],
  ['WITH RECURSIVE t(id, email) AS (SELECT id, email FROM customers UNION ALL SELECT id + 1, email FROM t) SEARCH DEPTH FIRST BY id SET ord SELECT * FROM t',
    [['id~customers.id', 'email=customers.email', 'ord~customers.id']]],
  ['WITH d AS (DELETE FROM customers WHERE id = 1 RETURNING email) SELECT upper(email) FROM d', [['upper~customers.email']]],
  // Set operations: column i from column i of each arm.
  ['SELECT email FROM customers UNION SELECT note FROM orders', [['email=customers.email,orders.note']]],
  ['SELECT id, lower(name) FROM customers INTERSECT SELECT id, note FROM orders EXCEPT SELECT 1, card FROM customers',
    [['id~customers.id,orders.id', 'lower~customers.name,orders.note,customers.card']]],
  // Joins: USING and NATURAL merge columns (both sides feed them), listed first.
  ['SELECT * FROM customers JOIN orders USING (id)',
    [['id=customers.id,orders.id', 'email=customers.email', 'name=customers.name', 'card=customers.card', 'customer_id=orders.customer_id', 'total=orders.total', 'note=orders.note']]],
  ['SELECT * FROM customers NATURAL JOIN orders',
    [['id=customers.id,orders.id', 'email=customers.email', 'name=customers.name', 'card=customers.card', 'customer_id=orders.customer_id', 'total=orders.total', 'note=orders.note']]],
  ['SELECT id, j.email FROM (customers c FULL JOIN orders o USING (id)) AS j', [['id=customers.id,orders.id', 'email=customers.email']]],
  ['SELECT c.card, o.note, id, c.id FROM customers c JOIN orders o USING (id)',
    [['card=customers.card', 'note=orders.note', 'id=customers.id,orders.id', 'id=customers.id']]],
  ['SELECT note, email FROM customers c JOIN orders o ON o.customer_id = c.id', [['note=orders.note', 'email=customers.email']]],
  ['SELECT u.id FROM customers JOIN orders USING (id) AS u', [['id=customers.id,orders.id']]],
  // VALUES.
  ["VALUES (1, 'a'), (2, 'b')", [['column1~', 'column2~']]],
  ['SELECT * FROM (VALUES ((SELECT email FROM customers LIMIT 1))) v(e)', [['e=customers.email']]],
  ["SELECT v.x FROM customers c, LATERAL (VALUES (c.email), ('x')) v(x)", [['x~customers.email']]],
  // Whole rows.
  ['SELECT row_to_json(c), c, to_jsonb(c.*), c.* IS NULL FROM customers c',
    [['row_to_json~customers.*', 'c~customers.*', 'to_jsonb~customers.*', '?column?~customers.*']]],
  ['SELECT row_to_json(s) FROM (SELECT email, 1 AS one FROM customers) s', [['row_to_json~customers.email']]],
  ['SELECT (c).email FROM customers c', [['email~customers.*']]],
  // RETURNING: the written table's columns, plus what this statement wrote into them.
  ["INSERT INTO customers (email) VALUES ('a@b') RETURNING id, email", [['id=customers.id', 'email~customers.email']]],
  ['INSERT INTO orders (note) SELECT email FROM customers RETURNING note', [['note=orders.note,customers.email']]],
  ['INSERT INTO orders SELECT id, id, 0, card FROM customers RETURNING note, total', [['note=orders.note,customers.card', 'total~orders.total']]],
  ['UPDATE orders SET note = c.email FROM customers c WHERE c.id = orders.customer_id RETURNING note, c.name',
    [['note=orders.note,customers.email', 'name=customers.name']]],
  ["UPDATE customers SET name = 'x' RETURNING old.email, new.name, old.name", [['email=customers.email', 'name~customers.name', 'name=customers.name']]],
  ['DELETE FROM customers c USING orders o WHERE o.customer_id = c.id RETURNING c.email, o.note', [['email=customers.email', 'note=orders.note']]],
  ['DELETE FROM customers WHERE id = 1 RETURNING *', [['id=customers.id', 'email=customers.email', 'name=customers.name', 'card=customers.card']]],
  ["INSERT INTO orders (id, note) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET note = (SELECT email FROM customers LIMIT 1) RETURNING note",
    [['note~orders.note,customers.email']]],
  ['MERGE INTO orders o USING customers c ON o.id = c.id WHEN MATCHED THEN UPDATE SET note = c.email WHEN NOT MATCHED THEN INSERT (id, note) VALUES (c.id, c.name) RETURNING o.note, c.card',
    [['note=orders.note,customers.email,customers.name', 'card=customers.card']]],
  ["UPDATE customers SET name = 'x'", ['none']],
  ["INSERT INTO orders (note) VALUES ('x')", ['none']],
  // COPY.
  ['COPY (SELECT lower(email) FROM customers) TO STDOUT', [['lower~customers.email']]],
  ['COPY customers (email, id) TO STDOUT', [['email=customers.email', 'id=customers.id']]],
  ['COPY customers TO STDOUT WITH (FORMAT csv)', [['id=customers.id', 'email=customers.email', 'name=customers.name', 'card=customers.card']]],
  ['COPY customers FROM STDIN', ['none']],
  ["COPY customers TO '/tmp/customers.csv'", ['none']],
  // EXPLAIN returns plan text, no table values; SHOW a setting.
  ['EXPLAIN (ANALYZE, VERBOSE) SELECT email FROM customers', [['QUERY PLAN~']]],
  ['SHOW search_path', [['search_path~']]],
  // TABLE t, SELECT INTO.
  ['TABLE orders', [['id=orders.id', 'customer_id=orders.customer_id', 'total=orders.total', 'note=orders.note']]],
  ['SELECT email INTO copy_of_emails FROM customers', ['none']],
  // Functions in FROM.
  ['SELECT * FROM unnest(ARRAY[1, 2]) WITH ORDINALITY', [['unnest~', 'ordinality~']]],
  ["SELECT u FROM customers c, unnest(string_to_array(c.email, '@')) u", [['u~customers.email']]],
  ['SELECT key, value FROM customers c, jsonb_each(to_jsonb(c))', [['key~customers.*', 'value~customers.*']]],
  ['SELECT * FROM generate_series(1, 3) AS g(n)', [['n~']]],
  ['SELECT * FROM ROWS FROM (unnest(ARRAY[1]), generate_series(1, 2)) AS r(a, b)', [['a~', 'b~']]],
  ['SELECT x FROM my_srf(1) AS f(x int)', [['x~ ?']]],
  ['SELECT * FROM my_srf(1)', ['unknown']],
  ['SELECT s FROM customers c, my_pure(c.card) s', [['s~customers.card']]],
  ["SELECT jt.* FROM customers c, JSON_TABLE(to_jsonb(c), '$' COLUMNS (e text PATH '$.email', NESTED PATH '$.x[*]' COLUMNS (y int), n FOR ORDINALITY)) jt",
    [['e~customers.*', 'y~customers.*', 'n~customers.*']]],
  ["SELECT x.* FROM customers c, XMLTABLE('/r' PASSING xmlelement(name r, c.card) COLUMNS v text PATH '.') x", [['v~customers.card']]],
  // System columns carry no user data.
  ['SELECT ctid, xmin, tableoid::regclass, email FROM customers', [['ctid~', 'xmin~', 'tableoid~', 'email=customers.email']]],
  // Views without viewDefinition: the view is named as a table (the caller resolves it).
  ['SELECT mail FROM customer_emails', [['mail=customer_emails.mail']]],
  // Functions: unknown ones are untraceable; the catalog can vouch for them.
  ["SELECT query_to_xml('select email from customers', true, false, '')", [['query_to_xml~ ?']]],
  ['SELECT my_fn(id), my_pure(email) FROM customers', [['my_fn~customers.id ?', 'my_pure~customers.email']]],
  ['SELECT extract(year FROM now()), md5(card) FROM customers', [['extract~', 'md5~customers.card']]],
  // Statements that return no rows, and those whose rows come from elsewhere.
  ['CREATE TABLE t (a int); SET search_path = public; BEGIN; DECLARE k CURSOR FOR SELECT email FROM customers; MOVE k',
    ['none', 'none', 'none', 'none', 'none']],
  ['FETCH 10 FROM k', ['unknown']],
  ['EXECUTE q(1)', ['unknown']],
  ['CALL p(1)', ['unknown']],
  ['SELECT 1; SELECT email FROM customers', [['?column?~'], ['email=customers.email']]],
  ['SELECT * FROM', ['unknown']],
  ['', []],
];
