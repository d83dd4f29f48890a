// Masking end to end: the control plane (runControlPlane, with its mask key) grants a policy with
// column and detector mask rules; the agent queries through the real sidecar (runSidecar); results
// are masked, hashes are stable across sessions, the session records carry per-rule counts and
// literal-free text, no masked value reaches the records, and the sidecar's metric counts them.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import type { SessionDetail, SessionSummary } from '@chaperone/core/api';
import type { RunningControlPlane } from '@chaperone/control-plane/server';
import type { RunningSidecar } from '@chaperone/sidecar/sidecar';
import { startDevControlPlane, startDevSidecar } from '../harness/dev-stack.js';
import { DATABASE, freePort, startPostgres } from '../harness/postgres.js';
import type { PostgresServer } from '../harness/postgres.js';
import { eventually, tempDir } from './support.js';
import { accessPolicyYaml } from '../harness/policy-yaml.js';

const ADMIN_TOKEN = 'e2e-admin-token-0123456789';
const CONNECTION = 'app-db';

const POLICY = accessPolicyYaml({
  name: 'bots', serviceAccount: { namespace: 'agents', name: 'bot' }, connection: CONNECTION,
  rules: [
    '{ action: mask, name: emails, match: { columns: ["customers.email"] }, strategy: hash }',
    '{ action: mask, name: cards, match: { columns: ["customers.card_number"] }, strategy: partial, keep: 4 }',
    '{ action: mask, name: free-text, match: { detectors: [email, credit_card] } }',
  ],
});

describe('masking through the sidecar, end to end', () => {
  const dir = tempDir('masking');
  let pg: PostgresServer;
  let cp: RunningControlPlane;
  let sidecar: RunningSidecar;

  before(async () => {
    pg = await startPostgres();
    await pg.sql('CREATE DATABASE chaperone_store');
    await pg.sql(`create table customers(id int, email text, card_number text, notes text);
      insert into customers values (1, 'ann@example.com', '4111111111111111', 'reach me at ann.b@corp.example'), (2, 'bob@example.com', '5500000000000004', null);
      grant all on customers to public`, DATABASE);
    writeFileSync(join(dir.path, 'policy.yaml'), POLICY);
    cp = await startDevControlPlane({
      port: await freePort(), databaseUrl: `postgres://postgres@127.0.0.1:${pg.port}/chaperone_store`, dir: dir.path,
      policyPath: join(dir.path, 'policy.yaml'), adminToken: ADMIN_TOKEN, connection: CONNECTION, pg,
    });
    sidecar = await startDevSidecar(cp.url, CONNECTION, join(dir.path, 'spool'));
    await sidecar.ready;
  });
  after(async () => {
    await sidecar?.close();
    await cp?.close();
    await pg?.destroy();
    dir.remove();
  });

  const agent = (): postgres.Sql => postgres({ host: '127.0.0.1', port: sidecar.ports[CONNECTION], user: 'agent', database: 'x', max: 1, fetch_types: false, onnotice: () => undefined, connect_timeout: 10 });
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${cp.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    if (!res.ok) throw new Error(`${path}: ${res.status}`);
    return (await res.json()) as T;
  };

  it('masks results, keeps hashes stable across sessions, and records counts, never values', async () => {
    const first = agent();
    const rows = await first.unsafe("select id, email, card_number, notes from customers where email <> 'nobody@example.com' order by id");
    await first.end({ timeout: 5 });
    assert.match(String(rows[0]?.email), /^h:[A-Za-z0-9_-]{16}$/);
    assert.equal(rows[0]?.card_number, '************1111');
    assert.equal(rows[0]?.notes, 'reach me at [MASKED]');
    assert.equal(rows[1]?.notes, null);

    const second = agent();
    const again = await second.unsafe('select email from customers where id = 1');
    await second.end({ timeout: 5 });
    assert.equal(again[0]?.email, rows[0]?.email, 'the keyed hash is deterministic across sessions');

    const sessions = await eventually('both sessions ended on the control plane', async () => {
      const list = await get<SessionSummary[]>('/v1/sessions');
      return list.length >= 2 && list.every((s) => s.endedAt !== null) ? list : undefined;
    }, 60_000);
    const details = await Promise.all(sessions.map((s) => get<SessionDetail>(`/v1/sessions/${s.id}`)));
    const statements = details.flatMap((d) => d.records.map((r) => r.event)).filter((e) => e.type === 'statement');
    const masked = statements.map((e) => (e.type === 'statement' ? e.masked : undefined)).filter((m) => m !== undefined);
    assert.deepEqual(masked.find((m) => m.cards !== undefined), { emails: 2, cards: 2, 'free-text': 1 });
    const recorded = JSON.stringify(details);
    for (const secret of ['ann@example.com', 'bob@example.com', '4111111111111111', 'nobody@example.com', 'ann.b@corp.example']) {
      assert.ok(!recorded.includes(secret), `${secret} must not reach the records`);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/metrics`)).text();
    assert.match(metrics, /chaperone_sidecar_masked_values_total\{protocol="postgres",connection="app-db",rule="emails",detector=""\} 3/);
    assert.match(metrics, /chaperone_sidecar_masked_values_total\{protocol="postgres",connection="app-db",rule="free-text",detector="email"\} 1/);
  });
});
