// Just-in-time approval through the PostgreSQL proxy with the real control plane: psql (simple
// protocol) and postgres.js (extended) held, approved, denied, timed out, withdrawn by a
// CancelRequest; a pipeline behind a held Execute; two sessions at once; control plane down.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { DATABASE, freePort, psql, startPostgres } from '../harness/postgres.js';
import type { PostgresServer } from '../harness/postgres.js';
import {
  CONNECTION, IDENTITY, SHORT_TIMEOUT_SECONDS, decide, getApproval, pendingFor, startApprovalProxy, startControlPlane,
} from './approval-support.js';
import type { ApprovalProxy, ControlPlaneUnderTest } from './approval-support.js';
import { eventually } from './support.js';

function client(port: number, o: { prepare?: boolean } = {}): postgres.Sql {
  return postgres({ host: '127.0.0.1', port, user: 'agent', database: 'ignored', max: 1, prepare: o.prepare ?? true, onnotice: () => undefined, connect_timeout: 10 });
}

async function rejection(p: Promise<unknown>): Promise<{ code?: string; message: string; detail?: string }> {
  try { await p; } catch (err) { return err as { code?: string; message: string }; }
  assert.fail('expected the statement to be refused');
}

describe('approval of held statements through the PostgreSQL proxy', () => {
  let pg: PostgresServer;
  let cp: ControlPlaneUnderTest;
  let p: ApprovalProxy;
  let sql: postgres.Sql;
  before(async () => {
    pg = await startPostgres();
    cp = await startControlPlane(pg);
    p = await startApprovalProxy(pg, cp.url, await cp.cp.grantFor(IDENTITY));
    sql = client(p.endpoint.port);
    await sql`create table items(id int primary key, name text)`;
  });
  after(async () => {
    await sql?.end({ timeout: 5 });
    await p?.proxy.close();
    await p?.client.close();
    await cp?.cp.close();
    await pg?.destroy();
  });

  const fill = (n: number) => sql`insert into items select g, 'item-' || g from generate_series(1, ${n}::int) g on conflict do nothing`;
  const count = async () => (await sql`select count(*)::int as n from items`)[0]?.n as number;

  it('psql: an approved TRUNCATE runs exactly as submitted, recorded with its approval', async () => {
    await fill(5);
    const run = psql(p.endpoint, ['-c', 'truncate items']);
    const pending = await pendingFor(cp.cp, 'truncate items');
    assert.deepEqual(pending.operation, { kind: 'sql', text: 'truncate items', params: [] });
    assert.equal(pending.connection, CONNECTION);
    assert.equal(await count(), 5, 'nothing ran while held');
    await decide(cp.cp, pending.id, 'approve');
    const r = await run;
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(await count(), 0);
    await eventually(() => p.observer.statements.some((s) => s.approval === pending.id && s.tag === 'TRUNCATE TABLE'), 'the statement record');
    const states = p.observer.approvals.filter((a) => a.id === pending.id).map((a) => a.state);
    assert.deepEqual(states, ['pending', 'approved']);
  });

  it('postgres.js: a denied statement names the approver and the reason (42501); the session goes on', async () => {
    await fill(3);
    const q = sql`truncate items`.execute();
    const pending = await pendingFor(cp.cp, 'truncate items');
    await decide(cp.cp, pending.id, 'deny', 'not during business hours');
    const err = await rejection(q);
    assert.equal(err.code, '42501');
    assert.equal(err.message, 'statement denied by admin: not during business hours');
    assert.match(err.detail ?? '', new RegExp(`approval ${pending.id}`));
    assert.equal(await count(), 3);
    const rec = p.observer.statements.find((s) => s.approval === pending.id);
    assert.equal(rec?.error?.code, '42501');
  });

  it('psql: a denial inside a transaction aborts it, as PostgreSQL would', async () => {
    const run = psql(p.endpoint, ['-v', 'ON_ERROR_STOP=0'], { input: 'begin;\ninsert into items values (100, \'x\');\ntruncate items;\ncommit;\n' });
    const pending = await pendingFor(cp.cp, 'truncate items');
    await decide(cp.cp, pending.id, 'deny', 'no');
    const r = await run;
    assert.match(r.stderr, /statement denied by admin: no/);
    assert.equal((await sql`select count(*)::int as n from items where id = 100`)[0]?.n, 0);
  });

  it('a hold inside a transaction outlives idle_in_transaction_session_timeout (keep-alive Syncs)', async () => {
    await sql`create table if not exists kept(x int)`;
    const run = psql(p.endpoint, [], {
      input: "set idle_in_transaction_session_timeout = '1200ms';\nbegin;\ninsert into kept values (1);\ntruncate items;\ncommit;\n",
    });
    const pending = await pendingFor(cp.cp, 'truncate items');
    // Longer than the server's timeout: without keep-alives it would end the session (25P03).
    await new Promise((r) => setTimeout(r, 2_500));
    await decide(cp.cp, pending.id, 'approve');
    const r = await run;
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal((await sql`select count(*)::int as n from kept`)[0]?.n, 1);
  });

  it('a statement nobody decides times out with 57014 saying after how long', async () => {
    await fill(3);
    const err = await rejection(sql`delete from items where id = ${1}`.execute());
    assert.equal(err.code, '57014');
    assert.equal(err.message, `statement not approved: approval timed out after ${SHORT_TIMEOUT_SECONDS} s`);
    assert.equal(await count(), 3);
  });

  it('a CancelRequest while held withdraws the request and answers 57014 like PostgreSQL', async () => {
    const q = sql`truncate items`.execute();
    const pending = await pendingFor(cp.cp, 'truncate items');
    q.cancel();
    const err = await rejection(q);
    assert.equal(err.code, '57014');
    assert.equal(err.message, 'canceling statement due to user request');
    await eventually(() => p.observer.approvals.some((a) => a.id === pending.id && a.state === 'withdrawn'), 'the withdrawn record');
    assert.equal((await getApproval(cp.cp, pending.id)).state, 'withdrawn');
    assert.equal(await count(), 3);
  });

  it('the agent disconnecting withdraws the request', async () => {
    const other = client(p.endpoint.port);
    const q = other`truncate items`.execute();
    q.catch(() => undefined);
    const pending = await pendingFor(cp.cp, 'truncate items');
    await other.end({ timeout: 0 });
    await eventually(() => p.observer.approvals.some((a) => a.id === pending.id && a.state === 'withdrawn'), 'the withdrawn record');
    // The record is written as the session ends; the control plane hears of it just after.
    let state = (await getApproval(cp.cp, pending.id)).state;
    for (let i = 0; state === 'pending' && i < 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      state = (await getApproval(cp.cp, pending.id)).state;
    }
    assert.equal(state, 'withdrawn');
  });

  it('extended protocol: the approval covers the Bind parameters; a pipeline behind the held Execute waits in order', async () => {
    await fill(3);
    const order: string[] = [];
    const held = sql`delete from items where id = ${2} and name = ${'item-2'}`.execute().then(() => order.push('delete'));
    const pending = await pendingFor(cp.cp, 'delete from items');
    assert.deepEqual(pending.operation, { kind: 'sql', text: 'delete from items where id = $1 and name = $2', params: ['2', 'item-2'] });
    // Pipelined on the same connection behind the held Execute.
    const insert = sql`insert into items values (${2}, 'again')`.execute().then(() => order.push('insert'));
    const select = sql`select name from items where id = ${2}`.execute().then((rows) => { order.push('select'); return rows; });
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(order, [], 'nothing behind the hold has run');
    await decide(cp.cp, pending.id, 'approve');
    const [, , rows] = await Promise.all([held, insert, select]);
    assert.deepEqual(order, ['delete', 'insert', 'select']);
    assert.deepEqual(rows.map((r) => r.name), ['again'], 'the insert ran after the approved delete');
  });

  it('megabytes pipelined behind a hold wait (the queue passes the 1 MiB read limit) and then run in order', async () => {
    await fill(3);
    const big = 'x'.repeat(3 * 1024 * 1024);
    const held = sql`truncate items`.execute();
    const pending = await pendingFor(cp.cp, 'truncate items');
    const inserts = [1, 2, 3].map((i) => sql`insert into items values (${1000 + i}, ${big})`.execute());
    await new Promise((r) => setTimeout(r, 200));
    await decide(cp.cp, pending.id, 'approve');
    await Promise.all([held, ...inserts]);
    const rows = await sql`select id, length(name)::int as len from items order by id`;
    assert.deepEqual(rows.map((r) => [r.id, r.len]), [[1001, big.length], [1002, big.length], [1003, big.length]]);
    await pg.sql('delete from items', DATABASE); // behind the proxy's back: a delete through it would be held
  });

  it('two sessions hold statements at once, each decided on its own', async () => {
    await fill(3);
    const a = client(p.endpoint.port, { prepare: false });
    const b = client(p.endpoint.port);
    try {
      const qa = a`truncate items`.execute();
      const qb = b`delete from items where id = ${3}`.execute();
      const pa = await pendingFor(cp.cp, 'truncate items');
      const pb = await pendingFor(cp.cp, 'delete from items');
      assert.notEqual(pa.session, pb.session);
      await decide(cp.cp, pb.id, 'approve');
      await qb;
      assert.equal(await count(), 2);
      await decide(cp.cp, pa.id, 'deny', 'keep them');
      assert.equal((await rejection(qa)).message, 'statement denied by admin: keep them');
      assert.equal(await count(), 2);
    } finally {
      await a.end({ timeout: 5 });
      await b.end({ timeout: 5 });
    }
  });
});

describe('approval with the control plane down', () => {
  let pg: PostgresServer;
  let p: ApprovalProxy;
  before(async () => {
    pg = await startPostgres();
    // Nothing listens on this port: every request to the control plane fails to connect.
    p = await startApprovalProxy(pg, `http://127.0.0.1:${await freePort()}`, 'no-grant');
  });
  after(async () => {
    await p?.proxy.close();
    await p?.client.close();
    await pg?.destroy();
  });

  it('refuses the held statement (fail closed) and says why', async () => {
    const r = await psql(p.endpoint, ['-c', 'create table t(x int)', '-c', 'truncate t', '-c', 'select 1']);
    assert.match(r.stderr, /ERROR: {2}statement requires approval, which could not be obtained: approval could not be requested: control plane POST \/v1\/approvals/);
    const outcome = p.observer.approvals.at(-1);
    assert.equal(outcome?.state, 'unavailable');
  });

  it('refuses a held statement when the control plane goes away during the wait', async () => {
    const cp = await startControlPlane(pg, 'approvals_gone');
    const q = await startApprovalProxy(pg, cp.url, await cp.cp.grantFor(IDENTITY), 1);
    const sql = client(q.endpoint.port);
    try {
      const held = sql`delete from t where x = ${1}`.execute();
      await pendingFor(cp.cp, 'delete from t');
      await cp.cp.close();
      const err = await rejection(held);
      assert.equal(err.code, '42501');
      assert.match(err.message, /^statement requires approval, which could not be obtained: no decision could be fetched: control plane GET \/v1\/approvals\/[^/]+\/wait/);
      assert.deepEqual((await sql`select 1 as one`).map((r) => r.one), [1], 'the session goes on');
    } finally {
      await sql.end({ timeout: 5 });
      await q.proxy.close();
      await q.client.close();
    }
  });
});
