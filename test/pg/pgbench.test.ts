// pgbench through the proxy: select-only and the default TPC-B-like script, briefly (bounded -t).
// Throughput is measured by the benchmark (make bench), never asserted here.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DATABASE, USERS, pgbench, startPostgres } from '../harness/postgres.js';
import type { PostgresServer } from '../harness/postgres.js';
import { startProxy } from './support.js';
import type { ProxyUnderTest } from './support.js';

describe('pgbench through the PostgreSQL proxy', () => {
  let pg: PostgresServer;
  let p: ProxyUnderTest;
  before(async () => {
    pg = await startPostgres();
    p = await startProxy(pg);
    // pgbench -i begins with DROP TABLE IF EXISTS, which the test policy denies: initialise directly.
    const init = await pgbench({ host: pg.host, port: pg.port, user: USERS.scram.username, password: USERS.scram.password, database: DATABASE }, ['-i', '-s', '1', '-q']);
    assert.equal(init.code, 0, init.stderr);
  });
  after(async () => { await p?.proxy.close(); await pg?.destroy(); });

  for (const [name, args] of [
    ['select-only, 1 client', ['-S', '-t', '300', '-c', '1']],
    ['select-only, 4 clients', ['-S', '-t', '100', '-c', '4', '-j', '2']],
    ['select-only, extended protocol', ['-S', '-M', 'extended', '-t', '200', '-c', '2']],
    ['select-only, prepared statements', ['-S', '-M', 'prepared', '-t', '200', '-c', '2']],
    ['TPC-B-like default script', ['-t', '50', '-c', '2']],
  ] as const) {
    it(`runs ${name} without failures`, async () => {
      const r = await pgbench(p.endpoint, [...args, '-n']);
      assert.equal(r.code, 0, r.stderr);
      const clients = Number(args[args.indexOf('-c') + 1]); const tx = Number(args[args.indexOf('-t') + 1]);
      assert.match(r.stdout, new RegExp(`number of transactions actually processed: ${clients * tx}/${clients * tx}`));
    });
  }

  it('refuses pgbench -i through the proxy (it drops tables), leaving the data intact', async () => {
    const r = await pgbench(p.endpoint, ['-i', '-s', '1', '-q']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /DROP is not allowed here/);
    assert.equal(await pg.sql('select count(*) from pgbench_branches', DATABASE), '1\n');
  });
});
