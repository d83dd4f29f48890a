// SSH exec through the sidecar with the real OpenSSH client and sshd: allowed commands run with
// their streams and exit statuses; denied ones (however hidden) never reach the target.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { CommandEvent } from '@chaperone/core/records/types';
import { spawn } from 'node:child_process';
import type { Approval } from '@chaperone/core/api';
import { ADMIN_TOKEN, BOX, CLIENT_OPTIONS, DENY_MESSAGE, DOWN, WRONG_KEY, decide, eventually, pendingApproval, startStack } from './support.js';
import type { Stack } from './support.js';

let s: Stack;
before(async () => { s = await startStack(); });
after(async () => { await s?.stop(); });

test('an allowed command runs: stdout, stderr, stdin and the exit status pass through', async () => {
  const r = await s.ssh(BOX, ['echo out; echo err >&2; cat; exit 7'], { input: 'from stdin\n' });
  assert.equal(r.stdout, 'out\nfrom stdin\n');
  assert.equal(r.stderr, 'err\n');
  assert.equal(r.code, 7);
});

test('a signal ends the command as it does without the sidecar', async () => {
  const direct = await s.sshDirect(['kill -TERM $$']);
  const through = await s.ssh(BOX, ['kill -TERM $$']);
  assert.equal(through.code, direct.code);
  const event = await eventually('the killed command record', async () =>
    (await s.events(BOX)).find((e): e is CommandEvent => e.type === 'command' && e.command === 'kill -TERM $$' && e.signal !== undefined));
  assert.equal(event.signal, 'TERM');
});

test('env requests: locale passes, LD_PRELOAD is dropped even when the target would accept it', async () => {
  const args = ['-o', 'SetEnv=LC_CHAPERONE=yes LD_PRELOAD=/nonexistent.so', 'echo "[$LC_CHAPERONE][$LD_PRELOAD]"'];
  const direct = await s.sshDirect(args);
  assert.match(direct.stderr + direct.stdout, /LD_PRELOAD|nonexistent/, 'the test sshd accepts LD_PRELOAD');
  const r = await s.ssh(BOX, args);
  assert.equal(r.stdout, '[yes][]\n');
  assert.equal(r.code, 0);
});

test('denied commands, plain or hidden, exit 126 with one line on stderr and never run', async () => {
  const victim = join(s.sshd.dir, 'victim');
  await writeFile(victim, 'keep me');
  const attempts = [
    `rm -f ${victim}`,
    `/bin/rm -f ${victim}`,
    `echo ok && r''m -f ${victim}`,
    `true; "r"m -f ${victim}`,
    `sh -c 'rm -f ${victim}'`,
    `bash -c "sudo rm -f ${victim}"`,
    `env -i X=1 rm -f ${victim}`,
    `echo ${victim} | xargs rm -f`,
    `(cd /; rm -f ${victim})`,
    `echo $(rm -f ${victim})`,
    `X=rm; $X -f ${victim}`,
    `find ${victim} -exec rm {} \\;`,
    `timeout 5 nice rm -f ${victim}`,
    `bash <<EOF\nrm -f ${victim}\nEOF`,
    `eval "rm -f ${victim}"`,
  ];
  for (const command of attempts) {
    const r = await s.ssh(BOX, [command]);
    assert.equal(r.code, 126, `${command}: ${r.stderr}`);
    assert.equal(r.stdout, '', command);
    assert.match(r.stderr, /^chaperone: denied: .+\n$/, command);
    assert.ok(existsSync(victim), `${command} removed the file`);
  }
  const plain = await s.ssh(BOX, [`rm -f ${victim}`]);
  assert.ok(plain.stderr.includes(DENY_MESSAGE), plain.stderr);
  const restart = await s.ssh(BOX, ['systemctl restart nginx']);
  assert.equal(restart.code, 126);
  const status = await s.ssh(BOX, ['echo systemctl status nginx']);
  assert.equal(status.code, 0);
});

test('held commands run once approved and are refused when denied', async () => {
  const marker = join(s.sshd.dir, 'held-approved');
  const command = `touch ${marker}`;
  const running = s.ssh(BOX, [command]);
  const approval = await pendingApproval(s.cp, command);
  assert.equal(existsSync(marker), false);
  await decide(s.cp, approval.id, 'approve');
  const r = await running;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(marker));

  const refused = join(s.sshd.dir, 'held-denied');
  const second = s.ssh(BOX, [`touch ${refused}`]);
  await decide(s.cp, (await pendingApproval(s.cp, `touch ${refused}`)).id, 'deny', 'not today');
  const d = await second;
  assert.equal(d.code, 126);
  assert.match(d.stderr, /^chaperone: denied: touching held files needs an SRE: denied by .+ \(not today\)\n$/);
  assert.equal(existsSync(refused), false);
});

test('an agent that disconnects while its command is held withdraws the approval; nothing runs', async () => {
  const marker = join(s.sshd.dir, 'held-withdrawn');
  const command = `touch ${marker}`;
  const client = spawn('/usr/bin/ssh', ['-p', String(s.port(BOX)), ...CLIENT_OPTIONS, 'agent@127.0.0.1', command], { stdio: 'ignore' });
  const exited = new Promise((r) => client.once('exit', r));
  const approval = await pendingApproval(s.cp, command);
  client.kill('SIGKILL');
  await exited;
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const withdrawn = await eventually('the approval withdrawn', async () => {
    const res = await s.cp.app.inject({ method: 'GET', url: `/v1/approvals/${approval.id}`, headers: auth });
    const a = res.json() as Approval;
    return a.state === 'withdrawn' ? a : undefined;
  });
  assert.equal(withdrawn.state, 'withdrawn');
  // An approver arriving late cannot start it any more.
  const late = await s.cp.app.inject({ method: 'POST', url: `/v1/approvals/${approval.id}/decision`, headers: auth, payload: { decision: 'approve', reason: 'too late' } });
  assert.notEqual(late.statusCode, 200, late.body);
  const recorded = await eventually('the withdrawn command record', async () =>
    (await s.events(BOX)).find((e): e is CommandEvent => e.type === 'command' && e.command === command));
  assert.equal(recorded.exitStatus, 126);
  assert.equal(recorded.approval, approval.id);
  const states = (await s.events(BOX)).filter((e) => e.type === 'approval' && e.id === approval.id).map((e) => e.type === 'approval' && e.state);
  assert.deepEqual(states, ['pending', 'withdrawn']);
  assert.equal(existsSync(marker), false);
});

test('a changed host key refuses the session before anything reaches the target', async () => {
  const marker = join(s.sshd.dir, 'wrong-key-ran');
  const r = await s.ssh(WRONG_KEY, [`touch ${marker}`]);
  assert.equal(r.code, 255);
  assert.match(r.stderr, /chaperone: host key verification failed for 127\.0\.0\.1:\d+: it presented SHA256:\S+, the connection expects SHA256:\S+ \(ssh-ed25519\)/);
  assert.equal(existsSync(marker), false);
});

test('a target that is down gives a clear error', async () => {
  const r = await s.ssh(DOWN, ['true']);
  assert.equal(r.code, 255);
  assert.match(r.stderr, /chaperone: cannot reach the target 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
});

test('commands are recorded in the control plane with their decisions and exit statuses', async () => {
  const r = await s.ssh(BOX, ['echo recorded; exit 3']);
  assert.equal(r.code, 3);
  await s.ssh(BOX, ['shutdown -h now']);
  const events = await eventually('command records', async () => {
    const all = await s.events(BOX);
    const ok = all.find((e): e is CommandEvent => e.type === 'command' && e.command === 'echo recorded; exit 3');
    const denied = all.find((e): e is CommandEvent => e.type === 'command' && e.command === 'shutdown -h now');
    return ok && denied ? { all, ok, denied } : undefined;
  });
  assert.deepEqual(events.ok.programs, ['echo', 'exit']);
  assert.equal(events.ok.exitStatus, 3);
  assert.equal(events.ok.decision.action, 'allow');
  assert.deepEqual(events.denied.decision, { action: 'deny', policy: 'agents-ssh', rule: 'agents-ssh#0', message: DENY_MESSAGE });
  assert.equal(events.denied.exitStatus, 126);
  const start = events.all.find((e) => e.type === 'session.start');
  assert.equal(start?.type === 'session.start' && start.protocol, 'ssh');
  assert.ok(events.all.some((e) => e.type === 'session.end'));
  const metrics = await fetch(`http://127.0.0.1:${s.sidecar.adminPort}/metrics`).then((res) => res.text());
  assert.match(metrics, /chaperone_sidecar_statements_total\{protocol="ssh",connection="box",decision="deny"\} [1-9]/);
  assert.match(metrics, /chaperone_sidecar_rule_decisions_total\{protocol="ssh",connection="box",decision="deny",rule="agents-ssh#0"\} [1-9]/);
  assert.match(metrics, /chaperone_sidecar_bytes_total\{protocol="ssh",connection="box",direction="out"\} [1-9]/);
  assert.match(metrics, /chaperone_sidecar_connections_total\{protocol="ssh",connection="box"\} [1-9]/);
});

test('a policy update reaches the running listener: the next command is decided by the new rules', async () => {
  const before = await s.ssh(BOX, ['uname -s']);
  assert.equal(before.code, 0);
  const docs = structuredClone(s.docs);
  const policy = docs.find((d) => d.kind === 'AccessPolicy' && d.metadata.name === 'agents-ssh');
  assert.ok(policy?.kind === 'AccessPolicy');
  policy.spec.rules.unshift({ action: 'deny', match: { commands: ['uname'] }, message: 'no uname today' });
  await s.cp.setDocs(docs);
  try {
    const after = await eventually('the new rule in force', async () => {
      const r = await s.ssh(BOX, ['uname -s']);
      return r.code === 126 ? r : undefined;
    });
    assert.equal(after.stderr, 'chaperone: denied: no uname today\n');
  } finally {
    await s.cp.setDocs(s.docs);
  }
});
