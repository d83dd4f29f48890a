// `chaperone demo`: a scripted tour of the PostgreSQL path on the local stack — enforcement,
// masking, just-in-time approval and the session record — that checks what it shows.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import type { Approval, SessionDetail, SessionSummary } from '@chaperone/core/api';
import { defaultDataDir } from '@chaperone/core/paths';
import { demoSensitiveValues } from '../dev/seed.js';
import { startDevStack } from '../dev/stack.js';
import { apiGet, type OperatorTarget } from '../operator-client.js';
import { formatSessionDetail, table } from './sessions.js';
import { parse, untilSignal, type Command } from './command.js';

const USAGE = 'chaperone demo [--data-dir DIR]';
export const DEMO_POLICY = fileURLToPath(new URL('../../assets/demo-policy.yaml', import.meta.url));
/** The approver's commands are this very CLI, run as a child process as a person would type them. */
const CHAPERONE_BIN = fileURLToPath(new URL('../../bin/chaperone.js', import.meta.url));

interface Step {
  say: string;
  sql: string;
  /** What the agent should get: rows (or a command tag), or an ErrorResponse. */
  expect: 'ok' | 'error';
  /** Held for approval: the demo plays the approver. */
  approver?: { decision: 'approve' | 'deny'; reason: string };
}

const SECTIONS: { title: string; steps: Step[] }[] = [
  {
    title: 'Runtime enforcement',
    steps: [
      { say: 'An allowed query: how many customers and orders?', sql: 'SELECT (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM orders) AS orders', expect: 'ok' },
      { say: 'An allowed report: revenue by country.', sql: "SELECT c.country, count(o.id) AS orders, round(sum(o.total_cents) / 100.0, 2) AS revenue FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.status <> 'refunded' GROUP BY c.country ORDER BY revenue DESC LIMIT 5", expect: 'ok' },
      { say: 'A dangerous statement: the sidecar stops it before it reaches the database.', sql: 'DROP TABLE customers', expect: 'error' },
      { say: 'Hidden in a multi-statement query, behind a comment: stopped too.', sql: 'SELECT 1; /* harmless */ dRoP TABLE "orders"', expect: 'error' },
    ],
  },
  {
    title: 'Masking: sensitive values never reach the agent',
    steps: [
      { say: 'E-mails hashed, card numbers partly starred (by column); a card and an e-mail in free-text notes caught by detectors.', sql: 'SELECT id, name, email, card_number, notes FROM customers ORDER BY id LIMIT 4', expect: 'ok' },
      { say: 'The hash is keyed and deterministic, so GROUP BY on the masked e-mail still works.', sql: 'SELECT c.email, count(o.id) AS orders, round(sum(o.total_cents) / 100.0, 2) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.email ORDER BY spent DESC LIMIT 3', expect: 'ok' },
      { say: 'Escape attempts are masked too: lower(email) gives the same token as email (same value), the whole row as JSON is hashed whole.', sql: 'SELECT lower(email) AS lowered, row_to_json(c) AS whole_row FROM customers c WHERE id = 2', expect: 'ok' },
    ],
  },
  {
    title: 'Just-in-time approval: risky writes wait for a human',
    steps: [
      { say: 'In a transaction (rolled back below, so every run starts from the same rows):', sql: 'BEGIN', expect: 'ok' },
      { say: 'A DELETE: policy holds it for a DBA; the agent\'s connection waits.', sql: "DELETE FROM orders WHERE status = 'pending'", expect: 'ok', approver: { decision: 'approve', reason: 'cleanup ticket OPS-42' } },
      { say: 'The approved DELETE ran, exactly as submitted:', sql: "SELECT count(*) AS pending FROM orders WHERE status = 'pending'", expect: 'ok' },
      { say: 'Undo it, for the next run:', sql: 'ROLLBACK', expect: 'ok' },
      { say: 'Another DELETE, which the approver refuses with a reason: the agent is told who and why.', sql: "DELETE FROM customers WHERE country = 'US'", expect: 'error', approver: { decision: 'deny', reason: 'customers are kept for 7 years, open a ticket' } },
      { say: 'The tables are still there:', sql: 'SELECT (SELECT count(*) FROM customers) AS customers, (SELECT count(*) FROM orders) AS orders', expect: 'ok' },
    ],
  },
];

export const demo: Command = {
  usage: USAGE,
  async run(args) {
    const { values } = parse(args, { 'data-dir': { type: 'string' } }, USAGE);
    const out = (s = '') => process.stdout.write(`${s}\n`);
    const dataDir = values['data-dir'] ?? defaultDataDir('demo');
    const stack = await startDevStack({
      policyPaths: [DEMO_POLICY],
      identity: { namespace: 'dev', serviceAccount: 'agent' },
      dataDir,
      progress: (line) => process.stderr.write(`  … ${line}\n`),
    });
    // The stack's databases are child processes: an interrupt stops them rather than orphaning them.
    void untilSignal().then(async (signal) => {
      await stack.close();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
    const problems: string[] = [];
    /** Everything the agent received, checked for the seed's sensitive values at the end. */
    const agentSaw: string[] = [];
    const admin: OperatorTarget = { url: stack.controlPlaneUrl, token: stack.adminToken };
    const approver: ApproverShell = { target: admin, tokenFile: join(dataDir, 'admin-token'), introduced: false };
    try {
      out(`The agent connects to the sidecar with no password: ${stack.postgresUrl}`);
      out(`Policy: ${DEMO_POLICY}\n`);
      const since = Date.now();
      // fetch_types off: the record then holds the tour's statements only, not the client's catalog query.
      const sql = postgres(stack.postgresUrl, { max: 1, fetch_types: false, onnotice: () => {}, connection: { application_name: 'chaperone-demo' } });
      try {
        for (const section of SECTIONS) {
          out(`━━ ${section.title}\n`);
          for (const step of section.steps) {
            out(`» ${step.say}\n  ${step.sql}`);
            const query = sql.unsafe(step.sql);
            const result = query.then((rows) => ({ ok: true as const, rows }), (err: unknown) => ({ ok: false as const, err }));
            // A held statement that no approver can reach is cancelled (CancelRequest withdraws it) rather than left waiting.
            if (step.approver && !(await playApprover(approver, step, since, result, out, problems))) query.cancel();
            const r = await result;
            if (r.ok) {
              const cols = r.rows.columns?.map((c) => c.name) ?? [];
              const text = cols.length > 0 ? table(cols, r.rows.map((row) => cols.map((c) => (row[c] === null ? 'NULL' : String(row[c]))))) : `${r.rows.command ?? 'OK'}${r.rows.count ? ` ${r.rows.count}` : ''}\n`;
              agentSaw.push(text);
              out(`${text.trimEnd().replace(/^/gm, '    ')}\n`);
            } else {
              const e = r.err as { code?: string; message: string; detail?: string };
              const text = `✗ ERROR ${e.code ?? ''}: ${e.message}${e.detail ? `\n  ${e.detail}` : ''}`;
              agentSaw.push(text);
              out(`${text.replace(/^/gm, '    ')}\n`);
            }
            if ((r.ok ? 'ok' : 'error') !== step.expect) problems.push(`${step.sql}: expected ${step.expect === 'ok' ? 'a result' : 'an error'}`);
          }
        }
      } finally {
        await sql.end({ timeout: 5 });
      }
      out('━━ What the control plane recorded for this session\n');
      const detail = await waitForSessionEnd(admin, since);
      out(formatSessionDetail(detail).replace(/^/gm, '  '));
      problems.push(...checkRecord(detail, agentSaw));
    } finally {
      await stack.close();
    }
    if (problems.length > 0) {
      process.stderr.write(`chaperone demo: ${problems.length} check(s) failed:\n${problems.map((p) => `  - ${p}\n`).join('')}`);
      return 1;
    }
    out('Checked: no e-mail or card number reached the agent or the record; both approvals are recorded.');
    out('Done. Run `chaperone dev --policy FILE` to try your own policy.');
    return 0;
  },
};

/** The approver's terminal: the stack's address and admin token, which the demo's commands are given. */
interface ApproverShell { target: OperatorTarget; tokenFile: string; introduced: boolean }

/**
 * The approver's side of a held statement: wait for its pending request, then run the real
 * `chaperone approvals list` and `approvals approve|deny` (the built CLI, as a child process) and
 * print each command line and its output. The stack's admin token stands in for an approver's
 * OIDC ID token. False if the statement was never held or the approver could not decide it.
 */
async function playApprover(shell: ApproverShell, step: Step, since: number, result: Promise<unknown>, out: (s?: string) => void, problems: string[]): Promise<boolean> {
  let settled = false;
  void result.then(() => { settled = true; });
  let pending: Approval | undefined;
  for (let attempt = 0; !pending && !settled && attempt < 200; attempt++) {
    const list = await apiGet<Approval[]>(shell.target, '/v1/approvals?state=pending&limit=20');
    pending = list.find((a) => a.operation.kind === 'sql' && a.operation.text === step.sql && Date.parse(a.requestedAt) >= since - 1000);
    if (!pending) await new Promise((r) => setTimeout(r, 50));
  }
  if (!pending) {
    if (!settled) problems.push(`${step.sql}: no pending approval request appeared`);
    return false;
  }
  const decision = step.approver!;
  out('    … held. The approver sees the request:');
  if (!shell.introduced) {
    // What the approver's shell needs once; the admin token is the local stack's stand-in for an OIDC login.
    out(`    $ export CHAPERONE_CONTROL_PLANE=${shell.target.url} CHAPERONE_TOKEN="$(cat ${shellQuote(shell.tokenFile)})"`);
    shell.introduced = true;
  }
  const steps = [['approvals', 'list', '--state', 'pending'], ['approvals', decision.decision, pending.id, '--reason', decision.reason]];
  for (const argv of steps) {
    out(`    $ chaperone ${argv.map(shellQuote).join(' ')}`);
    const r = await runChaperone(argv, shell.target);
    const printed = `${r.stdout}${r.stderr}`.trimEnd();
    if (printed) out(printed.replace(/^/gm, '    '));
    if (r.code !== 0) {
      problems.push(`chaperone ${argv.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
      return false;
    }
  }
  out('    The agent gets:');
  return true;
}

/** `chaperone ARGS…` with the approver's environment; bounded so a stuck command cannot hang the tour. */
function runChaperone(argv: string[], target: OperatorTarget): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, CHAPERONE_CONTROL_PLANE: target.url, CHAPERONE_TOKEN: target.token ?? '' };
  return new Promise((resolve) => {
    execFile(process.execPath, [CHAPERONE_BIN, ...argv], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr: err && !stderr ? err.message : stderr });
    });
  });
}

/** A word as a POSIX shell would need it, so the printed command can be pasted as is. */
function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** What the record must show (approvals, masked counts) and must not (any seeded sensitive value). */
function checkRecord(detail: SessionDetail, agentSaw: string[]): string[] {
  const problems: string[] = [];
  const recorded = JSON.stringify(detail);
  const seen = agentSaw.join('\n');
  for (const value of demoSensitiveValues()) {
    if (seen.includes(value)) problems.push(`the agent saw an unmasked value (${value.slice(0, 4)}…)`);
    if (recorded.includes(value)) problems.push(`the session record holds an unmasked value (${value.slice(0, 4)}…)`);
  }
  const approvals = detail.records.flatMap((r) => (r.event.type === 'approval' ? [r.event] : []));
  for (const state of ['approved', 'denied'] as const) {
    if (!approvals.some((a) => a.state === state && a.by === 'admin')) problems.push(`no approval record ${state} by admin`);
  }
  const masked = detail.records.flatMap((r) => (r.event.type === 'statement' && r.event.masked ? Object.keys(r.event.masked) : []));
  for (const rule of ['emails-hashed', 'cards-partial', 'cards-and-emails-anywhere']) {
    if (!masked.includes(rule)) problems.push(`no statement record counts values masked by ${rule}`);
  }
  if (!detail.session.chainOk) problems.push(`the record's hash chain is broken: ${detail.session.chainError}`);
  return problems;
}

/** Records arrive asynchronously; wait until the demo's session has its end record. */
async function waitForSessionEnd(target: OperatorTarget, since: number): Promise<SessionDetail> {
  for (let attempt = 0; ; attempt++) {
    const sessions = await apiGet<SessionSummary[]>(target, '/v1/sessions?limit=20');
    const mine = sessions.find((s) => s.endedAt !== null && Date.parse(s.startedAt) >= since - 1000);
    if (mine) return apiGet<SessionDetail>(target, `/v1/sessions/${mine.id}`);
    if (attempt > 100) throw new Error('the demo session was not recorded within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}
