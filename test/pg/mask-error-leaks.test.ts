// Exfiltration on a masked connection around the results: casts that make the server quote a
// column's value as a name (::regclass, ::regtype), the JSON parser's detail and context, XML's
// detail; a NOTIFY payload; a setting the server reports (application_name). What the agent
// wrote itself still comes back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { psql, startPostgres } from '../harness/postgres.js';
import type { PostgresServer } from '../harness/postgres.js';
import { CUSTOMERS_SQL, startMaskingProxy } from './mask-support.js';
import type { ProxyUnderTest } from './support.js';

describe('server errors on a masked connection do not carry masked values', () => {
  let pg: PostgresServer;
  let p: ProxyUnderTest;
  before(async () => {
    pg = await startPostgres();
    await pg.sql(CUSTOMERS_SQL, 'app');
    p = await startMaskingProxy(pg);
  });
  after(async () => {
    await p?.proxy.close();
    await pg?.destroy();
  });

  const stderrOf = async (sql: string): Promise<string> => {
    const r = await psql(p.endpoint, ['-c', sql]);
    assert.notEqual(r.code, 0, sql);
    return r.stderr;
  };

  it('quotes, JSON and XML input in errors are masked unless the statement holds them', async () => {
    const probes = [
      'select email::regclass from customers where id = 1',
      'select ssn::regtype from customers where id = 1',
      'select ssn::json from customers where id = 1',
      'select substr(ssn, 5)::json from customers where id = 1',
      'select name::json from customers where id = 1',
      'select xmlparse(document name) from customers where id = 1',
      'select name::regclass from customers where id = 1',
    ];
    for (const sql of probes) {
      const err = await stderrOf(sql);
      assert.match(err, /ERROR/, sql);
      for (const leak of ['ann@example', 'ann', '123', '-45', '45-6789', 'Ann']) assert.ok(!err.includes(leak), `${sql}: ${err}`);
    }
    // The agent's own identifiers are still named.
    assert.match(await stderrOf('select nosuchcolumn from customers'), /column "nosuchcolumn" does not exist/);
    assert.match(await stderrOf('select * from "No_Such_Table"'), /relation "No_Such_Table" does not exist/);
  });
  it('NOTIFY payloads and reported settings do not carry masked values', async () => {
    const sql = postgres({ host: '127.0.0.1', port: p.port, user: 'agent', database: 'x', max: 1, onnotice: () => undefined, connect_timeout: 10 });
    try {
      const payloads: string[] = [];
      let heardOne: () => void = () => undefined;
      const heard = new Promise<void>((resolve) => { heardOne = resolve; });
      // Resolves once its own connection is listening.
      await sql.listen('leak', (payload) => { payloads.push(payload); heardOne(); });
      await sql`select pg_notify('leak', name || ' ' || ssn) from customers where id = 1`;
      await heard;
      assert.deepEqual(payloads, ['[MASKED]']);
      await sql`select set_config('application_name', ssn, false) from customers where id = 1`;
      assert.equal(sql.parameters['application_name'], '[MASKED]');
      await sql.unsafe(`set application_name = 'my-agent'`);
      assert.equal(sql.parameters['application_name'], 'my-agent');
    } finally {
      await sql.end();
    }
  });
});
