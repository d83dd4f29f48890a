// `make bench`: masking in the PostgreSQL proxy — first the masking stage alone (MaskStream over
// the server's bytes for a 6-column customer result, CPU time on one core), then the same result
// streamed to psql through proxies with no mask rule, with column rules, and with every detector
// (rows/s, and rows per second of the proxy's own CPU time: sockets included, per core); then
// pgbench -S with and without a column rule on the selected column.
// Environment: BENCH_MASK_ROWS (default 200000), BENCH_ROUNDS (default 3), BENCH_SECONDS (pgbench, default 10).
import { randomBytes } from 'node:crypto';
import { LineageAnalyzer } from '@chaperone/core/sql/lineage-cache';
import { loadSqlParser } from '@chaperone/core/sql/classify';
import { API_VERSION, DETECTOR_NAMES } from '@chaperone/core/policy/types';
import type { AccessPolicyDoc, Rule } from '@chaperone/core/policy/types';
import { PgProxy } from '@chaperone/sidecar/pg/proxy';
import { Catalog } from '@chaperone/sidecar/pg/catalog';
import { encodeQuery } from '@chaperone/sidecar/pg/encode';
import { MaskPlanner } from '@chaperone/sidecar/pg/mask-plan';
import { MaskStream } from '@chaperone/sidecar/pg/mask-stream';
import type { SqlVerdict } from '@chaperone/sidecar/pg/proxy';
import { coreLineage } from '@chaperone/sidecar/pg/mask-lineage';
import { maskingOptions } from '@chaperone/sidecar/pg/mask-options';
import { DATABASE, USERS, pgbench, psql, startPostgres } from '../harness/postgres.js';
import type { Endpoint, PostgresServer } from '../harness/postgres.js';
import { parsePgbench, table } from './stats.js';

const ROWS = positiveInt(process.env.BENCH_MASK_ROWS, 200_000);
const ROUNDS = positiveInt(process.env.BENCH_ROUNDS, 3);
const SECONDS = positiveInt(process.env.BENCH_SECONDS, 10);
const GOAL_BY_COLUMN = 1_000_000;
const GOAL_WITH_DETECTORS = 200_000;

function positiveInt(v: string | undefined, dflt: number): number {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : dflt;
}
const log = (line: string): void => { process.stderr.write(`bench mask-proxy: ${line}\n`); };

const ALLOW: SqlVerdict = { decision: { action: 'allow', policy: 'bench', rule: 'default' }, kinds: [], tables: [], redactLiterals: false };

const SCENARIOS: { name: string; rules: Rule[] }[] = [
  { name: 'no mask rule', rules: [] },
  {
    name: 'by column (3 of 6)',
    rules: [
      { action: 'mask', name: 'email', match: { columns: ['customers_bench.email'] }, strategy: 'redact' },
      { action: 'mask', name: 'card', match: { columns: ['customers_bench.card_number'] }, strategy: 'partial' },
      { action: 'mask', name: 'phone', match: { columns: ['customers_bench.phone'] }, strategy: 'redact' },
    ],
  },
  { name: 'all detectors', rules: [{ action: 'mask', name: 'detect', match: { detectors: [...DETECTOR_NAMES] } }] },
];

function policy(rules: Rule[]): AccessPolicyDoc {
  return { apiVersion: API_VERSION, kind: 'AccessPolicy', metadata: { name: 'bench' }, spec: { subjects: [{ namespace: 'b' }], connections: ['bench'], default: 'allow', rules } };
}

async function startProxy(pg: PostgresServer, rules: Rule[]): Promise<{ proxy: PgProxy; endpoint: Endpoint }> {
  const masking = maskingOptions([policy(rules)], 'bench', randomBytes(32).toString('base64'), coreLineage(new LineageAnalyzer()));
  const proxy = new PgProxy({
    listen: { host: '127.0.0.1', port: 0 }, connectionName: 'bench',
    target: { host: pg.host, port: pg.port, database: DATABASE, sslmode: 'disable' }, credential: USERS.scram,
    enforce: () => ALLOW, ...(masking ? { masking } : {}),
  });
  const { port } = await proxy.start();
  return { proxy, endpoint: { host: '127.0.0.1', port, user: 'agent', database: 'x' } };
}

function frame(type: number, body: Buffer): Buffer {
  const b = Buffer.alloc(5 + body.length);
  b[0] = type; b.writeInt32BE(4 + body.length, 1); body.copy(b, 5);
  return b;
}

/** The server's bytes for `select * from customers_bench` (text format), cut in 64 KiB reads. */
function serverBytes(oid: number): { head: Buffer; chunks: Buffer[] } {
  const names = ['id', 'name', 'email', 'phone', 'card_number', 'created_at'];
  const desc: Buffer[] = [Buffer.from([0, names.length])];
  names.forEach((n, i) => {
    const f = Buffer.alloc(18);
    // The table's types: id int4, created_at timestamptz, the rest text (as the proxy scenario's table).
    f.writeUInt32BE(oid, 0); f.writeInt16BE(i + 1, 4); f.writeUInt32BE(i === 0 ? 23 : i === 5 ? 1184 : 25, 6); f.writeInt16BE(-1, 10);
    desc.push(Buffer.from(`${n}\0`), f);
  });
  const rows: Buffer[] = [];
  for (let g = 1; g <= ROWS; g++) {
    const vals = [String(g), `Customer ${g}`, `user${g}@example.com`, `+1 415 555 ${String(g % 10000).padStart(4, '0')}`, '4111 1111 1111 1111', '2024-01-01 10:00:00+00'];
    const parts: Buffer[] = [Buffer.from([0, vals.length])];
    for (const v of vals) { const l = Buffer.alloc(4); const b = Buffer.from(v); l.writeInt32BE(b.length); parts.push(l, b); }
    rows.push(frame(0x44, Buffer.concat(parts)));
  }
  const all = Buffer.concat(rows);
  const chunks: Buffer[] = [];
  for (let i = 0; i < all.length; i += 65536) chunks.push(all.subarray(i, i + 65536));
  return { head: frame(0x54, Buffer.concat(desc)), chunks };
}

/** Rows per CPU-second of the masking stage alone (best of ROUNDS + 1, the first warming up). */
function stageRowsPerCoreSecond(rules: Rule[]): number {
  const masking = maskingOptions([policy(rules)], 'bench', randomBytes(32).toString('base64'), coreLineage(new LineageAnalyzer()));
  const catalog = new Catalog(() => { throw new Error('the stage benchmark asks no catalog'); });
  catalog.seed({ oid: 1000, schema: 'public', name: 'customers_bench', kind: 'r', columns: new Map(['id', 'name', 'email', 'phone', 'card_number', 'created_at'].map((n, i) => [i + 1, n])) });
  const planner = new MaskPlanner(masking?.policy ?? { hasColumnRules: false, column: () => undefined, detect: undefined }, catalog, coreLineage(new LineageAnalyzer()).forCatalog(catalog));
  const { head, chunks } = serverBytes(1000);
  let best = 0;
  for (let round = 0; round <= ROUNDS; round++) {
    const stream = new MaskStream({ deliver: () => undefined, pause: () => undefined, resume: () => undefined, maskFailed: (err) => { throw err; } },
      () => planner, catalog, { column: () => undefined, detector: () => undefined });
    stream.frontend(encodeQuery('select * from customers_bench'));
    const c0 = process.cpuUsage();
    stream.push(head);
    for (const c of chunks) stream.push(c);
    const c = process.cpuUsage(c0);
    if (round > 0) best = Math.max(best, ROWS / ((c.user + c.system) / 1e6));
  }
  return best;
}

async function main(): Promise<void> {
  await loadSqlParser();
  const stage = SCENARIOS.map((s) => {
    const perCore = stageRowsPerCoreSecond(s.rules);
    const goal = s.name === 'all detectors' ? GOAL_WITH_DETECTORS : s.rules.length > 0 ? GOAL_BY_COLUMN : undefined;
    return [s.name, fmtK(perCore), goal === undefined ? '-' : `${fmtK(goal)} ${perCore >= goal ? 'met' : 'NOT met'}`];
  });
  process.stdout.write(`\nMasking stage alone (MaskStream over the server's bytes): ${ROWS} rows × 6 columns\n`);
  process.stdout.write(table(['scenario', 'rows/s per core', 'goal'], stage) + '\n');
  const pg = await startPostgres();
  const out: string[][] = [];
  try {
    await pg.sql(`create table customers_bench(id int, name text, email text, phone text, card_number text, created_at timestamptz);
      insert into customers_bench select g, 'Customer ' || g, 'user' || g || '@example.com', '+1 415 555 ' || lpad((g % 10000)::text, 4, '0'),
        '4111 1111 1111 1111', timestamptz '2024-01-01' + g * interval '1 minute' from generate_series(1, ${ROWS}) g;
      grant select on customers_bench to public`, DATABASE);
    for (const s of SCENARIOS.filter((x) => process.env.BENCH_MASK_ONLY === undefined || x.name.startsWith(process.env.BENCH_MASK_ONLY))) {
      const { proxy, endpoint } = await startProxy(pg, s.rules);
      try {
        await psql(endpoint, ['-o', '/dev/null', '-c', 'select * from customers_bench limit 10']);
        let wall = 0; let cpu = 0;
        for (let r = 0; r < ROUNDS; r++) {
          const c0 = process.cpuUsage(); const t0 = performance.now();
          const res = await psql(endpoint, ['-o', '/dev/null', '-c', 'select * from customers_bench']);
          if (res.code !== 0) throw new Error(`psql failed: ${res.stderr}`);
          wall += performance.now() - t0;
          const c = process.cpuUsage(c0); cpu += (c.user + c.system) / 1000;
        }
        const rows = ROWS * ROUNDS;
        const perCore = rows / (cpu / 1000);
        const goal = s.name === 'all detectors' ? GOAL_WITH_DETECTORS : s.rules.length > 0 ? GOAL_BY_COLUMN : undefined;
        out.push([s.name, fmtK(rows / (wall / 1000)), fmtK(perCore), goal === undefined ? '-' : `${fmtK(goal)} ${perCore >= goal ? 'met' : 'NOT met'}`]);
        log(`${s.name}: done`);
      } finally { await proxy.close(); }
    }
    process.stdout.write(`\nMasking through the proxy: ${ROWS} rows × 6 columns to psql, ${ROUNDS} rounds\n`);
    process.stdout.write(table(['scenario', 'rows/s (wall)', 'rows/s per proxy core', 'goal'], out) + '\n');

    // pgbench -S with and without a rule masking the column it selects.
    const init = await pgbench(pg.admin, ['-i', '-s', '1', '-q', DATABASE]);
    if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);
    await pg.sql('grant select on all tables in schema public to public', DATABASE);
    const tps: string[][] = [];
    // Alternated, twice each: a shared machine drifts between runs.
    const masked: Rule[] = [{ action: 'mask', name: 'bal', match: { columns: ['pgbench_accounts.abalance'] } }];
    for (const [name, rules] of [['abalance masked', masked], ['no mask rule', []], ['abalance masked', masked], ['no mask rule', []]] as [string, Rule[]][]) {
      const { proxy, endpoint } = await startProxy(pg, rules);
      try {
        const r = await pgbench(endpoint, ['-S', '-n', '-T', String(SECONDS), '-c', '4', '-j', '2']);
        const parsed = r.code === 0 ? parsePgbench(r.stdout) : null;
        if (!parsed) throw new Error(`pgbench failed: ${r.stdout}\n${r.stderr}`);
        tps.push([name, parsed.tps.toFixed(0)]);
      } finally { await proxy.close(); }
    }
    process.stdout.write(`\npgbench -S through the proxy, 4 clients, ${SECONDS} s\n${table(['masking', 'tps'], tps)}\n`);
  } finally {
    await pg.destroy();
  }
}

function fmtK(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${Math.round(n / 1000)} k`;
}

main().catch((err: unknown) => { console.error(err); process.exitCode = 1; });
