// `make bench`: masking measured through the PostgreSQL proxy — a 6-column customer result
// streamed to psql through proxies with no mask rule, with column rules, and with every detector
// (rows/s, and rows per second of the proxy's own CPU time, i.e. per core); then pgbench -S with
// and without a column rule on the selected column.
// Environment: BENCH_MASK_ROWS (default 200000), BENCH_ROUNDS (default 3), BENCH_SECONDS (pgbench, default 10).
import { randomBytes } from 'node:crypto';
import { LineageAnalyzer } from '@chaperone/core/sql/lineage-cache';
import { loadSqlParser } from '@chaperone/core/sql/classify';
import { API_VERSION, DETECTOR_NAMES } from '@chaperone/core/policy/types';
import type { AccessPolicyDoc, Rule } from '@chaperone/core/policy/types';
import { PgProxy } from '@chaperone/sidecar/pg/proxy';
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

const ALLOW: SqlVerdict = Object.freeze({ decision: { action: 'allow', policy: 'bench', rule: 'default' }, kinds: [], tables: [], redactLiterals: false });

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

async function main(): Promise<void> {
  await loadSqlParser();
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
    for (const [name, rules] of [['no mask rule', []], ['abalance masked', [{ action: 'mask', name: 'bal', match: { columns: ['pgbench_accounts.abalance'] } }]]] as [string, Rule[]][]) {
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
