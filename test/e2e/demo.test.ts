// `chaperone demo` from a fresh data folder and again on the same one: exit 0; the allowed rows and
// the refused DROPs; masked e-mails (hash), cards (partial), detector spans in notes and the
// escape attempts; a DELETE held, listed, approved by the stack's admin and run, another denied
// with who and why; the recorded session with its approval records and masked counts, chain ok;
// and no seeded e-mail or card number anywhere in what the demo printed.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { demoCustomers, demoSensitiveValues } from '@chaperone/cli/dev/seed';
import { runCli, tempDir } from './support.js';

const TOKEN = 'h:[A-Za-z0-9_-]{16}';
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

function assertEnforcement(stdout: string): void {
  // The allowed query and its rows (40 customers, 120 orders in the seed).
  assert.match(stdout, /^ {4}customers +orders\n {4}40 +120$/m);
  assert.match(stdout, /^ {4}country +orders +revenue\n {4}[A-Z]{2} +\d+ +\d+\.\d\d$/m);
  // The refused DROP, plainly and hidden behind a comment, each with message and rule.
  const refusals = stdout.match(/✗ ERROR 42501: schema changes are not allowed for agents\n {6}chaperone rule no-schema-changes \(policy demo-agents\)/g) ?? [];
  assert.equal(refusals.length, 2, 'both DROPs refused with their message and rule');
}

function assertMasking(stdout: string): void {
  const [c1, c2, c3, c4] = demoCustomers(4);
  assert.ok(c1 && c2 && c3 && c4);
  // By column: e-mails hashed, cards with their last four digits; detectors over the notes.
  const rows = new RegExp([
    '^ {4}id +name +email +card_number +notes',
    ` {4}1 +${c1.name} +(${TOKEN}) +\\*{12}${c1.cardNumber.slice(-4)} +NULL`,
    ` {4}2 +${c2.name} +(${TOKEN}) +\\*{12}${c2.cardNumber.slice(-4)} +Phoned to pay, card \\[MASKED\\]`,
    ` {4}3 +${c3.name} +(${TOKEN}) +\\*{12}${c3.cardNumber.slice(-4)} +Send invoices to \\[MASKED\\]`,
    ` {4}4 +${c4.name} +(${TOKEN}) +\\*{12}${c4.cardNumber.slice(-4)} +${c4.notes}$`,
  ].join('\n'), 'm').exec(stdout);
  assert.ok(rows, `the masked customers table:\n${stdout}`);
  const tokens = rows.slice(1, 5);
  assert.equal(new Set(tokens).size, 4, 'distinct e-mails give distinct tokens');
  // GROUP BY on the hashed e-mail: one row per customer, each with its three orders.
  const grouped = new RegExp(`^ {4}email +orders +spent\\n {4}(${TOKEN}) +3 +\\d+\\.\\d\\d\\n {4}(${TOKEN}) +3 +\\d+\\.\\d\\d\\n {4}(${TOKEN}) +3 +\\d+\\.\\d\\d$`, 'm').exec(stdout);
  assert.ok(grouped, 'GROUP BY over the masked e-mail');
  assert.equal(new Set(grouped.slice(1)).size, 3);
  // Escapes: lower(email) is the same value as customer 2's e-mail, so the same token; the row is hashed whole.
  const escapes = new RegExp(`^ {4}lowered +whole_row\\n {4}(${TOKEN}) +(${TOKEN})$`, 'm').exec(stdout);
  assert.ok(escapes, 'lower(email) and row_to_json(c) masked');
  assert.equal(escapes[1], tokens[1], 'lower(email) of customer 2 hashes like its e-mail');
  assert.notEqual(escapes[2], tokens[1]);
}

/** The approver's shell: the stack's control plane and (the file holding) its admin token. */
const EXPORT = / {4}\$ export CHAPERONE_CONTROL_PLANE=http:\/\/127\.0\.0\.1:\d+ CHAPERONE_TOKEN="\$\(cat (\S+)\)"/;

/** Returns the two approval ids: the approved one, the denied one. */
function assertApprovals(stdout: string): [string, string] {
  const held = (text: string, decision: 'approve' | 'deny', state: string, reason: string) => new RegExp([
    `^  ${text.replace(/[()'*]/g, '\\$&')}`,
    ' {4}… held\\. The approver sees the request:',
    // The real CLI's commands and output; before the first, once, the approver's shell is set up for the stack.
    `(?:${EXPORT.source.replace('(\\S+)', '\\S+')}\\n)? {4}\\$ chaperone approvals list --state pending`,
    ' {4}ID +STATE +IDENTITY +CONNECTION +OPERATION +APPROVERS +REQUESTED +DECIDED BY',
    ` {4}(${UUID}) +pending +dev/agent +demo +${text.replace(/[()'*]/g, '\\$&')} +group:dba +\\S+Z`,
    ` {4}\\$ chaperone approvals ${decision} \\1 --reason '${reason}'`,
    ` {4}\\1 ${state} by admin: ${reason}`,
    ' {4}The agent gets:',
  ].join('\n'), 'm');
  const approved = held("DELETE FROM orders WHERE status = 'pending'", 'approve', 'approved', 'cleanup ticket OPS-42').exec(stdout);
  assert.ok(approved, `the held DELETE, listed and approved:\n${stdout}`);
  // It ran, exactly as submitted, inside the transaction the demo rolls back.
  assert.match(stdout, /by admin: cleanup ticket OPS-42\n {4}The agent gets:\n {4}DELETE 20\n\n.*\n.*\n {4}pending\n {4}0\n/);
  assert.match(stdout, /^ {2}ROLLBACK\n {4}ROLLBACK$/m);
  const reason = 'customers are kept for 7 years, open a ticket';
  const denied = held("DELETE FROM customers WHERE country = 'US'", 'deny', 'denied', reason).exec(stdout);
  assert.ok(denied, 'the second DELETE, listed and denied');
  // The agent is told who denied it and why, with the rule and the approval.
  assert.ok(stdout.includes(`The agent gets:\n    ✗ ERROR 42501: statement denied by admin: ${reason}\n      chaperone rule writes-need-a-dba (policy demo-agents), approval ${denied[1]}\n`));
  // Nothing was lost: the rollback undid the approved DELETE, the denied one never ran.
  assert.match(stdout, /The tables are still there:\n.*\n {4}customers +orders\n {4}40 +120$/m);
  return [approved[1]!, denied[1]!];
}

/** Checks the recorded session; returns its id. */
function assertRecord(stdout: string, [approvedId, deniedId]: [string, string]): string {
  const record = stdout.slice(stdout.indexOf('━━ What the control plane recorded'));
  const chain = /^ {2}chain {7}ok, (\d+) records$/m.exec(record);
  assert.ok(chain, `the recorded session with its chain ok:\n${record}`);
  const lines = record.split('\n').filter((l) => /^ {2}# *\d+ /.test(l));
  assert.equal(lines.length, Number(chain[1]), 'every record printed');
  assert.match(lines[0] ?? '', /start +dev\/agent → demo .*application_name=chaperone-demo/);
  assert.match(lines.at(-1) ?? '', /end +client terminated, \d+ statements/);
  assert.match(record, /deny +DROP TABLE customers\n +→ DENIED by no-schema-changes: schema changes are not allowed for agents/);
  assert.match(record, /deny +SELECT \$1; dRoP TABLE "orders"\n +→ DENIED by no-schema-changes/);
  // Masked counts per rule, never the values (literals in recorded text are $n on a masked connection).
  assert.match(record, /allow +SELECT id, name, email, card_number, notes FROM customers .*\n +→ SELECT 4 in [\d.]+ ms; masked cards-partial=4 emails-hashed=4 cards-and-emails-anywhere=2$/m);
  assert.match(record, /allow +SELECT lower\(email\) .*\n +→ SELECT 1 in [\d.]+ ms; masked emails-hashed=2$/m);
  // Both approvals: pending then decided, and the held statements with what they got.
  for (const [id, end] of [[approvedId, 'approved by admin: cleanup ticket OPS-42'], [deniedId, 'denied by admin: customers are kept for 7 years, open a ticket']] as const) {
    assert.match(record, new RegExp(`approval +${id} pending\\n.*approval +${id} ${end}\\n`));
  }
  assert.match(record, new RegExp(`approve +DELETE FROM orders WHERE status = \\$1\\n +→ held by writes-need-a-dba for approval ${approvedId}, then DELETE 20 in`));
  assert.match(record, new RegExp(`approve +DELETE FROM customers WHERE country = \\$1\\n +→ held by writes-need-a-dba for approval ${deniedId}, then error 42501: statement denied by admin`));
  assert.match(stdout, /^Checked: no e-mail or card number reached the agent or the record; both approvals are recorded\.$/m);
  assert.match(stdout, /^Done\. /m);
  const id = /^ {2}session {5}(\S+)$/m.exec(record)?.[1];
  assert.ok(id, 'the session id is printed');
  return id;
}

/** Checks the whole tour; returns the id of the recorded session it printed. */
function assertTour(stdout: string): string {
  assertEnforcement(stdout);
  assertMasking(stdout);
  const ids = assertApprovals(stdout);
  // Not one seeded e-mail or card number, as stored or as quoted in notes, in anything printed.
  for (const value of demoSensitiveValues()) assert.ok(!stdout.includes(value), `an unmasked value in the demo's output: ${value}`);
  return assertRecord(stdout, ids);
}

describe('chaperone demo', () => {
  const dir = tempDir('demo');
  const dataDir = join(dir.path, 'data');
  const env = { XDG_STATE_HOME: join(dir.path, 'state'), XDG_DATA_HOME: join(dir.path, 'xdg-data') };
  const sessions: string[] = [];
  /** The masking part of each run's output: the same rows and tokens every time. */
  const masked: string[] = [];
  const maskingPart = (stdout: string) => stdout.slice(stdout.indexOf('━━ Masking'), stdout.indexOf('━━ Just-in-time'));
  after(() => dir.remove());

  it('runs the tour on a fresh data folder', async () => {
    const r = await runCli(['demo', '--data-dir', dataDir], env);
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    sessions.push(assertTour(r.stdout));
    masked.push(maskingPart(r.stdout));
    // The approver's commands ran with the stack's admin token, from the file the export line names.
    const exports = [...r.stdout.matchAll(new RegExp(EXPORT.source, 'gm'))];
    assert.deepEqual(exports.map((m) => m[1]), [join(dataDir, 'admin-token')]);
    assert.match(r.stderr, /creating and seeding the demo database/);
    // demo does not publish the dev state file, and stops both databases.
    assert.equal(existsSync(join(env.XDG_STATE_HOME, 'chaperone', 'dev.json')), false);
    for (const db of ['demo-db', 'control-plane']) assert.equal(existsSync(join(dataDir, db, 'pg', 'postmaster.pid')), false, `${db} stopped`);
  });

  it('runs again on the same data folder (no re-seed, same rows and tokens, a new session)', async () => {
    const r = await runCli(['demo', '--data-dir', dataDir], env);
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    sessions.push(assertTour(r.stdout));
    assert.equal(maskingPart(r.stdout), masked[0], 'the same masked rows and tokens (the mask key is kept)');
    assert.equal(sessions.length, 2);
    assert.notEqual(sessions[1], sessions[0], 'the second run shows its own session');
    assert.doesNotMatch(r.stderr, /creating and seeding/);
  });
});
