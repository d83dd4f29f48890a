// The `chaperone` command line as a user meets it: `policy check` on good and bad files (exit
// codes, counts, file:line problems, explanations), help and usage errors, operator commands
// without a control plane, and `chaperone control-plane` surviving SIGHUP (policy reload) and
// stopping cleanly on SIGTERM.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort } from '../harness/postgres.js';
import { CliProcess, DEMO_POLICY, eventually, ORDERS_DB_CONNECTION as CONNECTION, runCli, tempDir } from './support.js';
import { accessPolicyYaml } from '../harness/policy-yaml.js';

const POLICY = accessPolicyYaml({
  name: 'support', serviceAccount: { namespace: 'agents', name: 'support-bot' }, connection: 'orders-db',
  rules: [
    '{ action: deny, name: no-ddl, match: { statements: [drop, truncate, alter] }, message: "no schema changes" }',
  ],
});

// Line 11 is the bad action of the second rule.
const BAD_ACTION = `apiVersion: chaperone.dev/v1alpha1
kind: AccessPolicy
metadata: { name: broken }
spec:
  subjects:
    - serviceAccount: { namespace: agents, name: bot }
  connections: [orders-db]
  rules:
    - action: allow
      match: { statements: [select] }
    - action: explode
      match: { statements: [drop] }
`;

describe('chaperone CLI', () => {
  const dir = tempDir('cli');
  const file = (name: string, text: string): string => {
    const path = join(dir.path, name);
    writeFileSync(path, text);
    return path;
  };
  const good = file('good.yaml', `${CONNECTION}---\n${POLICY}`);
  const badAction = file('bad-action.yaml', BAD_ACTION);
  const badYaml = file('bad-yaml.yaml', 'kind: Connection\nmetadata: { name: x\n  spec: [\n');
  // No dev state file, no control-plane variables: operator commands have nothing to talk to.
  const isolated = { XDG_STATE_HOME: join(dir.path, 'state'), CHAPERONE_CONTROL_PLANE: '', CHAPERONE_TOKEN: '' };
  after(() => dir.remove());

  it('policy check on good files: exit 0 with the counts (text and --json)', async () => {
    const r = await runCli(['policy', 'check', good]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, 'ok: 1 connection(s), 1 access polic(ies)\n', '']);
    const demo = await runCli(['policy', 'check', DEMO_POLICY, '--known-connections', 'demo']);
    assert.deepEqual([demo.code, demo.stdout], [0, 'ok: 0 connection(s), 1 access polic(ies)\n'], demo.stderr);
    const json = await runCli(['policy', 'check', good, '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { ok: true, documents: 2 });
  });

  it('policy check on a bad file: exit 1, the problem names file, line and path', async () => {
    const r = await runCli(['policy', 'check', badAction, '--known-connections', 'orders-db']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^${badAction}:11 document 1 spec\\.rules\\[1\\]\\.action: .*"allow".*\n1 problem\\(s\\); nothing was loaded\n$`));
    const json = await runCli(['policy', 'check', badAction, '--known-connections', 'orders-db', '--json']);
    assert.equal(json.code, 1);
    const body = JSON.parse(json.stdout) as { ok: boolean; problems: { file: string; line: number; path: string; document: number }[] };
    assert.equal(body.ok, false);
    assert.deepEqual(body.problems.map((p) => [p.file, p.line, p.path, p.document]), [[badAction, 11, 'spec.rules[1].action', 1]]);
  });

  it('policy check on broken YAML and an unknown connection: exit 1 with file:line', async () => {
    const yaml = await runCli(['policy', 'check', badYaml]);
    assert.equal(yaml.code, 1);
    assert.match(yaml.stderr, new RegExp(`^${badYaml}:2 document 1: `, 'm'));
    assert.match(yaml.stderr, /problem\(s\); nothing was loaded\n$/);
    const unknown = await runCli(['policy', 'check', DEMO_POLICY]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /demo-policy\.yaml:10 document 1 spec\.connections\[0\]: unknown connection "demo"/);
    // A folder: every file's problems, the good file's documents not loaded either.
    const folder = await runCli(['policy', 'check', dir.path]);
    assert.equal(folder.code, 1);
    assert.match(folder.stderr, new RegExp(`^${badAction}:11 `, 'm'));
    assert.match(folder.stderr, new RegExp(`^${badYaml}:2 `, 'm'));
  });

  it('policy check --as --connection explains the rules; --sql says deny with the rule', async () => {
    const base = ['policy', 'check', DEMO_POLICY, '--known-connections', 'demo', '--as', 'dev/agent', '--connection', 'demo'];
    const explain = await runCli(base);
    assert.equal(explain.code, 0, explain.stderr);
    assert.match(explain.stdout, /^identity dev\/agent on connection demo$/m);
    assert.match(explain.stdout, /^policies: demo-agents$/m);
    assert.match(explain.stdout, /1\. deny +no-schema-changes: statements drop, truncate, alter "schema changes are not allowed for agents"/);
    assert.match(explain.stdout, /3\. approve writes-need-a-dba: statements delete, update \(approvers group:dba, timeout 10m\)/);
    assert.match(explain.stdout, /emails-hashed: columns customers\.email → hash\n {2}- cards-partial: columns \*\.card_number → partial, keep 4\n/);
    assert.match(explain.stdout, /^default for anything else: allow/m);

    const drop = await runCli([...base, '--sql', 'drop table x']);
    assert.equal(drop.code, 0, drop.stderr);
    assert.match(drop.stdout, /^decision: deny by rule no-schema-changes of policy demo-agents: schema changes are not allowed for agents$/m);
    assert.match(drop.stdout, /→ deny \(no-schema-changes\)/);

    const select = await runCli([...base, '--sql', 'select 1']);
    assert.match(select.stdout, /^decision: allow by rule default of policy demo-agents$/m);
    const stranger = await runCli(['policy', 'check', good, '--as', 'agents/other', '--connection', 'orders-db']);
    assert.equal(stranger.code, 0, stranger.stderr);
    assert.match(stranger.stdout, /no access policy applies: every statement is denied/);
  });

  it('--help lists every command (exit 0); no command or an unknown one exits 2 with usage', async () => {
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    for (const c of ['control-plane', 'sidecar', 'dev', 'demo', 'policy check', 'sessions list', 'sessions show']) {
      assert.match(help.stdout, new RegExp(`^  ${c} +\\S`, 'm'), `help lists ${c}`);
    }
    const none = await runCli([]);
    assert.equal(none.code, 2);
    assert.match(none.stdout, /usage: chaperone COMMAND/);
    const unknown = await runCli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^chaperone: unknown command "frobnicate"\n/);
    assert.match(unknown.stderr, /usage: chaperone COMMAND/);
  });

  it('usage errors exit 2 and show the usage: unknown flag, missing argument', async () => {
    const flag = await runCli(['sessions', 'list', '--bogus'], isolated);
    assert.equal(flag.code, 2, flag.stderr);
    assert.match(flag.stderr, /Unknown option '--bogus'/);
    assert.match(flag.stderr, /usage: chaperone sessions list/);
    const noFiles = await runCli(['policy', 'check']);
    assert.equal(noFiles.code, 2);
    assert.match(noFiles.stderr, /^usage: chaperone policy check/);
    const noPolicy = await runCli(['dev']);
    assert.equal(noPolicy.code, 2);
    assert.match(noPolicy.stderr, /--policy is required/);
  });

  it('sessions list without a control plane: exit 1 and says how to point at one', async () => {
    const r = await runCli(['sessions', 'list'], isolated);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'chaperone: no control plane: pass --control-plane URL, set CHAPERONE_CONTROL_PLANE, or start `chaperone dev` [CLI_ERR_NO_CONTROL_PLANE]\n');
    const port = await freePort(); // nothing listens there
    const down = await runCli(['sessions', 'show', 'some-id', '--control-plane', `http://127.0.0.1:${port}`], isolated);
    assert.equal(down.code, 1);
    assert.match(down.stderr, new RegExp(`^chaperone: control plane at http://127\\.0\\.0\\.1:${port} is unreachable: .*\\[CLI_ERR_UNREACHABLE\\]\n$`));
  });

  it('control-plane reloads policies on SIGHUP and keeps running; SIGTERM stops it with exit 0', async () => {
    const policyDir = join(dir.path, 'policies');
    mkdirSync(policyDir);
    writeFileSync(join(policyDir, 'connection.yaml'), CONNECTION);
    writeFileSync(join(policyDir, 'policy.yaml'), POLICY);
    const port = await freePort();
    const dataDir = join(dir.path, 'cp-data');
    const cp = CliProcess.start(['control-plane', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--policy', policyDir, '--log-level', 'info'], isolated);
    try {
      await eventually('the control plane listening', () => cp.stderr.includes(`listening on http://127.0.0.1:${port}`) || (!cp.running && Promise.reject(new Error(cp.stderr))), 180_000);
      writeFileSync(join(policyDir, 'policy.yaml'), POLICY.replace('no schema changes', 'no schema changes, ever'));
      cp.child.kill('SIGHUP');
      await eventually('"policies reloaded" with a change after SIGHUP', () => /"changed":true[^\n]*"msg":"policies reloaded"/.test(cp.stdout + cp.stderr) || !cp.running, 30_000);
      assert.ok(cp.running, `the control plane must survive SIGHUP:\n${cp.stderr}`);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
      const exit = await cp.stop('SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, cp.stderr);
      assert.equal(existsSync(join(dataDir, 'pg', 'postmaster.pid')), false, 'the embedded store stopped');
    } finally {
      if (cp.running) await cp.stop('SIGKILL');
    }
  });
});
