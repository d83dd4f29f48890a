// `chaperone policy check --command` as a user meets it: a command line on an SSH connection
// explained command by command, with the decision the sidecar would take; usage errors.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, tempDir } from './support.js';

const DOCS = `apiVersion: chaperone.dev/v1alpha1
kind: Connection
metadata: { name: web-1 }
spec:
  type: ssh
  target: { host: web-1.internal, port: 22, user: ops, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl" }
  credentials: { secretRef: { name: web-1-key } }
  listen: { port: 2222 }
---
apiVersion: chaperone.dev/v1alpha1
kind: AccessPolicy
metadata: { name: ops-agents }
spec:
  subjects: [{ serviceAccount: { namespace: agents, name: ops-bot } }]
  connections: [web-1]
  rules:
    - { name: no-rm, action: deny, match: { commands: [rm] }, message: "no deletes" }
    - { action: allow, match: { commands: [ls, grep, "systemctl status *"] } }
  default: deny
`;

describe('policy check --command', () => {
  const dir = tempDir('policy-shell');
  after(() => dir.remove());
  const file = join(dir.path, 'web.yaml');
  writeFileSync(file, DOCS);
  const base = ['policy', 'check', file, '--as', 'agents/ops-bot', '--connection', 'web-1'];

  it('names the hidden rm and the rule that denies it', async () => {
    const r = await runCli([...base, '--command', "ls /srv | sudo sh -c 'r\"\"m -rf /srv/cache'"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^decision: deny by rule no-rm of policy ops-agents: no deletes$/m);
    assert.match(r.stdout, /^command 4: rm -rf \/srv\/cache$/m);
    const json = await runCli([...base, '--command', 'systemctl status nginx | grep active', '--json']);
    const parsed = JSON.parse(json.stdout) as { decision: { action: string; programs: string[] } };
    assert.deepEqual(parsed.decision, { action: 'allow', policy: 'ops-agents', rule: 'ops-agents#1', programs: ['systemctl', 'grep'] });
  });

  it('lists the shell rules of an ssh connection; --sql with --command is a usage error', async () => {
    const rules = await runCli(base);
    assert.match(rules.stdout, /^ {2}1\. deny {4}no-rm: commands rm "no deletes"$/m);
    assert.match(rules.stdout, /^port and agent forwarding: denied unless a rule allows the operation$/m);
    const both = await runCli([...base, '--sql', 'select 1', '--command', 'ls']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--command LINE/);
  });
});
