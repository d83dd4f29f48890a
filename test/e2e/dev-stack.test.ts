// `chaperone dev` as a user runs it: the ready line, real psql and postgres.js through the
// printed URL (allowed rows, a denied DROP with SQLSTATE 42501, the connection still usable),
// `sessions list/show` through the dev state file, masked columns and detector spans through psql,
// held DELETEs decided with `chaperone approvals` (the stack's admin token), the agent never
// seeing the credential, and a clean SIGTERM shutdown that removes the state file.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { demoSensitiveValues } from '@chaperone/cli/dev/seed';
import type { Approval, SessionDetail, SessionSummary } from '@chaperone/core/api';
import { verifyChain } from '@chaperone/core/records/chain';
import type { StatementEvent } from '@chaperone/core/records/types';
import { psql } from '../harness/postgres.js';
import type { Endpoint } from '../harness/postgres.js';
import { CliProcess, DEMO_POLICY, eventually, runCli, tempDir } from './support.js';

const RULE_MESSAGE = 'schema changes are not allowed for agents';
const RULE_DETAIL = 'chaperone rule no-schema-changes (policy demo-agents)';

describe('chaperone dev', () => {
  const dir = tempDir('dev');
  const dataDir = join(dir.path, 'data');
  const env = { XDG_STATE_HOME: join(dir.path, 'state'), XDG_DATA_HOME: join(dir.path, 'xdg-data') };
  const stateFile = join(env.XDG_STATE_HOME, 'chaperone', 'dev.json');
  let dev: CliProcess;
  let ready: { ready: boolean; postgres: string; controlPlane: string };
  let agent: Endpoint;
  /** Everything the agent received, for the credential check. */
  const agentSaw: string[] = [];

  before(async () => {
    dev = CliProcess.start(['dev', '--policy', DEMO_POLICY, '--data-dir', dataDir], env);
    const line = await dev.line((l) => l.startsWith('{'), 'the ready line of `chaperone dev`');
    ready = JSON.parse(line) as typeof ready;
    const url = new URL(ready.postgres);
    agent = { host: url.hostname, port: Number(url.port), user: decodeURIComponent(url.username), database: url.pathname.slice(1) };
  });
  after(async () => {
    if (dev?.running) await dev.stop('SIGKILL').catch(() => undefined);
    dir.remove();
  });

  it('prints exactly {ready, postgres, controlPlane} and publishes the dev state file', () => {
    assert.deepEqual(Object.keys(ready), ['ready', 'postgres', 'controlPlane']);
    assert.equal(ready.ready, true);
    assert.match(ready.postgres, /^postgres:\/\/agent@127\.0\.0\.1:\d+\/demo$/);
    assert.match(ready.controlPlane, /^http:\/\/127\.0\.0\.1:\d+$/);
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { pid: number; controlPlane: string; postgres: string };
    assert.equal(state.pid, dev.child.pid);
    assert.equal(state.controlPlane, ready.controlPlane);
    assert.equal(state.postgres, ready.postgres);
  });

  it('psql: an allowed select returns the seeded rows', async () => {
    const r = await psql(agent, ['-v', 'ON_ERROR_STOP=1', '-c', 'select id, name, country from customers order by id limit 3', '-c', 'select count(*) from orders']);
    agentSaw.push(r.stdout, r.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '1|Grace Thompson|US\n2|Alan Lamarr|NL\n3|Edsger Hopper|DE\n120\n');
  });

  it('psql: DROP TABLE fails with 42501, the rule message and detail; exit 1', async () => {
    const r = await psql(agent, ['-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', '-c', 'DROP TABLE customers']);
    agentSaw.push(r.stdout, r.stderr);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`ERROR:  42501: ${RULE_MESSAGE}\n`));
    assert.match(r.stderr, new RegExp(`DETAIL:  ${RULE_DETAIL.replace(/[()]/g, '\\$&')}\n`));
  });

  it('psql: the same connection stays usable after the refused DROP', async () => {
    const r = await psql(agent, ['-v', 'VERBOSITY=verbose'], { input: 'select count(*) from customers;\nDROP TABLE customers;\nselect count(*) from customers;\n' });
    agentSaw.push(r.stdout, r.stderr);
    assert.equal(r.stdout, '40\n40\n', r.stderr);
    assert.match(r.stderr, /ERROR: {2}42501: schema changes are not allowed for agents/);
  });

  it('postgres.js (extended protocol): rows, the refused DROP with code/message/detail, then more rows', async () => {
    const sql = postgres(ready.postgres, { max: 1, onnotice: () => undefined, connect_timeout: 10, connection: { application_name: 'e2e-postgresjs' } });
    try {
      const rows = await sql<{ id: number; name: string }[]>`select id, name from customers where id = ${2}`;
      agentSaw.push(JSON.stringify(rows));
      assert.deepEqual([...rows], [{ id: 2, name: 'Alan Lamarr' }]);
      const err = await sql`drop table customers`.then(() => undefined, (e: unknown) => e as { code?: string; message?: string; detail?: string });
      agentSaw.push(JSON.stringify(err), String(err?.message));
      assert.ok(err, 'DROP TABLE must fail');
      assert.equal(err.code, '42501');
      assert.equal(err.message, RULE_MESSAGE);
      assert.equal(err.detail, RULE_DETAIL);
      const [count] = await sql<{ n: number }[]>`select count(*)::int as n from customers where country = ${'US'}`;
      agentSaw.push(JSON.stringify(count));
      assert.equal(count?.n, 5);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });

  it('sessions list/show (--json and human) show every session, the DROP denied by its rule, chain ok', async () => {
    // Four agent sessions above; records arrive asynchronously, so wait until all have ended.
    const sessions = await eventually('four ended sessions in `chaperone sessions list --json`', async () => {
      const r = await runCli(['sessions', 'list', '--json'], env);
      assert.equal(r.code, 0, r.stderr);
      const list = JSON.parse(r.stdout) as SessionSummary[];
      return list.length === 4 && list.every((s) => s.endedAt !== null) ? list : undefined;
    });
    for (const s of sessions) {
      assert.equal(s.protocol, 'postgres');
      assert.equal(s.connection, 'demo');
      assert.deepEqual(s.identity, { namespace: 'dev', serviceAccount: 'agent' });
      assert.equal(s.chainOk, true, `${s.id}: ${s.chainError}`);
    }
    assert.deepEqual(sessions.map((s) => s.denied).sort(), [0, 1, 1, 1]);

    const denials: StatementEvent[] = [];
    for (const s of sessions) {
      const r = await runCli(['sessions', 'show', s.id, '--json'], env);
      assert.equal(r.code, 0, r.stderr);
      agentSaw.push(r.stdout); // not the agent's, but the credential must not be in records either
      const detail = JSON.parse(r.stdout) as SessionDetail;
      assert.equal(detail.session.id, s.id);
      assert.deepEqual(verifyChain(detail.records), { ok: true });
      assert.deepEqual(detail.records.map((x) => x.seq), detail.records.map((_, i) => i));
      assert.equal(detail.records[0]?.event.type, 'session.start');
      assert.equal(detail.records.at(-1)?.event.type, 'session.end');
      const statements = detail.records.slice(1, -1).map((x) => x.event);
      assert.ok(statements.length > 0 && statements.every((e) => e.type === 'statement'), `${s.id}: only statements between start and end`);
      assert.equal(detail.session.records, detail.records.length);
      for (const e of statements) if (e.type === 'statement' && e.decision.action === 'deny') denials.push(e);

      const human = await runCli(['sessions', 'show', s.id], env);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, new RegExp(`^session +${s.id}$`, 'm'));
      assert.match(human.stdout, new RegExp(`^chain +ok, ${detail.records.length} records$`, 'm'));
      if (s.denied > 0) {
        assert.match(human.stdout, /deny +DROP TABLE customers/i);
        assert.match(human.stdout, new RegExp(`→ DENIED by no-schema-changes: ${RULE_MESSAGE}`));
      }
    }
    assert.equal(denials.length, 3);
    for (const e of denials) {
      assert.match(e.text, /^drop table customers;?$/i); // psql sends a script line with its semicolon
      assert.deepEqual(e.kinds, ['drop']);
      assert.deepEqual(e.decision, { action: 'deny', policy: 'demo-agents', rule: 'no-schema-changes', message: RULE_MESSAGE });
      assert.equal(e.error?.code, '42501');
    }
    assert.deepEqual(denials.map((e) => e.flow).sort(), ['extended', 'simple', 'simple']);

    const list = await runCli(['sessions', 'list'], env);
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^SESSION +PROTOCOL +CONNECTION +IDENTITY +STARTED +STATE +STATEMENTS +DENIED +CHAIN$/);
    for (const s of sessions) {
      const row = lines.find((l) => l.startsWith(s.id));
      assert.ok(row, `session ${s.id} in the table`);
      assert.match(row, new RegExp(`^${s.id} +postgres +demo +dev/agent +\\S+ +ended +${s.statements} +${s.denied} +ok$`));
    }
  });

  it('psql: the demo policy masks e-mails (hash), cards (partial) and a card quoted in notes (detector)', async () => {
    const r = await psql(agent, ['-v', 'ON_ERROR_STOP=1', '-c', 'select email, card_number, notes from customers where id = 2', '-c', 'select lower(email) from customers where id = 2']);
    agentSaw.push(r.stdout, r.stderr);
    assert.equal(r.code, 0, r.stderr);
    const m = /^(h:[\w-]{16})\|\*{12}8456\|Phoned to pay, card \[MASKED\]\n(h:[\w-]{16})\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.equal(m[2], m[1], 'lower(email) of an all-lowercase e-mail hashes like the e-mail');
    for (const value of demoSensitiveValues()) assert.ok(!r.stdout.includes(value), value);
  });

  it('a held DELETE: `chaperone approvals list` shows it, `approvals approve` (the stack\'s admin token) lets it run; `deny --reason` refuses the next with who and why', async () => {
    // One psql session: the DELETE inside a transaction that is rolled back, then a second DELETE.
    const session = psql(agent, ['-v', 'VERBOSITY=verbose'], {
      input: "begin;\ndelete from orders where id = 1;\nselect count(*) from orders;\nrollback;\ndelete from orders where id = 2;\nselect count(*) from orders;\n",
    });
    const decide = async (text: string, args: string[]): Promise<string> => {
      const pending = await eventually(`the pending approval for ${text}`, async () => {
        const r = await runCli(['approvals', 'list', '--state', 'pending', '--json'], env);
        assert.equal(r.code, 0, r.stderr);
        return (JSON.parse(r.stdout) as Approval[]).find((a) => a.operation.kind === 'sql' && a.operation.text === text);
      });
      const human = await runCli(['approvals', 'list', '--state', 'pending'], env);
      assert.match(human.stdout, new RegExp(`^${pending.id} +pending +dev/agent +demo +${text} +group:dba `, 'm'));
      const r = await runCli(['approvals', ...args.map((a) => (a === 'ID' ? pending.id : a))], env);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    assert.match(await decide('delete from orders where id = 1;', ['approve', 'ID', '--reason', 'ticket OPS-7']), / approved by admin: ticket OPS-7\n$/);
    assert.match(await decide('delete from orders where id = 2;', ['deny', 'ID', '--reason', 'not this one']), / denied by admin: not this one\n$/);
    const r = await session;
    agentSaw.push(r.stdout, r.stderr);
    assert.equal(r.stdout, '119\n120\n', r.stderr);
    assert.match(r.stderr, /ERROR: {2}42501: statement denied by admin: not this one\nDETAIL: {2}chaperone rule writes-need-a-dba \(policy demo-agents\), approval [0-9a-f-]{36}\n/);
  });

  it('the agent never sees the database credential; neither do the records or the logs', () => {
    const password = readFileSync(join(dataDir, 'demo-password'), 'utf8').trim();
    assert.ok(password.length >= 16, 'the stack keeps a generated demo password');
    for (const [i, text] of agentSaw.entries()) assert.ok(!text.includes(password), `the password leaked into agent-visible output #${i}`);
    assert.ok(!dev.stdout.includes(password), 'the password leaked into stdout of chaperone dev');
    assert.ok(!dev.stderr.includes(password), 'the password leaked into stderr of chaperone dev');
    assert.ok(!ready.postgres.includes(password));
  });

  it('SIGTERM stops the stack with exit 0, removes the state file and stops both databases', async () => {
    const exit = await dev.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, dev.stderr);
    assert.equal(existsSync(stateFile), false, 'dev.json removed');
    assert.match(dev.stderr, /SIGTERM, stopping/);
    // PostgreSQL removes postmaster.pid on a clean shutdown.
    for (const db of ['demo-db', 'control-plane']) {
      assert.equal(existsSync(join(dataDir, db, 'pg', 'postmaster.pid')), false, `${db} PostgreSQL stopped`);
    }
    const r = await runCli(['sessions', 'list'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no control plane/);
  });
});
