// `chaperone demo` from a fresh data folder and again on the same one: exit 0, the allowed rows,
// the refused DROP with its message and rule, and the recorded session with its chain ok.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, tempDir } from './support.js';

/** Checks the tour's output; returns the id of the recorded session it printed. */
function assertTour(stdout: string, stderr: string): string {
  // The allowed query and its rows (40 customers, 120 orders in the seed).
  assert.match(stdout, /^ {4}customers +orders\n {4}40 +120$/m, stderr);
  assert.match(stdout, /^ {4}country +orders +revenue$/m);
  // The refused DROP, plainly and hidden behind a comment, each with message and rule.
  const refusals = stdout.match(/✗ ERROR 42501: schema changes are not allowed for agents\n {6}chaperone rule no-schema-changes \(policy demo-agents\)/g) ?? [];
  assert.equal(refusals.length, 2, 'both DROPs refused with their message and rule');
  // The tables are still there afterwards.
  assert.match(stdout, /The tables are still there:\n.*\n {4}customers\n {4}40$/m);
  // The recorded session: start, the statements, end; chain ok; the denials named.
  const chain = /^ {2}chain {7}ok, (\d+) records$/m.exec(stdout);
  assert.ok(chain, `the recorded session with its chain ok:\n${stdout}`);
  const records = Number(chain[1]);
  const lines = stdout.split('\n').filter((l) => /^ {2}# *\d+ /.test(l));
  assert.equal(lines.length, records, 'every record printed');
  assert.match(lines[0] ?? '', /start +dev\/agent → demo .*application_name=chaperone-demo/);
  assert.match(lines.at(-1) ?? '', /end +client terminated, \d+ statements/);
  assert.match(stdout, /deny +DROP TABLE customers\n +→ DENIED by no-schema-changes: schema changes are not allowed for agents/);
  assert.match(stdout, /deny +SELECT 1; \/\* harmless \*\/ dRoP TABLE "orders"\n +→ DENIED by no-schema-changes/);
  assert.match(stdout, /approve +DELETE FROM orders WHERE status = 'pending'\n +→ REFUSED, needs approval, by writes-need-a-dba/);
  assert.match(stdout, /^Done\. /m);
  const id = /^ {2}session {5}(\S+)$/m.exec(stdout)?.[1];
  assert.ok(id, 'the session id is printed');
  return id;
}

describe('chaperone demo', () => {
  const dir = tempDir('demo');
  const dataDir = join(dir.path, 'data');
  const env = { XDG_STATE_HOME: join(dir.path, 'state'), XDG_DATA_HOME: join(dir.path, 'xdg-data') };
  const sessions: string[] = [];
  after(() => dir.remove());

  it('runs the tour on a fresh data folder', async () => {
    const r = await runCli(['demo', '--data-dir', dataDir], env);
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    sessions.push(assertTour(r.stdout, r.stderr));
    assert.match(r.stderr, /creating and seeding the demo database/);
    // demo does not publish the dev state file, and stops both databases.
    assert.equal(existsSync(join(env.XDG_STATE_HOME, 'chaperone', 'dev.json')), false);
    for (const db of ['demo-db', 'control-plane']) assert.equal(existsSync(join(dataDir, db, 'pg', 'postmaster.pid')), false, `${db} stopped`);
  });

  it('runs again on the same data folder (no re-seed, same rows, a new session)', async () => {
    const r = await runCli(['demo', '--data-dir', dataDir], env);
    assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    sessions.push(assertTour(r.stdout, r.stderr));
    assert.equal(sessions.length, 2);
    assert.notEqual(sessions[1], sessions[0], 'the second run shows its own session');
    assert.doesNotMatch(r.stderr, /creating and seeding/);
  });
});
