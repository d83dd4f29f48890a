// psql through the proxy: one-shot commands, multi-statement text, scripts, \copy both ways, and
// a denied statement that leaves the session usable.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { psql, startPostgres } from '../harness/postgres.js';
import type { PostgresServer } from '../harness/postgres.js';
import { encodeQuery } from '@chaperone/sidecar/pg/encode';
import { RawClient } from './raw-client.js';
import { DENY_DROP_MESSAGE, eventually, startProxy } from './support.js';
import type { ProxyUnderTest } from './support.js';

describe('psql through the PostgreSQL proxy', () => {
  let pg: PostgresServer;
  let p: ProxyUnderTest;
  let dir: string;
  before(async () => {
    pg = await startPostgres();
    p = await startProxy(pg);
    dir = mkdtempSync(join(tmpdir(), 'chaperone-psql-'));
  });
  after(async () => {
    await p?.proxy.close();
    await pg?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs a query as the Connection user, not the agent-supplied one', async () => {
    const r = await psql(p.endpoint, ['-c', 'select current_user, current_database()']);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'scram_user|app\n');
  });

  it('keeps application_name from the agent startup parameters', async () => {
    const r = await psql(p.endpoint, ['-c', "select current_setting('application_name')"], { env: { PGAPPNAME: 'agent-007' } });
    assert.equal(r.stdout, 'agent-007\n');
  });

  it('runs multi-statement text and reports each result', async () => {
    const r = await psql(p.endpoint, ['-c', 'create table multi(a int); insert into multi values (1),(2); select count(*) from multi']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '2\n');
  });

  it('denies the whole message when one statement is denied, with SQLSTATE 42501 and the rule', async () => {
    const r = await psql(p.endpoint, ['-v', 'VERBOSITY=verbose', '-c', 'create table never(a int); drop table multi']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERROR:\s+42501: DROP is not allowed here/);
    assert.match(r.stderr, /DETAIL:\s+chaperone rule test-policy#0 \(policy test-policy\)/);
    const exists = await pg.sql("select to_regclass('public.never') is null", 'app');
    assert.equal(exists, 't\n', 'nothing of a denied message reaches the server');
  });

  it('leaves psql usable after a deny, and fails an open transaction as PostgreSQL would', async () => {
    const script = [
      'select 1;',
      'drop table multi;',
      'select 2;',
      'begin;',
      'insert into multi values (3);',
      'drop table multi;',
      'select 3;',
      'commit;',
      'select count(*) from multi;',
    ].join('\n');
    const r = await psql(p.endpoint, ['-v', 'ON_ERROR_STOP=0'], { input: script });
    // The denial inside the transaction aborts it: 'select 3' is refused by the server, COMMIT
    // rolls back and the insert of 3 is gone.
    assert.equal(r.stdout, '1\n2\n2\n');
    assert.equal(r.stderr.match(/DROP is not allowed here/g)?.length, 2);
    assert.match(r.stderr, /current transaction is aborted/);
  });

  it('puts a transaction into failed state on a denied simple query: COMMIT reports ROLLBACK', async () => {
    const raw = await RawClient.ready(p.port);
    try {
      const statusAfter = async (text: string): Promise<string | undefined> => {
        const seen = raw.messages.length;
        raw.send(encodeQuery(text));
        await raw.until((m) => m.slice(seen).some((x) => x.type === 'ReadyForQuery'), `ReadyForQuery after ${text}`);
        const ready = raw.messages.slice(seen).find((x) => x.type === 'ReadyForQuery');
        return ready?.type === 'ReadyForQuery' ? ready.status : undefined;
      };
      assert.equal(await statusAfter('create table tx_t(a int)'), 'I');
      assert.equal(await statusAfter('begin'), 'T');
      assert.equal(await statusAfter('insert into tx_t values (42)'), 'T');
      const seen = raw.messages.length;
      assert.equal(await statusAfter('drop table tx_t'), 'E');
      const errors = raw.messages.slice(seen).flatMap((m) => (m.type === 'ErrorResponse' ? [m.fields] : []));
      assert.deepEqual(errors.map((f) => [f.C, f.M]), [['42501', DENY_DROP_MESSAGE]]);
      const commitStart = raw.messages.length;
      assert.equal(await statusAfter('commit'), 'I');
      const tags = raw.messages.slice(commitStart).flatMap((m) => (m.type === 'CommandComplete' ? [m.tag] : []));
      assert.deepEqual(tags, ['ROLLBACK']);
      assert.equal(await pg.sql('select count(*) from tx_t where a = 42', 'app'), '0\n');
      // Outside a transaction the denial leaves the session idle and usable.
      assert.equal(await statusAfter('drop table tx_t'), 'I');
      assert.equal(await statusAfter('select 1'), 'I');
    } finally { raw.close(); }
  });

  it('refuses statements needing approval with 42501 when the proxy has no approval service to ask', async () => {
    const r = await psql(p.endpoint, ['-v', 'VERBOSITY=verbose', '-c', 'truncate multi']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /42501: needs a DBA \(needs approval, and approvals are not available here\)/);
  });

  it('runs a script file with -f', async () => {
    const file = join(dir, 'script.sql');
    writeFileSync(file, 'create table script_t(id int, v text);\ninsert into script_t select g, md5(g::text) from generate_series(1,100) g;\nselect count(*) from script_t;\n');
    const r = await psql(p.endpoint, ['-v', 'ON_ERROR_STOP=1', '-f', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '100\n');
  });

  it('copies in and out with \\copy', async () => {
    const input = join(dir, 'in.csv'); const output = join(dir, 'out.csv');
    const rows = Array.from({ length: 5000 }, (_, i) => `${i},value-${i}`).join('\n') + '\n';
    writeFileSync(input, rows);
    let r = await psql(p.endpoint, ['-v', 'ON_ERROR_STOP=1', '-c', 'create table copy_t(id int, v text)']);
    assert.equal(r.code, 0, r.stderr);
    r = await psql(p.endpoint, ['-v', 'ON_ERROR_STOP=1', '-c', `\\copy copy_t from '${input}' csv`]);
    assert.equal(r.code, 0, r.stderr);
    r = await psql(p.endpoint, ['-v', 'ON_ERROR_STOP=1', '-c', `\\copy (select * from copy_t order by id) to '${output}' csv`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(output, 'utf8'), rows);
  });

  it('records statements with tags, rows and errors, and session start/end', async () => {
    const before_ = p.observer.statements.length;
    const r = await psql(p.endpoint, ['-v', 'ON_ERROR_STOP=0'], { input: 'select g from generate_series(1,7) g;\nselect 1/0;\ndrop table copy_t;\n' });
    assert.equal(r.code, 0);
    await eventually(() => p.observer.statements.length >= before_ + 3, 'three statement events');
    const [ok, failed, denied] = p.observer.statements.slice(before_);
    assert.deepEqual([ok?.flow, ok?.tag, ok?.rows, ok?.verdict.decision.action], ['simple', 'SELECT 7', 7, 'allow']);
    assert.equal(failed?.error?.code, '22012');
    assert.deepEqual(denied?.error, { code: '42501', message: DENY_DROP_MESSAGE });
    assert.equal(denied?.verdict.decision.action, 'deny');
    await eventually(() => p.observer.ended.length >= p.observer.started.length, 'session end events');
    assert.ok(p.observer.ended.every((e) => typeof e.reason === 'string' && e.durationMs >= 0));
  });
});
