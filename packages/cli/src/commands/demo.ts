// `chaperone demo`: a scripted tour of the PostgreSQL path on the local stack.
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import type { SessionDetail, SessionSummary } from '@chaperone/core/api';
import { defaultDataDir } from '@chaperone/core/paths';
import { startDevStack } from '../dev/stack.js';
import { apiGet } from '../operator-client.js';
import { formatSessionDetail, table } from './sessions.js';
import { parse, untilSignal, type Command } from './command.js';

const USAGE = 'chaperone demo [--data-dir DIR]';
export const DEMO_POLICY = fileURLToPath(new URL('../../assets/demo-policy.yaml', import.meta.url));

interface Step {
  say: string;
  sql: string;
}

const STEPS: Step[] = [
  { say: 'An allowed query: how many customers and orders?', sql: 'SELECT (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM orders) AS orders' },
  { say: 'An allowed report: revenue by country.', sql: "SELECT c.country, count(o.id) AS orders, sum(o.total_cents) / 100.0 AS revenue FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.status <> 'refunded' GROUP BY c.country ORDER BY revenue DESC LIMIT 5" },
  { say: 'A dangerous statement: the sidecar stops it before it reaches the database.', sql: 'DROP TABLE customers' },
  { say: 'Hidden in a multi-statement query, behind a comment: stopped too.', sql: 'SELECT 1; /* harmless */ dRoP TABLE "orders"' },
  { say: 'A write that policy holds for a DBA\'s approval (approvals arrive in a later release, so it is refused).', sql: "DELETE FROM orders WHERE status = 'pending'" },
  { say: 'The tables are still there:', sql: 'SELECT count(*) AS customers FROM customers' },
];

export const demo: Command = {
  usage: USAGE,
  async run(args) {
    const { values } = parse(args, { 'data-dir': { type: 'string' } }, USAGE);
    const out = (s = '') => process.stdout.write(`${s}\n`);
    const stack = await startDevStack({
      policyPaths: [DEMO_POLICY],
      identity: { namespace: 'dev', serviceAccount: 'agent' },
      dataDir: values['data-dir'] ?? defaultDataDir('demo'),
      progress: (line) => process.stderr.write(`  … ${line}\n`),
    });
    // The stack's databases are child processes: an interrupt stops them rather than orphaning them.
    void untilSignal().then(async (signal) => {
      await stack.close();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
    let failures = 0;
    try {
      out(`The agent connects to the sidecar with no password: ${stack.postgresUrl}`);
      out(`Policy: ${DEMO_POLICY}\n`);
      const since = Date.now();
      const sql = postgres(stack.postgresUrl, { max: 1, onnotice: () => {}, connection: { application_name: 'chaperone-demo' } });
      try {
        for (const step of STEPS) {
          out(`» ${step.say}\n  ${step.sql}`);
          try {
            const rows = await sql.unsafe(step.sql);
            const cols = rows.columns?.map((c) => c.name) ?? [];
            out(table(cols, rows.map((r) => cols.map((c) => String(r[c])))).replace(/^/gm, '    '));
            if (/drop|delete/i.test(step.sql)) failures++;
          } catch (err) {
            const e = err as { code?: string; message: string; detail?: string };
            out(`    ✗ ERROR ${e.code ?? ''}: ${e.message}${e.detail ? `\n      ${e.detail}` : ''}\n`);
            if (!/drop|delete/i.test(step.sql)) failures++;
          }
        }
      } finally {
        await sql.end();
      }
      out('» What the control plane recorded for this session:\n');
      const target = { url: stack.controlPlaneUrl, token: stack.adminToken };
      const detail = await waitForSessionEnd(target, since);
      out(formatSessionDetail(detail).replace(/^/gm, '  '));
    } finally {
      await stack.close();
    }
    if (failures > 0) {
      process.stderr.write(`chaperone demo: ${failures} step(s) did not behave as expected\n`);
      return 1;
    }
    out('Done. Run `chaperone dev --policy FILE` to try your own policy.');
    return 0;
  },
};

/** Records arrive asynchronously; wait until the demo's session has its end record. */
async function waitForSessionEnd(target: { url: string; token: string }, since: number): Promise<SessionDetail> {
  for (let attempt = 0; ; attempt++) {
    const sessions = await apiGet<SessionSummary[]>(target, '/v1/sessions?limit=20');
    const mine = sessions.find((s) => s.endedAt !== null && Date.parse(s.startedAt) >= since - 1000);
    if (mine) return apiGet<SessionDetail>(target, `/v1/sessions/${mine.id}`);
    if (attempt > 100) throw new Error('the demo session was not recorded within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}
